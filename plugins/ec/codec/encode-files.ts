// Striping a .dat into shard files and regenerating missing shard files, synchronously (or with
// the writes overlapped): these run in a worker thread (encode-pool.ts), never on the event loop.
// Memory is bounded by one buffer per shard (two when the writes are overlapped): 256 KiB for an
// encode (Go's WriteEcFiles; every block size is whole MiB, so it divides them, and the buffers
// stay cache-resident between read, encode, write and checksum: measured faster than 1 MiB),
// 1 MiB for a rebuild (Go's rebuildEcFiles).
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ShardChecksumBuilder } from '../../../core/storage/ec-sum.js';
import { stripeRows, type BlockLayout, type StripeRow } from './layout.js';
import { ReedSolomon } from './reed-solomon.js';

export const ENCODE_BUFFER_SIZE = 256 * 1024;
export const REBUILD_BUFFER_SIZE = 1024 * 1024;

function readFullAt(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function writeFull(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export interface EncodeJob {
  datPath: string;
  /** Output paths, D + P of them, shard order. */
  shardPaths: string[];
  dataShards: number;
  parityShards: number;
  /** The .dat size to encode (a snapshot; bytes appended later are ignored). */
  datSize: number;
  layout: BlockLayout;
}

/** Per shard: the length written and its packed per-block CRC-32C, for the `.ecsum` sidecar. */
export interface ShardChecksums {
  coveredSize: number;
  blockCrc32c: Buffer;
}

/** Each batch of the encode: a stripe row and the offset inside its blocks, in shard order. */
function* batches(job: EncodeJob): Generator<{ row: StripeRow; b: number; lastOfRow: boolean }> {
  for (const row of stripeRows(job.datSize, job.dataShards, job.layout)) {
    for (let b = 0; b < row.blockSize; b += ENCODE_BUFFER_SIZE) yield { row, b, lastOfRow: b + ENCODE_BUFFER_SIZE >= row.blockSize };
  }
}

/** Where data buffer i of a batch comes from in the .dat, and how much of it exists. */
function dataSpan(job: EncodeJob, row: StripeRow, b: number, i: number): { pos: number; want: number } {
  const pos = row.datOffset + row.blockSize * i + b;
  // Past the snapshot size reads as zeros, like past the end of the file.
  return { pos, want: Math.max(0, Math.min(ENCODE_BUFFER_SIZE, job.datSize - pos)) };
}

/** Reads a batch's D data buffers (zero-padded). */
function readBatch(dat: number, job: EncodeJob, buffers: Uint8Array[], row: StripeRow, b: number): void {
  for (let i = 0; i < job.dataShards; i++) {
    const { pos, want } = dataSpan(job, row, b, i);
    const n = want > 0 ? readFullAt(dat, buffers[i].subarray(0, want), pos) : 0;
    if (n < ENCODE_BUFFER_SIZE) buffers[i].fill(0, n);
  }
}

/** readBatch on libuv's thread pool. */
async function readBatchAsync(dat: FileHandle, job: EncodeJob, buffers: Uint8Array[], row: StripeRow, b: number): Promise<void> {
  await Promise.all(
    Array.from({ length: job.dataShards }, async (_, i) => {
      const { pos, want } = dataSpan(job, row, b, i);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await dat.read(buffers[i], got, want - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < ENCODE_BUFFER_SIZE) buffers[i].fill(0, got);
    }),
  );
}

/** Computes a batch's P parity buffers and checksums all its buffers. */
function encodeBatch(rs: ReedSolomon, buffers: Uint8Array[], sums: ShardChecksumBuilder[]): void {
  rs.encode(buffers);
  for (let i = 0; i < buffers.length; i++) sums[i].write(buffers[i]);
}

// No fsync of the shards, as Go's generateEcFiles: the .dat stays until the shards are spread and
// mounted elsewhere, and a shard the page cache lost in a crash fails its .ecsum block checksums.
// A flush of every shard was most of a small volume's encode time.

/**
 * Go's encodeDatFile: every row of the stripe, D data blocks read (zero-padded), P parity computed.
 * Each shard's block checksums are taken over exactly the bytes written (Go's shardChecksumBuilder).
 */
export function encodeDatFile(
  job: EncodeJob,
  rs = new ReedSolomon(job.dataShards, job.parityShards),
  onProgress?: (datBytesDone: number) => void,
): ShardChecksums[] {
  const total = job.dataShards + job.parityShards;
  const buffers = Array.from({ length: total }, () => new Uint8Array(ENCODE_BUFFER_SIZE));
  const sums = Array.from({ length: total }, () => new ShardChecksumBuilder());
  const dat = openSync(job.datPath, 'r');
  const outs: number[] = [];
  try {
    for (const p of job.shardPaths) outs.push(openSync(p, 'w', 0o644));
    for (const { row, b, lastOfRow } of batches(job)) {
      readBatch(dat, job, buffers, row, b);
      encodeBatch(rs, buffers, sums);
      for (let i = 0; i < total; i++) writeFull(outs[i], buffers[i]);
      if (lastOfRow) onProgress?.(Math.min(job.datSize, row.datOffset + row.blockSize * job.dataShards));
    }
  } finally {
    for (const fd of outs) closeSync(fd);
    closeSync(dat);
  }
  return sums.map((b) => b.finish());
}

async function writeFullAt(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, position + off)).bytesWritten;
}

