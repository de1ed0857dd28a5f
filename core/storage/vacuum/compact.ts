// Compaction of one volume (Go: weed/storage/volume_vacuum.go CompactByIndex): copies the live
// needles of an index snapshot into .cpd/.cpx while the volume keeps serving reads and writes.
//
// The snapshot is taken under the volume's write mutex (the .idx length then, and the records
// those rows point to, never change: both files are append-only); the copy uses its own read
// handles.
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { preadUpTo, pwriteFull } from '../file-io.js';
import { walkIndexFile, writeIdxEntryHL } from '../idx.js';
import { decodeNeedle, encodeNeedle, hasTtl, type Needle } from '../needle.js';
import { NeedleMap } from '../needle-map.js';
import { StorageError, StorageIoError } from '../storage-errors.js';
import { SuperBlock } from '../super-block.js';
import { NEEDLE_PADDING_SIZE, actualSize, indexEntrySize, wrappedOffset, type OffsetWidth, type Size, type Version } from '../types.js';
import { stateOf, type CompactableVolume } from './compactable.js';
import { WriteThrottler } from './throttler.js';

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
    const at = wrappedOffset(width, offset);
    if ((e as { code?: string }).code !== 'SIZE_MISMATCH' || at < 0) throw e;
    return decodeNeedle(await readExact(fh, len, at), version, { expectedSize: size });
  }
}

export function alignUp(n: number): number {
  const r = n % NEEDLE_PADDING_SIZE;
  return r === 0 ? n : n + (NEEDLE_PADDING_SIZE - r);
}

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
export async function compactVolume(v: CompactableVolume, opts: CompactOptions = {}): Promise<CompactResult> {
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

async function copyByIndex(v: CompactableVolume, idxSize: number, sb: SuperBlock, opts: CompactOptions, result: CompactResult): Promise<void> {
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
