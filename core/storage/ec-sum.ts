// The EC bitrot sidecar `<base>.ecsum` (generation 0) / `<base>.ecsum.v<N>`: a CRC-32C per
// fixed-size block of every shard, so a scrub or a decode can tell a rotted shard (parity
// included, which normal reads never touch) from a good one. Byte-compatible with Go's
// weed/storage/erasure_coding/ec_bitrot.go SaveBitrotSidecar / LoadBitrotSidecar:
//   [ magic "ECSU" u32 BE | format version u16 BE | payload length u32 BE | payload CRC-32C u32 BE ]
//   [ EcBitrotProtection protobuf payload ]
// The payload is encoded here by hand, fields in number order and zero values omitted, as Go's
// proto.Marshal does, so the same shards give the same bytes (but for the random encode_uuid).
// Core holds it because the ec family writes and checks it and the scrub family verifies with it.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32c } from './crc32c.js';

export const ECSUM_EXT = '.ecsum';
/** Go's DefaultBitrotBlockSize: one CRC per 16 MiB of shard. */
export const DEFAULT_ECSUM_BLOCK_SIZE = 16 * 1024 * 1024;
/** Go's MaxBitrotBlockSize: a loaded sidecar cannot ask for bigger blocks. */
export const MAX_ECSUM_BLOCK_SIZE = 64 * 1024 * 1024;
const MAX_SHARDS = 32;
const MAGIC = 0x45435355;
const FORMAT_VERSION = 1;
const HEADER_SIZE = 14;
/** A real manifest is a few KB; refuse to load anything absurd. */
const MAX_SIDECAR_BYTES = 1 << 26;
/** Verification reads this much at a time, whatever the block size. */
const READ_CHUNK = 1024 * 1024;
export const CHECKSUM_CRC32C = 1;

export interface EcShardChecksums {
  shardId: number;
  /** The shard length the checksums cover (must equal the shard file's length). */
  coveredSize: number;
  /** Packed little-endian u32 per block: ceil(coveredSize / blockSize) of them. */
  blockCrc32c: Buffer;
}

export interface EcSumShardConfig {
  dataShards: number;
  parityShards: number;
  encodeTsNs: bigint;
  /** The encode's uniform shard block size (0 = legacy two-tier layout). */
  blockSize: number;
}

export interface EcBitrotProtection {
  algorithm: number;
  /** Bytes per checksum block. */
  blockSize: number;
  generation: number;
  ecShardConfig?: EcSumShardConfig;
  shards: EcShardChecksums[];
  encodeUuid: Buffer;
}

/** Go's BitrotStatus: off (no sidecar for this generation), on (usable), invalid (present but unusable). */
export type EcSumStatus = 'off' | 'on' | 'invalid';

/** Go's BitrotSidecarPath. */
export function ecsumPath(base: string, generation = 0): string {
  return generation === 0 ? base + ECSUM_EXT : `${base}${ECSUM_EXT}.v${generation}`;
}

// ---- protobuf (proto3) encoding of the payload ----

function varint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

function tag(out: number[], field: number, wire: number): void {
  varint(out, BigInt((field << 3) | wire));
}

function putVarintField(out: number[], field: number, v: number | bigint): void {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b === 0n) return;
  tag(out, field, 0);
  varint(out, b);
}

function putBytesField(out: number[], field: number, bytes: Uint8Array | number[], always = false): void {
  if (bytes.length === 0 && !always) return;
  tag(out, field, 2);
  varint(out, BigInt(bytes.length));
  for (const b of bytes) out.push(b);
}