/**
 * encodeDatFile with the I/O overlapped: while this thread encodes and checksums one batch, the
 * other buffer set is written out and then refilled with the batch after, both on libuv's thread
 * pool. Same bytes out; memory is two buffer sets.
 */
export async function encodeDatFileOverlapped(
  job: EncodeJob,
  rs = new ReedSolomon(job.dataShards, job.parityShards),
  onProgress?: (datBytesDone: number) => void,
): Promise<ShardChecksums[]> {
  const total = job.dataShards + job.parityShards;
  const sets = [0, 1].map(() => Array.from({ length: total }, () => new Uint8Array(ENCODE_BUFFER_SIZE)));
  const sums = Array.from({ length: total }, () => new ShardChecksumBuilder());
  const list = [...batches(job)];
  const dat = await open(job.datPath, 'r');
  const outs: FileHandle[] = [];
  // Per set: its pending I/O (the last batch's writes, then the next batch's reads).
  const io: Promise<unknown>[] = [];
  const track = (set: number, p: Promise<unknown>) => {
    // Awaited later; a failure meanwhile is not an unhandled rejection.
    p.catch(() => undefined);
    io[set] = p;
  };
  const read = (set: number, k: number) => readBatchAsync(dat, job, sets[set], list[k].row, list[k].b);
  try {
    for (const p of job.shardPaths) outs.push(await open(p, 'w', 0o644));
    for (let k = 0; k < Math.min(2, list.length); k++) track(k, read(k, k));
    for (let k = 0; k < list.length; k++) {
      const set = k & 1;
      await io[set];
      const buffers = sets[set];
      encodeBatch(rs, buffers, sums);
      const shardPos = k * ENCODE_BUFFER_SIZE;
      const writes = Promise.all(outs.map((fh, i) => writeFullAt(fh, buffers[i], shardPos)));
      // The set is refilled only once its writes are out.
      track(set, k + 2 < list.length ? writes.then(() => read(set, k + 2)) : writes);
      const { row, lastOfRow } = list[k];
      if (lastOfRow) onProgress?.(Math.min(job.datSize, row.datOffset + row.blockSize * job.dataShards));
    }
    for (const p of io) await p;
  } finally {
    // Never close a file with I/O still in flight.
    await Promise.allSettled(io);
    for (const fh of outs) await fh.close().catch(() => undefined);
    await dat.close().catch(() => undefined);
  }
  return sums.map((b) => b.finish());
}

export interface RebuildJob {
  dataShards: number;
  parityShards: number;
  /** Per shard id: the path of a present input, or undefined when missing. */
  inputs: (string | undefined)[];
  /** Per missing shard id: where to write it. */
  outputs: Record<number, string>;
  /**
   * With a `.ecsum` block size: the per-block CRC-32C of every shard read and every shard written
   * are taken in the same pass, so the caller checks the inputs and the outputs against the
   * sidecar without reading any shard a second time.
   */
  checksumBlockSize?: number;
}

/**
 * Go's rebuildEcFiles: regenerates every missing shard from D present ones, 1 MiB at a time.
 * Returns, per shard id, the checksums of the bytes read (inputs) or written (outputs) when the
 * job asks for them, else an empty array.
 */
export function rebuildShardFiles(
  job: RebuildJob,
  rs = new ReedSolomon(job.dataShards, job.parityShards),
  onProgress?: (shardBytesDone: number) => void,
): (ShardChecksums | undefined)[] {
  const total = job.dataShards + job.parityShards;
  const buffers = Array.from({ length: total }, () => new Uint8Array(REBUILD_BUFFER_SIZE));
  const present = job.inputs.map((p) => p !== undefined);
  const fds: (number | undefined)[] = [];
  const outFds = new Map<number, number>();
  const bs = job.checksumBlockSize;
  const sums: (ShardChecksumBuilder | undefined)[] = [];
  try {
    let size = -1;
    for (let i = 0; i < total; i++) {
      const p = job.inputs[i];
      fds.push(p === undefined ? undefined : openSync(p, 'r'));
      const fd = fds[i];
      if (fd !== undefined) {
        const s = fstatSync(fd).size;
        if (size >= 0 && s !== size) throw new Error(`ec shard size expected ${size} actual ${s}`);
        size = s;
      }
    }
    if (size < 0) throw new Error('no input shards');
    for (const [id, p] of Object.entries(job.outputs)) outFds.set(Number(id), openSync(p, 'w', 0o644));
    if (bs) for (let i = 0; i < total; i++) sums.push(fds[i] !== undefined || outFds.has(i) ? new ShardChecksumBuilder(bs) : undefined);
    for (let pos = 0; pos < size; pos += REBUILD_BUFFER_SIZE) {
      const len = Math.min(REBUILD_BUFFER_SIZE, size - pos);
      for (let i = 0; i < total; i++) {
        const fd = fds[i];
        if (fd === undefined) continue;
        const n = readFullAt(fd, buffers[i].subarray(0, len), pos);
        if (n !== len) throw new Error(`ec shard ${i} short read at ${pos}`);
      }
      rs.reconstruct(buffers, present, 0, len);
      for (const [id, fd] of outFds) writeFull(fd, buffers[id].subarray(0, len));
      if (bs) for (let i = 0; i < total; i++) sums[i]?.write(buffers[i].subarray(0, len));
      onProgress?.(pos + len);
    }
    for (const fd of outFds.values()) fsyncSync(fd);
  } finally {
    for (const fd of fds) if (fd !== undefined) closeSync(fd);
    for (const fd of outFds.values()) closeSync(fd);
  }
  return sums.map((b) => b?.finish());
}

