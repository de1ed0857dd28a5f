// Reads of a volume (Go: weed/storage/volume_read.go): whole needles, metadata for streaming,
// raw data ranges, and the synchronous small-record fast path. Reads never take the write lock.
//
// A compaction commit swaps the needle map and the .dat in one synchronous step while reads go
// on. An async read therefore takes the map and a pin on the data file together, synchronously,
// and does all its preads through that pin (backend/pinned-file.ts): it completes from the
// generation it started on. The synchronous small-read path needs no pin (lookup and pread run
// in one turn of the event loop, the swap cannot come between). A read spanning several calls
// (streaming) holds a VolumeReader from openReader() until it is done.
import { readBufferAt, readFullAt, type BackendStorageFile, type ReadableFile } from '../backend/backend-file.js';
import { PinnedFile, type FilePin } from '../backend/pinned-file.js';
import type { NeedleMap } from '../needle-map.js';
import {
  META_PREFIX_LENGTH,
  decodeNeedle,
  decodeNeedleMeta,
  hasLastModified,
  hasTtl,
  metaTailLength,
  newNeedle,
  parseNeedleHeader,
  type Needle,
  type NeedleMeta,
} from '../needle.js';
import { CookieMismatchError, NeedleDeletedError, NeedleExpiredError, NeedleNotFoundError, SizeMismatchError, StorageError } from '../storage-errors.js';
import { NEEDLE_HEADER_SIZE, NEEDLE_PADDING_SIZE, actualSize, needleIdHi, needleIdLo, needleIdToHex, wrappedOffset, type NeedleId, type Size } from '../types.js';
import { nowNs, SYNC_READ_LIMIT, type ReadOptions } from './options.js';
import { VolumeState } from './state.js';

/**
 * Reads bound to the .dat generation current when the reader was opened (see openReader): meta,
 * whole needles and data ranges all come from that file, even after a compaction commit.
 */
export interface VolumeReader {
  readNeedleMeta(id: NeedleId, opts?: ReadOptions): Promise<NeedleMeta>;
  readNeedle(id: NeedleId, opts?: ReadOptions): Promise<Needle>;
  readDataRange(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Lets go of the pinned file (idempotent); must be called once the read is over, however it ended. */
  release(): void;
}

/** A record's cookie, data position/length and stored checksum (what streaming and unchanged checks need). */
export interface StoredMeta {
  cookie: number;
  dataSize: number;
  dataOffset: number;
  storedChecksum: number;
  size: Size;
}

export class VolumeReads extends VolumeState {
  /** Each .dat (the current one, and ones swapped out while reads held them) behind a pin count. */
  private readonly pinnables = new WeakMap<BackendStorageFile, PinnedFile>();

  /** A pin on the current .dat (the volume must be open). */
  private pinCurrent(): FilePin {
    const dat = this.dat!;
    let p = this.pinnables.get(dat);
    if (!p) {
      p = new PinnedFile(dat);
      this.pinnables.set(dat, p);
    }
    return p.pin();
  }

  /**
   * The .dat `old` is no longer the volume's (swapped by a compaction commit, or the volume
   * closed): closed now when no read holds it (the close is returned), else when the last reader
   * lets go (null).
   */
  protected retireData(old: BackendStorageFile): Promise<void> | null {
    const p = this.pinnables.get(old);
    if (!p) return old.close().catch(() => undefined);
    this.pinnables.delete(old);
    return p.retire();
  }

  /** Runs an async read on the current generation (map and pinned .dat taken together). */
  private async withGeneration<T>(read: (nm: NeedleMap, f: FilePin) => Promise<T>): Promise<T> {
    this.assertOpen();
    const pin = this.pinCurrent();
    try {
      return await read(this.nm, pin);
    } finally {
      pin.release();
    }
  }

  /**
   * A reader pinned to the current generation, for reads that take several calls (a big needle's
   * meta, then its data in chunks): they keep reading the .dat they started on, also after a
   * compaction commit swapped it. release() it when done; a reader that stops reading is cut off
   * RETIRED_PIN_IDLE_MS after such a swap (its next read fails).
   */
  openReader(): VolumeReader {
    this.assertOpen();
    const nm = this.nm;
    const pin = this.pinCurrent();
    return {
      readNeedleMeta: (id, opts = {}) => this.readNeedleMetaIn(nm, pin, id, opts),
      readNeedle: (id, opts = {}) => this.readNeedleIn(nm, pin, id, opts),
      readDataRange: (buf, offset, length, position) => pin.readAt(buf, offset, length, position),
      release: () => pin.release(),
    };
  }

