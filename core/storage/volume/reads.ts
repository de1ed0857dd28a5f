// Reads of a volume (Go: weed/storage/volume_read.go): whole needles, metadata for streaming,
// raw data ranges, and the synchronous small-record fast path. Reads never take the write lock.
import { readBufferAt, readFullAt } from '../backend/backend-file.js';
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

/** A record's cookie, data position/length and stored checksum (what streaming and unchanged checks need). */
export interface StoredMeta {
  cookie: number;
  dataSize: number;
  dataOffset: number;
  storedChecksum: number;
  size: Size;
}

export class VolumeReads extends VolumeState {
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

  /** Reads and decodes the record at `offset` with index size `size` (wrap-around retry). */
  protected async readRecord(offset: number, size: Size): Promise<Needle> {
    const len = actualSize(size, this.version);
    const buf = Buffer.allocUnsafe(len);
    await readFullAt(this.dat!, buf, 0, len, offset);
    try {
      return decodeNeedle(buf, this.version, { expectedSize: size });
    } catch (e) {
      const at = this.retryOffset(e, offset);
      if (at >= 0) {
        // nothing readable at the wrapped position: the first mismatch stands
        await readFullAt(this.dat!, buf, 0, len, at).catch(() => {
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

  /** Resolves the index entry for a read: [offset, size] or throws not found / deleted. */
  private resolveForRead(id: NeedleId, opts: ReadOptions): [number, Size] {
    const nm = this.nm;
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
  async readNeedle(id: NeedleId, opts: ReadOptions = {}): Promise<Needle> {
    this.assertOpen();
    const [offset, size] = this.resolveForRead(id, opts);
    if (size === 0) return newNeedle({ id, cookie: opts.cookie ?? 0, checksum: 0 });
    const n = await this.readRecord(offset, size);
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
    const [offset, size] = this.resolveForRead(id, opts);
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
  async readNeedleMeta(id: NeedleId, opts: ReadOptions = {}): Promise<NeedleMeta> {
    this.assertOpen();
    const [offset, size] = this.resolveForRead(id, opts);
    if (size === 0 || this.version === 1) {
      const n = size === 0 ? newNeedle({ id, cookie: opts.cookie ?? 0, checksum: 0 }) : await this.readRecord(offset, size);
      if (size !== 0) this.checkTtlAndCookie(n, opts);
      const meta = n as NeedleMeta;
      meta.dataOffset = offset + NEEDLE_HEADER_SIZE;
      meta.storedChecksum = n.checksum;
      return meta;
    }
    const meta = await this.readWrapped(offset, (at) => this.readMetaAt(at, size));
    this.checkTtlAndCookie(meta, opts);
    return meta;
  }

  /** Cookie, data position/length and stored checksum of the record at `offset` (all versions; wrap-around retry). */
  protected readStoredMeta(offset: number, size: Size): Promise<StoredMeta> {
    return this.readWrapped(offset, async (o): Promise<StoredMeta> => {
      if (this.version !== 1) return this.readMetaAt(o, size);
      const h = parseNeedleHeader(await readBufferAt(this.dat!, NEEDLE_HEADER_SIZE, o));
      if (h.size !== size) throw new SizeMismatchError();
      const c = await readBufferAt(this.dat!, 4, o + NEEDLE_HEADER_SIZE + size);
      return { cookie: h.cookie, dataSize: size, dataOffset: o + NEEDLE_HEADER_SIZE, storedChecksum: c.readUInt32BE(0), size };
    });
  }

  private async readMetaAt(offset: number, size: Size): Promise<NeedleMeta> {
    const prefix = await readBufferAt(this.dat!, META_PREFIX_LENGTH, offset);
    const h = parseNeedleHeader(prefix);
    if (h.size !== size) throw new SizeMismatchError();
    const dataSize = prefix.readUInt32BE(NEEDLE_HEADER_SIZE);
    const tailLen = metaTailLength(size, dataSize, this.version);
    if (tailLen < 0 || tailLen > 128 * 1024) {
      throw new StorageError('NEEDLE_CORRUPTED', `invalid needle meta size ${tailLen}: DataSize=${dataSize}, size=${size}, offset=${offset}`);
    }
    const tail = await readBufferAt(this.dat!, tailLen, offset + META_PREFIX_LENGTH + dataSize);
    return decodeNeedleMeta(prefix, tail, this.version, offset, size);
  }

  /** Reads up to `length` data bytes at absolute .dat position `position` into buf[offset..]. */
  async readDataRange(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.assertOpen();
    return this.dat!.readAt(buf, offset, length, position);
  }
}