async function readFullAtAsync(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * rebuildShardFiles with the I/O overlapped, as encodeDatFileOverlapped: while this thread
 * reconstructs and checksums one step, the other buffer set's outputs are written and its next
 * inputs read on libuv's thread pool. Same bytes and checksums out; memory is two buffer sets.
 */
export async function rebuildShardFilesOverlapped(
  job: RebuildJob,
  rs = new ReedSolomon(job.dataShards, job.parityShards),
  onProgress?: (shardBytesDone: number) => void,
): Promise<(ShardChecksums | undefined)[]> {
  const total = job.dataShards + job.parityShards;
  const present = job.inputs.map((p) => p !== undefined);
  const ins: (FileHandle | undefined)[] = [];
  const outs = new Map<number, FileHandle>();
  const bs = job.checksumBlockSize;
  const sums: (ShardChecksumBuilder | undefined)[] = [];
  const io: Promise<unknown>[] = [];
  const track = (set: number, p: Promise<unknown>) => {
    // Awaited later; a failure meanwhile is not an unhandled rejection.
    p.catch(() => undefined);
    io[set] = p;
  };
  try {
    let size = -1;
    for (let i = 0; i < total; i++) {
      const p = job.inputs[i];
      const fh = p === undefined ? undefined : await open(p, 'r');
      ins.push(fh);
      if (fh) {
        const s = (await fh.stat()).size;
        if (size >= 0 && s !== size) throw new Error(`ec shard size expected ${size} actual ${s}`);
        size = s;
      }
    }
    if (size < 0) throw new Error('no input shards');
    for (const [id, p] of Object.entries(job.outputs)) outs.set(Number(id), await open(p, 'w', 0o644));
    if (bs) for (let i = 0; i < total; i++) sums.push(ins[i] || outs.has(i) ? new ShardChecksumBuilder(bs) : undefined);
    const sets = [0, 1].map(() => Array.from({ length: total }, () => new Uint8Array(REBUILD_BUFFER_SIZE)));
    const steps = Math.ceil(size / REBUILD_BUFFER_SIZE);
    const span = (k: number) => ({ pos: k * REBUILD_BUFFER_SIZE, len: Math.min(REBUILD_BUFFER_SIZE, size - k * REBUILD_BUFFER_SIZE) });
    const read = (set: number, k: number) => {
      const { pos, len } = span(k);
      return Promise.all(
        ins.map(async (fh, i) => {
          if (!fh) return;
          if ((await readFullAtAsync(fh, sets[set][i].subarray(0, len), pos)) !== len) throw new Error(`ec shard ${i} short read at ${pos}`);
        }),
      );
    };
    for (let k = 0; k < Math.min(2, steps); k++) track(k, read(k, k));
    for (let k = 0; k < steps; k++) {
      const set = k & 1;
      await io[set];
      const buffers = sets[set];
      const { pos, len } = span(k);
      rs.reconstruct(buffers, present, 0, len);
      const writes = Promise.all([...outs].map(([id, fh]) => writeFullAt(fh, buffers[id].subarray(0, len), pos)));
      // The writes only read the buffers: the checksums are taken meanwhile, and the set is
      // refilled only once its writes are out.
      track(set, k + 2 < steps ? writes.then(() => read(set, k + 2)) : writes);
      if (bs) for (let i = 0; i < total; i++) sums[i]?.write(buffers[i].subarray(0, len));
      onProgress?.(pos + len);
    }
    for (const p of io) await p;
    for (const fh of outs.values()) await fh.sync();
  } finally {
    // Never close a file with I/O still in flight.
    await Promise.allSettled(io);
    for (const fh of ins) await fh?.close().catch(() => undefined);
    for (const fh of outs.values()) await fh.close().catch(() => undefined);
  }
  return sums.map((b) => b?.finish());
}