  /** Index entry of a needle, if any (offset in bytes, size possibly negative = deleted). */
  lookup(id: NeedleId): { offset: number; size: Size } | undefined {
    return this.nm.get(id);
  }

  /** Where to retry a read that failed with `e` at `offset` (wrappedOffset), or -1. */
  protected retryOffset(e: unknown, offset: number): number {
    return e instanceof SizeMismatchError ? wrappedOffset(this.offsetWidth, offset) : -1;
  }

  /** Runs `read` at `offset`, and once more at the wrapped position when it found another record. */
  protected async readWrapped<T>(offset: number, read: (at: number) => Promise<T>): Promise<T> {
    try {
      return await read(offset);
    } catch (e) {
      const at = this.retryOffset(e, offset);
      if (at < 0) throw e;
      return read(at);
    }
  }

  /**
   * Reads and decodes the record at `offset` with index size `size` (wrap-around retry), from the
   * current .dat. For writes: they hold the write lock, so the .dat cannot be swapped meanwhile.
   */
  protected readRecord(offset: number, size: Size): Promise<Needle> {
    return this.readRecordFrom(this.dat!, offset, size);
  }

  /** readRecord from the given generation's file. */
  private async readRecordFrom(f: ReadableFile, offset: number, size: Size): Promise<Needle> {
    const len = actualSize(size, this.version);
    const buf = Buffer.allocUnsafe(len);
    await readFullAt(f, buf, 0, len, offset);
    try {
      return decodeNeedle(buf, this.version, { expectedSize: size });
    } catch (e) {
      const at = this.retryOffset(e, offset);
      if (at >= 0) {
        // nothing readable at the wrapped position: the first mismatch stands
        await readFullAt(f, buf, 0, len, at).catch(() => {
          throw e;
        });
        return decodeNeedle(buf, this.version, { expectedSize: size });
      }
      if (e instanceof SizeMismatchError) {
        const h = parseNeedleHeader(buf);
        throw new SizeMismatchError(
          `size mismatch: entry not found: offset ${offset} found id ${needleIdToHex(h.id)} size ${h.size}, expected size ${size}`,
        );
      }
      throw e;
    }
  }

  /**
   * readRecord with one synchronous pread, for records within SYNC_READ_LIMIT on a backend with
   * synchronous I/O; undefined when the async readRecord must decide (larger record, remote file,
   * short read, a size mismatch that may be the wrap-around). Other decoding errors are thrown.
   */
  protected readRecordSync(offset: number, size: Size): Needle | undefined {
    const len = actualSize(size, this.version);
    if (len > SYNC_READ_LIMIT || !this.datSync) return undefined;
    const buf = Buffer.allocUnsafe(len);
    if (this.datSync.readAtSync(buf, 0, len, offset) < len) return undefined;
    try {
      return decodeNeedle(buf, this.version, { expectedSize: size });
    } catch (e) {
      if (e instanceof SizeMismatchError) return undefined;
      throw e;
    }
  }

  /** Resolves the index entry for a read in `nm`: [offset, size] or throws not found / deleted. */
  private resolveForRead(nm: NeedleMap, id: NeedleId, opts: ReadOptions): [number, Size] {
    if (!nm.getHL(needleIdHi(id), needleIdLo(id)) || nm.foundUnits === 0) throw new NeedleNotFoundError();
    let size = nm.foundSize;
    if (size < 0) {
      if (opts.readDeleted && size !== -1) size = -size;
      else throw new NeedleDeletedError();
    }
    return [nm.foundUnits * NEEDLE_PADDING_SIZE, size];
  }

  private checkTtlAndCookie(n: Needle, opts: ReadOptions): void {
    if (hasTtl(n)) {
      const minutes = n.ttl.minutes();
      if (minutes > 0 && hasLastModified(n)) {
        if (nowNs() >= n.appendAtNs + BigInt(minutes) * 60_000_000_000n) throw new NeedleExpiredError();
      }
    }
    if (opts.cookie !== undefined && n.cookie !== opts.cookie >>> 0) {
      throw new CookieMismatchError(opts.cookie >>> 0, n.cookie);
    }
  }

  /**
   * Reads a whole needle (Go's readNeedle): not found / deleted / expired / cookie mismatch as
   * typed errors; CRC verified (legacy form accepted). A size-0 entry reads as an empty needle.
   */
  readNeedle(id: NeedleId, opts: ReadOptions = {}): Promise<Needle> {
    return this.withGeneration((nm, f) => this.readNeedleIn(nm, f, id, opts));
  }