/** Go's proto.Marshal of EcBitrotProtection. */
export function encodeProtection(p: EcBitrotProtection): Buffer {
  const out: number[] = [];
  putVarintField(out, 1, p.algorithm);
  putVarintField(out, 2, p.blockSize);
  putVarintField(out, 3, p.generation);
  if (p.ecShardConfig) {
    const c: number[] = [];
    putVarintField(c, 1, p.ecShardConfig.dataShards);
    putVarintField(c, 2, p.ecShardConfig.parityShards);
    putVarintField(c, 3, p.ecShardConfig.encodeTsNs);
    putVarintField(c, 4, p.ecShardConfig.blockSize);
    putBytesField(out, 4, c, true);
  }
  for (const s of p.shards) {
    const m: number[] = [];
    putVarintField(m, 1, s.shardId);
    putVarintField(m, 2, s.coveredSize);
    putBytesField(m, 3, s.blockCrc32c);
    putBytesField(out, 5, m, true);
  }
  putBytesField(out, 6, p.encodeUuid);
  return Buffer.from(out);
}

type Field = { field: number; wire: number; num: bigint; bytes: Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, v);
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new Error('invalid field number 0');
    if (wire === 0) yield { field, wire, num: readVarint(), bytes: Buffer.alloc(0) };
    else if (wire === 2) {
      const len = Number(readVarint());
      if (len > buf.length - i) throw new Error('truncated length-delimited field');
      yield { field, wire, num: 0n, bytes: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (n > buf.length - i) throw new Error('truncated fixed field');
      i += n;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const u32 = (v: bigint) => Number(BigInt.asUintN(32, v));
const i64 = (v: bigint) => Number(BigInt.asIntN(64, v));

/** proto.Unmarshal of EcBitrotProtection (unknown fields skipped). */
export function decodeProtection(buf: Buffer): EcBitrotProtection {
  const p: EcBitrotProtection = { algorithm: 0, blockSize: 0, generation: 0, shards: [], encodeUuid: Buffer.alloc(0) };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 0) p.algorithm = u32(f.num);
    else if (f.field === 2 && f.wire === 0) p.blockSize = u32(f.num);
    else if (f.field === 3 && f.wire === 0) p.generation = u32(f.num);
    else if (f.field === 4 && f.wire === 2) {
      const c: EcSumShardConfig = { dataShards: 0, parityShards: 0, encodeTsNs: 0n, blockSize: 0 };
      for (const g of fields(f.bytes)) {
        if (g.wire !== 0) continue;
        if (g.field === 1) c.dataShards = u32(g.num);
        else if (g.field === 2) c.parityShards = u32(g.num);
        else if (g.field === 3) c.encodeTsNs = BigInt.asIntN(64, g.num);
        else if (g.field === 4) c.blockSize = i64(g.num);
      }
      p.ecShardConfig = c;
    } else if (f.field === 5 && f.wire === 2) {
      const s: EcShardChecksums = { shardId: 0, coveredSize: 0, blockCrc32c: Buffer.alloc(0) };
      for (const g of fields(f.bytes)) {
        if (g.field === 1 && g.wire === 0) s.shardId = u32(g.num);
        else if (g.field === 2 && g.wire === 0) s.coveredSize = i64(g.num);
        else if (g.field === 3 && g.wire === 2) s.blockCrc32c = Buffer.from(g.bytes);
      }
      p.shards.push(s);
    } else if (f.field === 6 && f.wire === 2) p.encodeUuid = Buffer.from(f.bytes);
  }
  return p;
}

// ---- the file ----

/** The sidecar file's bytes: header then payload (Go's SaveBitrotSidecar). */
export function encodeSidecar(p: EcBitrotProtection): Buffer {
  const payload = encodeProtection(p);
  const head = Buffer.alloc(HEADER_SIZE);
  head.writeUInt32BE(MAGIC, 0);
  head.writeUInt16BE(FORMAT_VERSION, 4);
  head.writeUInt32BE(payload.length, 6);
  head.writeUInt32BE(crc32c(payload), 10);
  return Buffer.concat([head, payload]);
}

const hex = (n: number) => '0x' + n.toString(16);

