// Vacuum (compaction) of one volume, storage-format.md §9: garbage ratio, compact by index into
// .cpd/.cpx, crash-safe commit with the .cpc marker, cleanup, and the load-time reconciliation of
// an interrupted commit.
//
// Concurrency. Compaction copies from a snapshot of the index taken under the volume's write
// mutex (the .idx length then, and the records those rows point to, never change: both files are
// append-only), with its own read handles, so the volume keeps serving reads and writes while it
// runs. Commit holds the write mutex only for the short catch-up: the index rows appended since
// the snapshot (writes, overwrites, deletes made during the compaction) are replayed into the
// compacted files, the .cpc marker is written, the files are renamed into place and the volume
// swaps to the new files in one synchronous step. Reads never wait: until the swap they use the
// old handles (the renamed-over inodes stay readable), after it the new ones.
import { constants as fsConstants } from 'node:fs';
import { access, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { diskStatus } from './disk-status.js';
import { preadUpTo, pwriteFull } from './file-io.js';
import { walkIndexFile, writeIdxEntryHL } from './idx.js';
import { decodeNeedle, encodeNeedle, hasTtl, newNeedle, type Needle } from './needle.js';
import { NeedleMap } from './needle-map.js';
import { StorageError, StorageIoError } from './storage-errors.js';
import { SUPER_BLOCK_SIZE, SuperBlock } from './super-block.js';
import {
  NEEDLE_PADDING_SIZE,
  actualSize,
  indexEntrySize,
  maxPossibleVolumeSize,
  needleIdHi,
  needleIdLo,
  readU16,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';
import type { Volume } from './volume.js';

/** Cookie of the tombstones commit synthesizes for deletes made during a compaction (as Go). */
export const COMPACT_TOMBSTONE_COOKIE = 0x12345678;

// ------------------------------------------------------------------------------------------------
// per-volume compaction state

interface CompactionState {
  /** Go's isCompactionInProgress: one compaction or commit at a time. */
  inProgress: boolean;
  /** .idx length when the last compaction started (rows after it are replayed at commit). */
  lastCompactIndexOffset: number;
  /** Super block compaction revision when the last compaction started. */
  lastCompactRevision: number;
}

const states = new WeakMap<Volume, CompactionState>();

function stateOf(v: Volume): CompactionState {
  let s = states.get(v);
  if (!s) {
    s = { inProgress: false, lastCompactIndexOffset: 0, lastCompactRevision: 0 };
    states.set(v, s);
  }
  return s;
}

/** True while a compaction or a commit of this volume runs. */
export function isCompacting(v: Volume): boolean {
  return states.get(v)?.inProgress ?? false;
}

// ------------------------------------------------------------------------------------------------
// garbage ratio and space check

/** Go's garbageLevel (§9.1): deleted bytes / content bytes, with the .sdx special case. */
export function garbageLevel(v: Volume): number {
  const content = v.contentSize();
  if (content === 0) return 0;
  let deleted = v.deletedSize();
  let total = content;
  if (v.deletedCount() > 0 && deleted === 0) {
    // an index converted back from .sdx carries no deleted sizes
    total = v.datFileSize();
    deleted = total - content - SUPER_BLOCK_SIZE;
  }
  return deleted / total;
}

function withHeadroom(n: number): number {
  return n + Math.floor(n / 16);
}

/** Go's compactionSpaceNeeded: bytes the new .dat and .idx will take (estimates, capped). */
export function compactionSpaceNeeded(v: Volume, preallocate = 0): { dataBytes: number; indexBytes: number } {
  let dataBytes = v.datFileSize();
  let indexBytes = v.idxFileSize();
  const liveCount = v.fileCount() - v.deletedCount();
  const liveContent = v.contentSize() - v.deletedSize();
  const deletedSizeKnown = v.deletedCount() === 0 || v.deletedSize() > 0;
  if (deletedSizeKnown && liveCount >= 0 && liveContent >= 0) {
    const perNeedle = actualSize(0, v.version) + NEEDLE_PADDING_SIZE;
    const d = withHeadroom(SUPER_BLOCK_SIZE + liveContent + liveCount * perNeedle);
    if (d < dataBytes) dataBytes = d;
    const i = withHeadroom(liveCount * indexEntrySize(v.offsetWidth));
    if (i < indexBytes) indexBytes = i;
  }
  if (preallocate > dataBytes) dataBytes = preallocate;
  return { dataBytes, indexBytes };
}

/** Go's ensureCompactVolumeSpace; `freeBytes` is replaceable for tests. */
export async function ensureCompactionSpace(
  v: Volume,
  preallocate = 0,
  freeBytes: (dir: string) => number = (dir) => diskStatus(dir).free,
): Promise<void> {
  const { dataBytes, indexBytes } = compactionSpaceNeeded(v, preallocate);
  const check = (dir: string, needed: number) => {
    const free = freeBytes(dir);
    if (free < needed) {
      throw new StorageError(
        'INSUFFICIENT_SPACE',
        `insufficient free space for compaction in ${dir}: need ${needed} bytes (data: ${dataBytes}, index: ${indexBytes}, ` +
          `current volume: ${v.datFileSize()}, current index: ${v.idxFileSize()}), but only ${free} bytes available: insufficient free space`,
      );
    }
  };
  if (v.idxDir === v.dir) return check(v.dir, dataBytes + indexBytes);
  let same = true;
  try {
    same = (await stat(v.dir)).dev === (await stat(v.idxDir)).dev;
  } catch {
    same = true;
  }
  if (!same) {
    check(v.dir, dataBytes);
    return check(v.idxDir, indexBytes);
  }
  check(v.dir, dataBytes + indexBytes);
  check(v.idxDir, indexBytes);
}

// ------------------------------------------------------------------------------------------------
// helpers

/** Go's WriteThrottler: sleeps so that the bytes written stay near `bytesPerSecond`. */
export class WriteThrottler {
  private counter = 0;
  private lastCheck = Date.now();

  constructor(private readonly bytesPerSecond: number) {}

  async maybeSlowdown(delta: number): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    this.counter += delta;
    const now = Date.now();
    if (now - this.lastCheck > 100) {
      const over = this.counter - this.bytesPerSecond / 10;
      if (over > 0) {
        const ms = Math.floor((over / this.bytesPerSecond) * 1000);
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      }
      this.counter = 0;
      this.lastCheck = Date.now();
    }
  }
}

/** Appends records to a file through a buffer; `pos` is the file offset of the next byte. */
class BufferedAppender {
  private buf = Buffer.allocUnsafe(1024 * 1024);
  private used = 0;
  private flushedTo: number;

  constructor(
    private readonly fh: FileHandle,
    start: number,
  ) {
    this.flushedTo = start;
  }

  get pos(): number {
    return this.flushedTo + this.used;
  }

  async write(b: Uint8Array): Promise<void> {
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      await pwriteFull(this.fh, b, 0, b.length, this.flushedTo);
      this.flushedTo += b.length;
      return;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await pwriteFull(this.fh, this.buf, 0, this.used, this.flushedTo);
    this.flushedTo += this.used;
    this.used = 0;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** fsyncs a directory so renames/creates/unlinks in it are durable (unopenable dirs tolerated). */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EBADF') throw new StorageIoError(`sync dir ${dir}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** A short read: the record runs past the end of the file (Go's io.EOF, a skippable error). */
class ShortReadError extends StorageIoError {}

function isSkippableReadError(e: unknown): boolean {
  if (e instanceof ShortReadError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SIZE_MISMATCH' || code === 'NEEDLE_CORRUPTED' || code === 'CRC_MISMATCH';
}

async function readExact(fh: FileHandle, len: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  const got = await preadUpTo(fh, buf, 0, len, position);
  if (got < len) throw new ShortReadError(got === 0 ? 'EOF' : 'unexpected EOF');
  return buf;
}

/** Go's Needle.ReadData: whole record, CRC verified, 4-byte offset wrap retry. */
async function readNeedleAt(fh: FileHandle, offset: number, size: Size, version: Version, width: OffsetWidth): Promise<Needle> {
  const len = actualSize(size, version);
  const buf = await readExact(fh, len, offset);
  try {
    return decodeNeedle(buf, version, { expectedSize: size });
  } catch (e) {
    const max = maxPossibleVolumeSize(width);
    if ((e as { code?: string }).code !== 'SIZE_MISMATCH' || width !== 4 || offset >= max) throw e;
    return decodeNeedle(await readExact(fh, len, offset + max), version, { expectedSize: size });
  }
}

function alignUp(n: number): number {
  const r = n % NEEDLE_PADDING_SIZE;
  return r === 0 ? n : n + (NEEDLE_PADDING_SIZE - r);
}

// ------------------------------------------------------------------------------------------------
// compact

export interface CompactOptions {
  /** Bytes to preallocate for the .cpd (accepted for parity; Node has no fallocate). */
  preallocate?: number;
  /** Throttle (Go's -compactionMBps in bytes per second); 0 = unlimited. */
  bytesPerSecond?: number;
  /**
   * Called before each needle with the source offset being processed; returning false aborts
   * the compaction ("interrupted").
   */
  progress?: (processedBytes: number) => boolean | Promise<boolean>;
  /** Clock in unix seconds (tests). */
  nowSeconds?: () => number;
}

export interface CompactResult {
  /** False when another compaction or commit of the volume was running (nothing was done). */
  started: boolean;
  /** Needles copied. */
  copied: number;
  /** Needles dropped as unreadable (EOF, size mismatch, corruption, CRC). */
  unreadable: number;
  /** Needles dropped as expired by the volume TTL. */
  expired: number;
  /** Size of the new .cpd. */
  newDatSize: number;
}

/**
 * Go's CompactByIndex: copies the live needles of the index snapshot, in ascending needle id
 * order, into `<base>.cpd` (super block revision + 1) and writes the sorted `<base>.cpx`.
 */
export async function compactVolume(v: Volume, opts: CompactOptions = {}): Promise<CompactResult> {
  const st = stateOf(v);
  const result: CompactResult = { started: false, copied: 0, unreadable: 0, expired: 0, newDatSize: 0 };
  if (st.inProgress) return result;
  st.inProgress = true;
  result.started = true;
  try {
    const snap = await v.runExclusive(() => v.syncForCompaction());
    st.lastCompactIndexOffset = snap.idxSize;
    st.lastCompactRevision = snap.superBlock.compactionRevision;
    await copyByIndex(v, snap.idxSize, snap.superBlock, opts, result);
    return result;
  } finally {
    st.inProgress = false;
  }
}

async function copyByIndex(v: Volume, idxSize: number, sb: SuperBlock, opts: CompactOptions, result: CompactResult): Promise<void> {
  const width = v.offsetWidth;
  const version = sb.version;
  const es = indexEntrySize(width);

  // 1. the index snapshot, later rows winning
  const oldNm = new NeedleMap(width, version);
  const idxFh = await open(v.fileName('.idx'), 'r');
  try {
    await walkIndexFile(idxFh, width, (hi, lo, u, size) => oldNm.applyIndexRow(hi, lo, u, size), {
      rows: Math.floor(idxSize / es),
    });
  } finally {
    await idxFh.close().catch(() => undefined);
  }
  const n = oldNm.size;
  const his = new Uint32Array(n);
  const los = new Uint32Array(n);
  const offsets = new Float64Array(n);
  const sizes = new Int32Array(n);
  let count = 0;
  oldNm.forEachSorted((hi, lo, offset, size) => {
    if (offset === 0 || size < 0) return; // deleted (or no location)
    his[count] = hi;
    los[count] = lo;
    offsets[count] = offset;
    sizes[count] = size;
    count++;
  });

  // 2. the new .dat
  const cpdPath = v.fileName('.cpd');
  const src = await open(v.fileName('.dat'), 'r');
  const dst = await open(cpdPath, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
  const newNm = new NeedleMap(width, version);
  try {
    const newSb = new SuperBlock(version, sb.replicaPlacement, sb.ttl, (sb.compactionRevision + 1) & 0xffff, sb.extra);
    const sbBytes = newSb.toBytes();
    await pwriteFull(dst, sbBytes, 0, sbBytes.length, 0);
    const out = new BufferedAppender(dst, alignUp(sbBytes.length));
    const throttler = new WriteThrottler(opts.bytesPerSecond ?? 0);
    const now = opts.nowSeconds ? opts.nowSeconds() : Math.floor(Date.now() / 1000);
    const volumeTtlSeconds = sb.ttl.minutes() * 60;
    let expectedLiveBytes = 0;

    for (let i = 0; i < count; i++) {
      const offset = offsets[i];
      const size = sizes[i];
      if (opts.progress && !(await opts.progress(offset))) {
        throw new StorageError('REFUSED', 'interrupted');
      }
      let needle: Needle;
      try {
        needle = await readNeedleAt(src, offset, size, version, width);
      } catch (e) {
        if (!isSkippableReadError(e)) {
          throw new StorageIoError(`cannot hydrate needle from file: ${(e as Error).message}`, { cause: e });
        }
        result.unreadable++;
        continue;
      }
      // Go checks the volume's TTL here, not the needle's
      if (hasTtl(needle) && now >= needle.lastModified + volumeTtlSeconds) {
        result.expired++;
        continue;
      }
      expectedLiveBytes += size;
      const rec = encodeNeedle(needle, version);
      newNm.set(needle.id, out.pos, needle.size);
      await out.write(rec);
      result.copied++;
      await throttler.maybeSlowdown(rec.length);
    }
    await out.flush();
    result.newDatSize = out.pos;
    if (v.ttl.toString() === '' && expectedLiveBytes > out.pos) {
      throw new StorageError(
        'REFUSED',
        `volume ${v.id} unexpected new data size: ${out.pos} does not match expected live content size ${expectedLiveBytes} from the pre-compaction snapshot`,
      );
    }
    await dst.sync();
  } finally {
    await dst.close().catch(() => undefined);
    await src.close().catch(() => undefined);
  }

  // 3. the new index, sorted by needle id, live entries only
  const rows = Buffer.allocUnsafe(newNm.size * es);
  let p = 0;
  newNm.forEachSorted((hi, lo, offset, size) => {
    writeIdxEntryHL(rows, p, hi, lo, offset, size, width);
    p += es;
  });
  const cpx = await open(v.fileName('.cpx'), fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
  try {
    await pwriteFull(cpx, rows, 0, p, 0);
    await cpx.sync();
  } finally {
    await cpx.close().catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------------------------
// commit

export interface CommitResult {
  /** False when a compaction of the volume was still running (Go then does nothing). */
  committed: boolean;
  /** Index rows written during the compaction that were replayed into the new files. */
  replayed: number;
}

/** Test hook: throw at a named step of the commit to simulate a crash there. */
export type CommitCrashPoint = 'after-marker' | 'after-dat-rename' | 'after-idx-rename';

/**
 * Go's CommitCompact: replays the index tail written since the compaction started, writes the
 * .cpc marker, renames .cpd → .dat and .cpx → .idx, clears the marker and reloads the volume.
 */
export async function commitCompaction(v: Volume, hooks: { crashAt?: CommitCrashPoint } = {}): Promise<CommitResult> {
  const st = stateOf(v);
  if (st.inProgress) return { committed: false, replayed: 0 };
  st.inProgress = true;
  try {
    return await v.runExclusive(async () => {
      const f = (ext: string) => v.fileName(ext);
      if (!(await exists(f('.cpd'))) || !(await exists(f('.cpx')))) {
        throw new StorageError('REFUSED', `volume ${v.id} compact swap aborted: missing .cpd/.cpx`);
      }
      let replayed: number;
      try {
        replayed = await makeupDiff(v, st);
      } catch (e) {
        await rm(f('.cpd'), { force: true }).catch(() => undefined);
        await rm(f('.cpx'), { force: true }).catch(() => undefined);
        throw e;
      }
      // From here on a crash rolls forward: the marker decides the swap.
      await writeCommitMarker(f('.cpc'));
      if (hooks.crashAt === 'after-marker') throw new StorageError('REFUSED', 'simulated crash after the commit marker');
      try {
        await finishCompactSwap(f, hooks.crashAt);
        await v.reloadAfterCompaction();
      } catch (e) {
        if (!String((e as Error).message).startsWith('simulated crash')) {
          v.markUnhealthy(`commit compaction of volume ${v.id}: ${(e as Error).message}`);
        }
        throw e;
      }
      return { committed: true, replayed };
    });
  } finally {
    st.inProgress = false;
  }
}

async function writeCommitMarker(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
  } catch (e) {
    throw new StorageIoError(`create commit marker ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await fh.sync();
  } catch (e) {
    throw new StorageIoError(`sync commit marker ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close().catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

/**
 * Go's makeupDiff: the index rows appended since the compaction started (writes, overwrites,
 * deletes made while it ran), newest per needle, are applied to the .cpd/.cpx: a live record is
 * copied verbatim from the old .dat, anything else becomes a synthesized tombstone.
 */
async function makeupDiff(v: Volume, st: CompactionState): Promise<number> {
  const width = v.offsetWidth;
  const version = v.version;
  const es = indexEntrySize(width);
  const idxSize = v.idxFileSize();
  if (idxSize === 0 || idxSize <= st.lastCompactIndexOffset) return 0;
  if (idxSize % es !== 0) {
    throw new StorageError('INDEX_CORRUPTED', `verifyIndexFileIntegrity ${v.fileName('.idx')} failed: index file's size is ${idxSize} bytes, maybe corrupted`);
  }
  const oldRevision = v.superBlock.compactionRevision;
  if (oldRevision !== st.lastCompactRevision) {
    throw new StorageError(
      'REFUSED',
      `current old dat file's compact revision ${oldRevision} is not the expected one ${st.lastCompactRevision}`,
    );
  }

  // newest entry per key; the Map keeps the order of each key's last row
  const latest = new Map<bigint, { hi: number; lo: number; units: number; size: Size }>();
  const idxFh = await open(v.fileName('.idx'), 'r');
  try {
    const fromRow = Math.floor(st.lastCompactIndexOffset / es);
    await walkIndexFile(
      idxFh,
      width,
      (hi, lo, units, size) => {
        const key = (BigInt(hi) << 32n) | BigInt(lo);
        latest.delete(key);
        latest.set(key, { hi, lo, units, size });
      },
      { fromRow, rows: idxSize / es - fromRow },
    );
  } finally {
    await idxFh.close().catch(() => undefined);
  }
  if (latest.size === 0) return 0;

  const cpdPath = v.fileName('.cpd');
  const dst = await open(cpdPath, 'r+').catch((e) => {
    throw new StorageIoError(`open dat file ${cpdPath} failed: ${(e as Error).message}`, { cause: e });
  });
  const cpxPath = v.fileName('.cpx');
  let idx: FileHandle;
  try {
    idx = await open(cpxPath, 'r+');
  } catch (e) {
    await dst.close().catch(() => undefined);
    throw new StorageIoError(`open idx file ${cpxPath} failed: ${(e as Error).message}`, { cause: e });
  }
  try {
    const head = Buffer.alloc(SUPER_BLOCK_SIZE);
    await preadUpTo(dst, head, 0, SUPER_BLOCK_SIZE, 0);
    const newRevision = readU16(head, 4);
    if (((oldRevision + 1) & 0xffff) !== newRevision) {
      throw new StorageError(
        'REFUSED',
        `oldDatFile ${v.fileName('.dat')} 's compact revision is ${oldRevision} while newDatFile ${cpdPath} 's compact revision is ${newRevision}`,
      );
    }
    let datEnd = alignUp((await dst.stat()).size);
    let idxEnd = (await idx.stat()).size;
    const row = Buffer.alloc(es);
    for (const [key, e] of latest) {
      const offset = e.units * NEEDLE_PADDING_SIZE;
      let rec: Buffer;
      if (e.units !== 0 && e.size > 0) {
        const len = actualSize(e.size, version);
        rec = Buffer.allocUnsafe(len);
        const got = await v.readDataRange(rec, 0, len, offset);
        if (got < len) {
          throw new StorageIoError(
            `ReadNeedleBlob ${v.fileName('.dat')} key ${key} offset ${offset} size ${e.size} failed: ${got === 0 ? 'EOF' : 'unexpected EOF'}`,
          );
        }
      } else {
        const t = newNeedle({ cookie: COMPACT_TOMBSTONE_COOKIE, id: key, checksum: 0 });
        t.appendAtNs = BigInt(Date.now()) * 1_000_000n;
        rec = encodeNeedle(t, version);
      }
      await pwriteFull(dst, rec, 0, rec.length, datEnd);
      writeIdxEntryHL(row, 0, needleIdHi(key), needleIdLo(key), datEnd, e.size, width);
      await pwriteFull(idx, row, 0, es, idxEnd);
      datEnd += rec.length;
      idxEnd += es;
    }
    await dst.sync();
    await idx.sync();
  } finally {
    await idx.close().catch(() => undefined);
    await dst.close().catch(() => undefined);
  }
  return latest.size;
}

/**
 * Go's finishCompactSwap: renames whichever temp file is still there (.cpd → .dat, .cpx → .idx),
 * fsyncs the directories, drops a stale .ldb/.rdb and clears the .cpc marker last.
 */
async function finishCompactSwap(f: (ext: string) => string, crashAt?: CommitCrashPoint): Promise<void> {
  const cpd = await exists(f('.cpd'));
  const cpx = await exists(f('.cpx'));
  if (cpd) {
    try {
      await rename(f('.cpd'), f('.dat'));
    } catch (e) {
      throw new StorageIoError(`rename ${f('.cpd')}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (crashAt === 'after-dat-rename') throw new StorageError('REFUSED', 'simulated crash after the .dat rename');
  if (cpx) {
    try {
      await rename(f('.cpx'), f('.idx'));
    } catch (e) {
      throw new StorageIoError(`rename ${f('.cpx')}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (crashAt === 'after-idx-rename') throw new StorageError('REFUSED', 'simulated crash after the .idx rename');
  if (cpd || cpx) {
    const datDir = dirname(f('.dat'));
    const idxDir = dirname(f('.idx'));
    await fsyncDir(datDir);
    if (idxDir !== datDir) await fsyncDir(idxDir);
    await rm(f('.ldb'), { recursive: true, force: true }).catch(() => undefined);
    await rm(f('.rdb'), { force: true }).catch(() => undefined);
  }
  await rm(f('.cpc'), { force: true });
  await fsyncDir(dirname(f('.cpc')));
}

/**
 * Go's reconcileCompactState, run before a volume's files are opened: with a .cpc marker the swap
 * was decided and is finished (roll forward); without one, leftover .cpd/.cpx are an abandoned
 * compaction and are removed (roll back).
 */
export async function reconcileCompactState(
  fileName: (ext: string) => string,
): Promise<'none' | 'rolled-forward' | 'rolled-back'> {
  if (await exists(fileName('.cpc'))) {
    await finishCompactSwap(fileName);
    return 'rolled-forward';
  }
  let rolledBack = false;
  for (const ext of ['.cpd', '.cpx']) {
    if (await exists(fileName(ext))) {
      await rm(fileName(ext), { force: true });
      rolledBack = true;
    }
  }
  if (rolledBack) {
    await rm(fileName('.ldb'), { recursive: true, force: true }).catch(() => undefined);
    await rm(fileName('.rdb'), { force: true }).catch(() => undefined);
    return 'rolled-back';
  }
  return 'none';
}

// ------------------------------------------------------------------------------------------------
// cleanup

/** Go's cleanupCompact: removes .cpd, .cpx, .cpldb and .cpc; refused while a .cpc marker exists. */
export async function cleanupCompaction(v: Volume): Promise<void> {
  await v.runExclusive(async () => {
    if (await exists(v.fileName('.cpc'))) {
      throw new StorageError('REFUSED', `volume ${v.id}: refusing cleanup while commit marker present`);
    }
    await rm(v.fileName('.cpd'), { force: true });
    await rm(v.fileName('.cpx'), { force: true });
    await rm(v.fileName('.cpldb'), { recursive: true, force: true });
    await rm(v.fileName('.cpc'), { force: true });
  });
}