  private async readNeedleIn(nm: NeedleMap, f: ReadableFile, id: NeedleId, opts: ReadOptions): Promise<Needle> {
    const [offset, size] = this.resolveForRead(nm, id, opts);
    if (size === 0) return newNeedle({ id, cookie: opts.cookie ?? 0, checksum: 0 });
    const n = await this.readRecordFrom(f, offset, size);
    this.checkTtlAndCookie(n, opts);
    return n;
  }

  /**
   * The small-read hot path: one synchronous pread for a record of at most SYNC_READ_LIMIT bytes,
   * avoiding a promise and a thread-pool hop per request (page-cache hits take microseconds).
   * Returns undefined when the async path must be used (empty entry, larger record, a record that
   * needs the 4-byte-offset wrap-around retry); throws the same typed errors as readNeedle.
   */
  readNeedleSync(id: NeedleId, opts: ReadOptions = {}): Needle | undefined {
    this.assertOpen();
    const [offset, size] = this.resolveForRead(this.nm, id, opts);
    if (size === 0) return undefined;
    const needle = this.readRecordSync(offset, size);
    if (needle) this.checkTtlAndCookie(needle, opts);
    return needle;
  }

  /**
   * Reads a needle's metadata without its data, for streaming large needles: then read the data
   * with readDataRange(meta.dataOffset + pos, ...) and verify crc32c(data) against
   * meta.storedChecksum (raw or legacy form, crcMatches()). Version 1 volumes have no DataSize
   * field: their needles are read whole and the meta built from them.
   */
  readNeedleMeta(id: NeedleId, opts: ReadOptions = {}): Promise<NeedleMeta> {
    return this.withGeneration((nm, f) => this.readNeedleMetaIn(nm, f, id, opts));
  }

  private async readNeedleMetaIn(nm: NeedleMap, f: ReadableFile, id: NeedleId, opts: ReadOptions): Promise<NeedleMeta> {
    const [offset, size] = this.resolveForRead(nm, id, opts);
    if (size === 0 || this.version === 1) {
      const n = size === 0 ? newNeedle({ id, cookie: opts.cookie ?? 0, checksum: 0 }) : await this.readRecordFrom(f, offset, size);
      if (size !== 0) this.checkTtlAndCookie(n, opts);
      const meta = n as NeedleMeta;
      meta.dataOffset = offset + NEEDLE_HEADER_SIZE;
      meta.storedChecksum = n.checksum;
      return meta;
    }
    const meta = await this.readWrapped(offset, (at) => this.readMetaAt(f, at, size));
    this.checkTtlAndCookie(meta, opts);
    return meta;
  }

  /**
   * Cookie, data position/length and stored checksum of the record at `offset` (all versions;
   * wrap-around retry). For writes: they hold the write lock, so the .dat cannot be swapped.
   */
  protected readStoredMeta(offset: number, size: Size): Promise<StoredMeta> {
    const f = this.dat!;
    return this.readWrapped(offset, async (o): Promise<StoredMeta> => {
      if (this.version !== 1) return this.readMetaAt(f, o, size);
      const h = parseNeedleHeader(await readBufferAt(f, NEEDLE_HEADER_SIZE, o));
      if (h.size !== size) throw new SizeMismatchError();
      const c = await readBufferAt(f, 4, o + NEEDLE_HEADER_SIZE + size);
      return { cookie: h.cookie, dataSize: size, dataOffset: o + NEEDLE_HEADER_SIZE, storedChecksum: c.readUInt32BE(0), size };
    });
  }

  private async readMetaAt(f: ReadableFile, offset: number, size: Size): Promise<NeedleMeta> {
    const prefix = await readBufferAt(f, META_PREFIX_LENGTH, offset);
    const h = parseNeedleHeader(prefix);
    if (h.size !== size) throw new SizeMismatchError();
    const dataSize = prefix.readUInt32BE(NEEDLE_HEADER_SIZE);
    const tailLen = metaTailLength(size, dataSize, this.version);
    if (tailLen < 0 || tailLen > 128 * 1024) {
      throw new StorageError('NEEDLE_CORRUPTED', `invalid needle meta size ${tailLen}: DataSize=${dataSize}, size=${size}, offset=${offset}`);
    }
    const tail = await readBufferAt(f, tailLen, offset + META_PREFIX_LENGTH + dataSize);
    return decodeNeedleMeta(prefix, tail, this.version, offset, size);
  }

  /**
   * Reads up to `length` data bytes at absolute .dat position `position` into buf[offset..], from
   * the current .dat (one call: a position found earlier may belong to a generation a compaction
   * commit has replaced since; reads spanning calls use openReader()).
   */
  readDataRange(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.withGeneration((_nm, f) => f.readAt(buf, offset, length, position));
  }
}