/** Go's LoadBitrotSidecar checks on bytes read from `path`: header, self-CRC, then the payload. */
export function decodeSidecar(data: Buffer, path: string): EcBitrotProtection {
  if (data.length < HEADER_SIZE) throw new Error(`bitrot sidecar ${path} too short (${data.length} bytes)`);
  const magic = data.readUInt32BE(0);
  if (magic !== MAGIC) throw new Error(`bitrot sidecar ${path} bad magic ${hex(magic)}`);
  const ver = data.readUInt16BE(4);
  if (ver !== FORMAT_VERSION) throw new Error(`bitrot sidecar ${path} unsupported format version ${ver}`);
  const payloadLen = data.readUInt32BE(6);
  const want = data.readUInt32BE(10);
  const payload = data.subarray(HEADER_SIZE);
  if (payloadLen !== payload.length) throw new Error(`bitrot sidecar ${path} length mismatch: header ${payloadLen}, actual ${payload.length}`);
  const got = crc32c(payload);
  if (got !== want) throw new Error(`bitrot sidecar ${path} self-integrity CRC mismatch: header ${hex(want)}, computed ${hex(got)}`);
  try {
    return decodeProtection(payload);
  } catch (e) {
    throw new Error(`unmarshal bitrot sidecar ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Go's SaveBitrotSidecar: written to `<path>.tmp`, then renamed over `path`. */
export async function saveSidecar(path: string, p: EcBitrotProtection): Promise<void> {
  const tmp = path + '.tmp';
  try {
    await writeFile(tmp, encodeSidecar(p), { mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

export async function loadSidecar(path: string): Promise<EcBitrotProtection> {
  const st = await stat(path);
  if (st.size > MAX_SIDECAR_BYTES) throw new Error(`bitrot sidecar ${path} too large (${st.size} bytes)`);
  return decodeSidecar(await readFile(path), path);
}

/** Go's findBitrotSidecar: the sidecar beside the data base, the index base, or in another disk directory. */
export async function findSidecar(generation: number, dataBase: string, indexBase: string, otherDirs: string[] = []): Promise<string | undefined> {
  const candidates = [ecsumPath(dataBase, generation), ecsumPath(indexBase, generation)];
  for (const d of otherDirs) candidates.push(ecsumPath(join(d, basename(dataBase)), generation));
  for (const c of candidates) {
    try {
      await stat(c);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

// ---- building and checking ----

function isPow2BlockSize(bs: number): boolean {
  return bs >= 1 << 20 && bs <= MAX_ECSUM_BLOCK_SIZE && (bs & (bs - 1)) === 0;
}

/** Go's ValidateBitrotManifest: the checks that need no disk. Throws with Go's wording. */
export function validateManifest(p: EcBitrotProtection, dataShards: number, parityShards: number): void {
  if (p.algorithm !== CHECKSUM_CRC32C) throw new Error(`unsupported checksum algorithm ${p.algorithm}`);
  if (!isPow2BlockSize(p.blockSize)) {
    throw new Error(`invalid block_size ${p.blockSize} (must be a power-of-two multiple of 1 MiB, at most ${MAX_ECSUM_BLOCK_SIZE})`);
  }
  const total = dataShards + parityShards;
  if (total <= 0 || total > MAX_SHARDS) throw new Error(`invalid active layout: data=${dataShards} parity=${parityShards}`);
  if (p.shards.length !== total) throw new Error(`incomplete manifest: ${p.shards.length} shard entries, expected ${total}`);
  const seen = new Set<number>();
  for (const s of p.shards) {
    if (s.shardId >= total) throw new Error(`shard id ${s.shardId} out of range [0,${total})`);
    if (seen.has(s.shardId)) throw new Error(`duplicate shard id ${s.shardId}`);
    seen.add(s.shardId);
    if (s.coveredSize <= 0) throw new Error(`shard ${s.shardId} has non-positive covered_size ${s.coveredSize}`);
    const want = Math.ceil(s.coveredSize / p.blockSize) * 4;
    if (s.blockCrc32c.length !== want) {
      throw new Error(
        `shard ${s.shardId} crc count mismatch: ${s.blockCrc32c.length} bytes, expected ${want} (covered_size=${s.coveredSize} block_size=${p.blockSize})`,
      );
    }
  }
}

export function shardEntry(p: EcBitrotProtection, shardId: number): EcShardChecksums | undefined {
  return p.shards.find((s) => s.shardId === shardId);
}

/** Go's shardChecksumBuilder: per-block CRC-32C of one shard's byte stream, fed in any chunk sizes. */
export class ShardChecksumBuilder {
  private cur = 0;
  private curLen = 0;
  private total = 0;
  private readonly blocks: number[] = [];

  constructor(private readonly blockSize = DEFAULT_ECSUM_BLOCK_SIZE) {}

  write(p: Uint8Array): void {
    let at = 0;
    while (at < p.length) {
      const n = Math.min(p.length - at, this.blockSize - this.curLen);
      this.cur = crc32c(p.subarray(at, at + n), this.cur);
      this.curLen += n;
      this.total += n;
      at += n;
      if (this.curLen === this.blockSize) {
        this.blocks.push(this.cur);
        this.cur = 0;
        this.curLen = 0;
      }
    }
  }

  /** Flushes a partial last block: the covered size and the packed CRCs. */
  finish(): { coveredSize: number; blockCrc32c: Buffer } {
    if (this.curLen > 0) {
      this.blocks.push(this.cur);
      this.cur = 0;
      this.curLen = 0;
    }
    const packed = Buffer.alloc(this.blocks.length * 4);
    this.blocks.forEach((v, i) => packed.writeUInt32LE(v >>> 0, i * 4));
    return { coveredSize: this.total, blockCrc32c: packed };
  }
}

/** Go's buildProtectionFromBuilders: a generation-0 manifest with a fresh encode uuid. */
export function buildProtection(
  shards: { coveredSize: number; blockCrc32c: Buffer }[],
  cfg: { dataShards: number; parityShards: number; blockSize: number },
  blockSize = DEFAULT_ECSUM_BLOCK_SIZE,
): EcBitrotProtection {
  return {
    algorithm: CHECKSUM_CRC32C,
    blockSize,
    generation: 0,
    ecShardConfig: { dataShards: cfg.dataShards, parityShards: cfg.parityShards, encodeTsNs: 0n, blockSize: cfg.blockSize },
    shards: shards.map((s, shardId) => ({ shardId, coveredSize: s.coveredSize, blockCrc32c: s.blockCrc32c })),
    encodeUuid: randomBytes(16),
  };
}

/** Go's computeShardFileCRCs: the checksums of a shard file as it is now. */
export async function computeShardFileChecksums(path: string, blockSize = DEFAULT_ECSUM_BLOCK_SIZE): Promise<{ coveredSize: number; blockCrc32c: Buffer }> {
  const b = new ShardChecksumBuilder(blockSize);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      b.write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return b.finish();
}

export interface BlockCheckHooks {
  /** Called after every chunk read (pacing, cancellation). */
  onChunk?: (bytes: number) => Promise<void> | void;
}

/**
 * Go's verifyShardFileBlocks: the indices of the blocks of the shard file whose CRC differs from
 * the manifest. A length other than covered_size is corruption too: every block is reported.
 * Reads 1 MiB at a time whatever the block size (memory stays bounded).
 */
export async function mismatchedBlocks(path: string, entry: EcShardChecksums, blockSize: number, hooks: BlockCheckHooks = {}): Promise<number[]> {
  const want = entry.blockCrc32c;
  const count = Math.floor(want.length / 4);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size !== entry.coveredSize) return Array.from({ length: count }, (_, i) => i);
    const bad: number[] = [];
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, blockSize));
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const end = Math.min(entry.coveredSize, pos + blockSize);
      let crc = 0;
      while (pos < end) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
        if (bytesRead === 0) throw new Error(`read ${path} at ${pos}: unexpected EOF`);
        crc = crc32c(buf.subarray(0, bytesRead), crc);
        pos += bytesRead;
        await hooks.onChunk?.(bytesRead);
      }
      if (crc !== want.readUInt32LE(i * 4)) bad.push(i);
    }
    return bad;
  } finally {
    await fh.close();
  }
}

/**
 * mismatchedBlocks for checksums already taken over a shard's bytes (with the manifest's block
 * size) while they were read or written: the same answer without reading the file again.
 */
export function mismatchedChecksums(entry: EcShardChecksums, got: { coveredSize: number; blockCrc32c: Uint8Array }): number[] {
  const want = entry.blockCrc32c;
  const count = Math.floor(want.length / 4);
  if (got.coveredSize !== entry.coveredSize || got.blockCrc32c.length !== want.length) return Array.from({ length: count }, (_, i) => i);
  const bad: number[] = [];
  for (let i = 0; i < count; i++) {
    for (let k = i * 4; k < i * 4 + 4; k++) {
      if (got.blockCrc32c[k] !== want[k]) {
        bad.push(i);
        break;
      }
    }
  }
  return bad;
}

export interface ResolvedProtection {
  status: EcSumStatus;
  prot?: EcBitrotProtection;
  path?: string;
  /** Why a present sidecar is unusable (status 'invalid'). */
  reason?: string;
}

/**
 * Go's loadBitrotForGeneration for generation 0 of a volume mounted with the given layout: absent
 * or for another generation = off; unreadable or malformed = invalid; a sidecar recording another
 * layout throws (one of the two records is wrong, and reads through the other would land at the
 * wrong shard offsets).
 */
export async function resolveProtection(
  vid: number,
  layout: { dataShards: number; parityShards: number; blockSize: number },
  dataBase: string,
  indexBase: string,
  otherDirs: string[] = [],
): Promise<ResolvedProtection> {
  const path = await findSidecar(0, dataBase, indexBase, otherDirs);
  if (!path) return { status: 'off' };
  let prot: EcBitrotProtection;
  try {
    prot = await loadSidecar(path);
  } catch (e) {
    return { status: 'invalid', path, reason: (e as Error).message };
  }
  if (prot.generation !== 0 || !prot.ecShardConfig) return { status: 'off', path };
  const c = prot.ecShardConfig;
  if (c.dataShards !== layout.dataShards || c.parityShards !== layout.parityShards || c.blockSize !== layout.blockSize) {
    throw new Error(
      `ec volume ${vid} generation 0: ${path} records layout ${c.dataShards}+${c.parityShards} block ${c.blockSize} but the volume is mounted as ${layout.dataShards}+${layout.parityShards} block ${layout.blockSize}; refusing to serve one of the two layouts`,
    );
  }
  try {
    validateManifest(prot, layout.dataShards, layout.parityShards);
  } catch (e) {
    return { status: 'invalid', path, reason: (e as Error).message };
  }
  return { status: 'on', prot, path };
}

/** Go's VerifyEcVolumeDataShards: every given data shard file (index = shard id) against the manifest. */
export async function verifyDataShards(r: ResolvedProtection, shardPaths: string[]): Promise<void> {
  if (r.status === 'off') return;
  if (r.status === 'invalid' || !r.prot) throw new Error('bitrot sidecar is malformed or unverifiable');
  for (let shardId = 0; shardId < shardPaths.length; shardId++) {
    const entry = shardEntry(r.prot, shardId);
    if (!entry) continue;
    let bad: number[];
    try {
      bad = await mismatchedBlocks(shardPaths[shardId], entry, r.prot.blockSize);
    } catch (e) {
      throw new Error(`verify data shard ${shardId} ${shardPaths[shardId]}: ${(e as Error).message}`, { cause: e });
    }
    if (bad.length > 0) throw new Error(`data shard ${shardId} ${shardPaths[shardId]} fails its bitrot checksum in ${bad.length} blocks`);
  }
}
