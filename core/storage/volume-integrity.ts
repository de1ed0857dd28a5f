// Load-time integrity check of a volume (Go volume_checking.go): verify that the .dat ends exactly
// where the physically last indexed record ends; on a writable version-3 volume first repair a torn
// tail left by a crash — whole records appended after the last index row are re-indexed (their
// CRC and increasing AppendAtNs prove they completed), a partial or damaged last record is cut
// off. Anything else that does not add up makes the volume read-only, never silently rewritten.
// Also: rebuilding a missing .idx from the .dat, and recovering a TTL volume's last write time.
import type { FileHandle } from 'node:fs/promises';
import { readBufferAt, type BackendStorageFile } from './backend/backend-file.js';
import { preadBuffer, pwriteFull } from './file-io.js';
import { idxEntryBytes, readIdxEntry, walkIndexFile } from './idx.js';
import { decodeNeedle, parseNeedleHeader } from './needle.js';
import { CrcMismatchError, NeedleCorruptedError, SizeMismatchError, StorageIoError } from './storage-errors.js';
import {
  NEEDLE_CHECKSUM_SIZE,
  NEEDLE_HEADER_SIZE,
  TIMESTAMP_SIZE,
  actualSize,
  indexEntrySize,
  maxPossibleVolumeSize,
  needleIdToHex,
  rawSize,
  readU64,
  type NeedleId,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';

export interface IntegrityContext {
  /** .dat path, for messages. */
  datName: string;
  idxName: string;
  dat: BackendStorageFile;
  idx: FileHandle;
  datSize: number;
  idxSize: number;
  width: OffsetWidth;
  version: Version;
  /** Where needle data starts (super block size). */
  firstNeedleOffset: number;
  /** False when the volume is already read-only: then nothing is repaired. */
  writable: boolean;
}

export interface IntegrityResult {
  lastAppendAtNs: bigint;
  datSize: number;
  idxSize: number;
  /** Records re-indexed from an unindexed .dat tail. */
  reindexed: number;
  /** Bytes cut from a torn .dat tail. */
  cut: number;
  /** Set when the volume must be read-only (Go logs it and sets noWriteOrDelete). */
  error?: Error;
}

class TailNotTornError extends Error {}

function isCorruption(e: unknown): boolean {
  return e instanceof NeedleCorruptedError || e instanceof CrcMismatchError;
}

async function readIdxRow(ctx: IntegrityContext, pos: number) {
  const es = indexEntrySize(ctx.width);
  const b = await preadBuffer(ctx.idx, es, pos, ctx.idxName);
  return readIdxEntry(b, 0, ctx.width);
}

function needleDiskEnd(offset: number, size: Size, version: Version): number {
  return offset + actualSize(rawSize(size), version);
}

/** Go's findDatTailEntryOffset: position (bytes) of the index row of the physically last record, or -1. */
async function findDatTailEntryPos(ctx: IntegrityContext): Promise<number> {
  const es = indexEntrySize(ctx.width);
  if (ctx.datSize > 0 && ctx.idxSize >= es) {
    const lastPos = ctx.idxSize - es;
    const e = await readIdxRow(ctx, lastPos);
    if (e.offset !== 0 && needleDiskEnd(e.offset, e.size, ctx.version) === ctx.datSize) return lastPos;
  }
  let maxPos = -1;
  let maxOff = -1;
  await walkIndexFile(ctx.idx, ctx.width, (_hi, _lo, u, _size, row) => {
    if (u !== 0 && u > maxOff) {
      maxOff = u;
      maxPos = row * es;
    }
  });
  return maxPos;
}

/** Reads and fully parses one record (CRC checked); Go's readTailNeedle. */
async function readTailNeedle(ctx: IntegrityContext, at: number, size: Size) {
  if (size > 0 && size < 4 && ctx.version !== 1) {
    throw new NeedleCorruptedError(`record at ${at} has size ${size}: needle data corrupted`);
  }
  const blob = await readBufferAt(ctx.dat, actualSize(size, ctx.version), at);
  const n = decodeNeedle(blob, ctx.version, { expectedSize: size });
  if (size > 0 && n.data.length === 0) {
    throw new NeedleCorruptedError(`needle ${needleIdToHex(n.id)} at ${at} has size ${size} but no data: needle data corrupted`);
  }
  return n;
}

/**
 * Go's walkUnindexedDatTail: index rows for whole records after `start`, and where to cut.
 *
 * Stricter than Go for size-0 records: a delete's tombstone and an empty write append the same
 * record, which Go re-indexes at size 0, turning a delete in flight at a crash into a live empty
 * needle (neither the old content nor deleted). No unindexed record was acknowledged (every
 * append is acknowledged only after its .idx row, volume/writes.ts), so a size-0 record is left
 * unindexed instead: its needle keeps the state its index gives. Trailing ones are cut (the .dat
 * must end at the last indexed record); one followed by re-indexed records stays as dead bytes
 * the next vacuum drops.
 */
async function walkUnindexedTail(
  ctx: IntegrityContext,
  start: number,
  fileSize: number,
  lastAppendAtNs: bigint,
): Promise<{ rows: Buffer[]; cutAt: number }> {
  const rows: Buffer[] = [];
  let at = start;
  // start of the size-0 records since the last re-indexed one (-1: none): cut with the torn rest
  let skippedFrom = -1;
  const done = (cutAt: number) => ({ rows, cutAt: skippedFrom >= 0 ? skippedFrom : cutAt });
  const header = Buffer.allocUnsafe(NEEDLE_HEADER_SIZE);
  while (at < fileSize) {
    if (fileSize - at < NEEDLE_HEADER_SIZE) return done(at);
    const got = await ctx.dat.readAt(header, 0, NEEDLE_HEADER_SIZE, at);
    if (got < NEEDLE_HEADER_SIZE) return done(at);
    const h = parseNeedleHeader(header);
    if (h.id === 0n || h.size < 0) {
      throw new TailNotTornError(`record at ${at} has id ${needleIdToHex(h.id)} size ${h.size}`);
    }
    const end = at + actualSize(h.size, ctx.version);
    if (end > fileSize) return done(at);
    let n;
    try {
      n = await readTailNeedle(ctx, at, h.size);
    } catch (e) {
      if (!isCorruption(e)) throw e;
      if (end === fileSize) return done(at);
      throw new TailNotTornError(`record ${needleIdToHex(h.id)} at ${at} is damaged and ${fileSize - end} bytes follow it: ${(e as Error).message}`);
    }
    if (n.appendAtNs <= lastAppendAtNs) {
      throw new TailNotTornError(`record ${needleIdToHex(n.id)} at ${at} was appended at ${n.appendAtNs}, not after ${lastAppendAtNs}`);
    }
    lastAppendAtNs = n.appendAtNs;
    if (h.size === 0) {
      if (skippedFrom < 0) skippedFrom = at;
    } else {
      skippedFrom = -1;
      rows.push(idxEntryBytes(n.id, at, h.size, ctx.width));
    }
    at = end;
  }
  return done(fileSize);
}

/** Go's repairUnindexedDatTail (version 3 only). */
async function repairUnindexedTail(ctx: IntegrityContext, tailEntryPos: number): Promise<{ reindexed: number; cut: number }> {
  if (ctx.version !== 3) return { reindexed: 0, cut: 0 };
  const datSize = ctx.datSize;
  if (datSize <= 8 || datSize > maxPossibleVolumeSize(ctx.width)) return { reindexed: 0, cut: 0 };
  let start: number;
  let lastAppendAtNs = 0n;
  if (tailEntryPos < 0) {
    start = ctx.firstNeedleOffset;
  } else {
    const e = await readIdxRow(ctx, tailEntryPos);
    if (e.offset === 0) return { reindexed: 0, cut: 0 };
    start = needleDiskEnd(e.offset, e.size, ctx.version);
    if (start >= datSize) return { reindexed: 0, cut: 0 };
    let anchor;
    try {
      anchor = await readTailNeedle(ctx, e.offset, e.size < 0 ? 0 : e.size);
    } catch (err) {
      throw new TailNotTornError(`last indexed needle ${needleIdToHex(e.id)} at ${e.offset}: ${(err as Error).message}`);
    }
    if (anchor.id !== e.id) {
      throw new TailNotTornError(`needle at ${e.offset} is id ${needleIdToHex(anchor.id)}, its index entry says id ${needleIdToHex(e.id)}`);
    }
    lastAppendAtNs = anchor.appendAtNs;
  }
  if (start >= datSize) return { reindexed: 0, cut: 0 };
  const { rows, cutAt } = await walkUnindexedTail(ctx, start, datSize, lastAppendAtNs);
  if (rows.length > 0) {
    await ctx.dat.sync();
    const all = Buffer.concat(rows);
    try {
      await pwriteFull(ctx.idx, all, 0, all.length, ctx.idxSize);
    } catch (e) {
      await ctx.idx.truncate(ctx.idxSize).catch(() => undefined);
      throw e;
    }
    await ctx.idx.sync();
    ctx.idxSize += all.length;
  }
  let cut = 0;
  if (cutAt < datSize) {
    await ctx.dat.truncate(cutAt);
    await ctx.dat.sync();
    cut = datSize - cutAt;
    ctx.datSize = cutAt;
  }
  return { reindexed: rows.length, cut };
}

async function readAppendAtNs(ctx: IntegrityContext, offset: number, size: Size): Promise<bigint> {
  const b = await readBufferAt(ctx.dat, TIMESTAMP_SIZE, offset + NEEDLE_HEADER_SIZE + size + NEEDLE_CHECKSUM_SIZE);
  return readU64(b, 0);
}

/** Go's verifyNeedleIntegrity for the last live row. */
async function verifyNeedle(ctx: IntegrityContext, offset: number, key: NeedleId, size: Size): Promise<bigint> {
  const header = await readBufferAt(ctx.dat, NEEDLE_HEADER_SIZE, offset);
  const h = parseNeedleHeader(header);
  if (h.size !== size) throw new SizeMismatchError();
  let appendAtNs = 0n;
  if (ctx.version === 3) {
    appendAtNs = await readAppendAtNs(ctx, offset, size);
    const tail = offset + actualSize(size, ctx.version);
    if (ctx.datSize === tail) return appendAtNs;
    if (ctx.datSize > tail) {
      throw new StorageIoError(`data file ${ctx.datName} actual ${ctx.datSize} bytes expected ${tail} bytes`);
    }
  }
  let n;
  try {
    n = await readTailNeedle(ctx, offset, size);
  } catch (e) {
    throw new StorageIoError(`read data [${offset},${offset + size}) : ${(e as Error).message}`, { cause: e });
  }
  if (n.id !== key) throw new StorageIoError(`index key ${needleIdToHex(key)} does not match needle's Id ${needleIdToHex(n.id)}`);
  return n.appendAtNs || appendAtNs;
}

/** Go's verifyDeletedNeedleIntegrity for a last tombstone row. */
async function verifyDeleted(ctx: IntegrityContext, offset: number, key: NeedleId): Promise<bigint> {
  const n = await readTailNeedle(ctx, offset, 0);
  if (n.id !== key) throw new StorageIoError(`index key ${needleIdToHex(key)} does not match needle's Id ${needleIdToHex(n.id)}`);
  const tail = offset + actualSize(0, ctx.version);
  if (ctx.datSize > tail) {
    throw new StorageIoError(`data file ${ctx.datName} actual ${ctx.datSize} bytes expected ${tail} bytes`);
  }
  return n.appendAtNs;
}

async function checkTailRow(ctx: IntegrityContext, pos: number): Promise<bigint> {
  const e = await readIdxRow(ctx, pos);
  if (e.offset === 0) return 0n;
  if (e.size < 0) return verifyDeleted(ctx, e.offset, e.id);
  try {
    return await verifyNeedle(ctx, e.offset, e.id, e.size);
  } catch (err) {
    if (err instanceof SizeMismatchError && ctx.width === 4) {
      return verifyNeedle(ctx, e.offset + maxPossibleVolumeSize(4), e.id, e.size);
    }
    throw err;
  }
}

/**
 * Go's CheckVolumeDataIntegrity. Mutates ctx.datSize / ctx.idxSize after repairs. Never throws
 * for content problems: they come back as `error` (the caller makes the volume read-only).
 */
export async function checkVolumeDataIntegrity(ctx: IntegrityContext): Promise<IntegrityResult> {
  const es = indexEntrySize(ctx.width);
  const result = (lastAppendAtNs: bigint, reindexed: number, cut: number, error?: Error): IntegrityResult => ({
    lastAppendAtNs,
    datSize: ctx.datSize,
    idxSize: ctx.idxSize,
    reindexed,
    cut,
    error,
  });
  if (ctx.idxSize % es !== 0) {
    return result(0n, 0, 0, new StorageIoError(`index file's size is ${ctx.idxSize} bytes, maybe corrupted`));
  }
  let reindexed = 0;
  let cut = 0;
  try {
    if (ctx.idxSize === 0) {
      if (!ctx.writable) return result(0n, 0, 0);
      try {
        const r = await repairUnindexedTail(ctx, -1);
        reindexed += r.reindexed;
        cut += r.cut;
      } catch (e) {
        if (!(e instanceof TailNotTornError)) throw e;
        return result(0n, 0, 0, new StorageIoError(`unindexed .dat tail not repaired: ${e.message}`));
      }
      if (ctx.idxSize === 0) return result(0n, reindexed, cut);
    }
    let tailPos = await findDatTailEntryPos(ctx);
    if (tailPos < 0) return result(0n, reindexed, cut);
    if (ctx.writable) {
      try {
        const r = await repairUnindexedTail(ctx, tailPos);
        reindexed += r.reindexed;
        cut += r.cut;
        if (r.reindexed > 0) tailPos = await findDatTailEntryPos(ctx);
      } catch (e) {
        if (!(e instanceof TailNotTornError)) throw e;
        // Go logs "unindexed .dat tail not repaired" and lets the check below decide.
      }
    }
    const lastAppendAtNs = await checkTailRow(ctx, tailPos);
    return result(lastAppendAtNs, reindexed, cut);
  } catch (e) {
    const err = e as Error;
    return result(0n, reindexed, cut, new StorageIoError(`CheckVolumeDataIntegrity ${ctx.idxName} failed: ${err.message}`, { cause: e }));
  }
}

/**
 * Go's rebuildIdxFile scan: index rows for every record in the .dat, stopping at the first record
 * that is empty-with-id-0, has a negative size, or runs past the end. Records with size 0 become
 * tombstone rows (-1), as Go writes them.
 */
export async function rebuildIndexRows(
  dat: BackendStorageFile,
  datSize: number,
  firstNeedleOffset: number,
  width: OffsetWidth,
  version: Version,
): Promise<Buffer> {
  const rows: Buffer[] = [];
  const header = Buffer.allocUnsafe(NEEDLE_HEADER_SIZE);
  let at = firstNeedleOffset;
  for (;;) {
    const got = await dat.readAt(header, 0, NEEDLE_HEADER_SIZE, at);
    if (got < NEEDLE_HEADER_SIZE) break;
    const h = parseNeedleHeader(header);
    if ((h.size === 0 && h.id === 0n) || h.size < 0) break;
    const end = at + actualSize(h.size, version);
    if (end > datSize) break;
    rows.push(idxEntryBytes(h.id, at, h.size > 0 ? h.size : -1, width));
    at = end;
  }
  return Buffer.concat(rows);
}

/**
 * Go's recoverLastModifiedTs for TTL volumes: the AppendAtNs (seconds) of the newest live write,
 * scanning the index backwards. Returns 0 when unknown.
 */
export async function findLastWriteSeconds(
  ctx: Pick<IntegrityContext, 'dat' | 'idx' | 'idxSize' | 'width' | 'version' | 'datName'>,
  compactionRevision: number,
): Promise<number> {
  if (ctx.version !== 3) return 0;
  const es = indexEntrySize(ctx.width);
  const rows = Math.floor(ctx.idxSize / es);
  const scanAll = compactionRevision > 0;
  let budget = 1 << 16;
  const dead = new Set<bigint>();
  let best = 0n;
  const block = 1024;
  for (let end = rows; end > 0; ) {
    const start = Math.max(0, end - block);
    const buf = await preadBuffer(ctx.idx, (end - start) * es, start * es, ctx.datName);
    for (let i = end - start - 1; i >= 0; i--) {
      const e = readIdxEntry(buf, i * es, ctx.width);
      if (dead.has(e.id)) continue;
      if (e.offset === 0 || e.size < 0) {
        dead.add(e.id);
        continue;
      }
      let ts = -1n;
      for (const at of ctx.width === 4 ? [e.offset, e.offset + maxPossibleVolumeSize(4)] : [e.offset]) {
        const hb = Buffer.allocUnsafe(NEEDLE_HEADER_SIZE);
        if ((await ctx.dat.readAt(hb, 0, NEEDLE_HEADER_SIZE, at)) < NEEDLE_HEADER_SIZE) continue;
        const h = parseNeedleHeader(hb);
        if (h.id !== e.id || h.size !== e.size) continue;
        const tb = Buffer.allocUnsafe(TIMESTAMP_SIZE);
        if ((await ctx.dat.readAt(tb, 0, TIMESTAMP_SIZE, at + NEEDLE_HEADER_SIZE + e.size + NEEDLE_CHECKSUM_SIZE)) < TIMESTAMP_SIZE) continue;
        ts = readU64(tb, 0);
        break;
      }
      if (ts < 0n) continue;
      if (ts > best) best = ts;
      if (!scanAll) return Number(best / 1_000_000_000n);
      if (--budget === 0) return 0;
    }
    end = start;
  }
  return Number(best / 1_000_000_000n);
}

