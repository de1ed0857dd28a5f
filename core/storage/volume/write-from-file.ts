// Writes whose data is a spooled file (large uploads): the same semantics as write(), with the
// record copied into the .dat through one buffer and the stored data compared by streaming, so a
// large body is never held whole.
import { open } from 'node:fs/promises';
import type { BackendStorageFile } from '../backend/backend-file.js';
import { Crc32c, crcMatches } from '../crc32c.js';
import { preadUpTo } from '../file-io.js';
import { encodeNeedleFrame, type Needle } from '../needle.js';
import { StorageIoError, VolumeReadOnlyError } from '../storage-errors.js';
import { actualSize } from '../types.js';
import { FILE_COPY_CHUNK, type FileDataSource, type WriteOptions, type WriteResult } from './options.js';
import type { StoredMeta } from './reads.js';
import { VolumeWrites } from './writes.js';

export abstract class VolumeFileWrites extends VolumeWrites {
  /**
   * Appends a needle whose data is the content of a file (large uploads spooled to disk), with the
   * same semantics as write(): cookie check on overwrite, unchanged detection (the stored data is
   * compared by streaming), read-only / full checks, fsync batching, index row, map and counters.
   * The record is copied into the .dat in FILE_COPY_CHUNK pieces through one buffer and the data
   * verified against `src.checksum` on the way; on any failure the .dat is truncated back so no
   * partial record remains. `n.data` is ignored; n.checksum / n.dataSize / n.size are set here.
   */
  writeFromFile(n: Needle, src: FileDataSource, opts: WriteOptions = {}): Promise<WriteResult> {
    n.checksum = src.checksum >>> 0;
    n.dataSize = src.dataSize;
    const checkCookie = opts.checkCookie ?? true;
    if (!opts.fsync) {
      return this.lock.run(async () => {
        this.assertOpen();
        if (this.isReadOnly()) throw new VolumeReadOnlyError(this.id);
        const r = await this.appendWriteFromFile(n, src, checkCookie);
        if (!r.unchanged) this.publishWrite(n, r.offset);
        return r;
      });
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.enqueueSyncWrite({ needle: n, file: src, checkCookie, bytes: actualSize(src.dataSize, this.version), resolve, reject });
    });
  }

  /** appendWrite() for a needle whose data is in `src`. */
  protected async appendWriteFromFile(n: Needle, src: FileDataSource, checkCookie: boolean): Promise<WriteResult> {
    this.applyVolumeTtl(n);
    const unchanged = await this.findUnchangedFromFile(n, src);
    if (unchanged) return unchanged;
    let offset = this.prepareAppend(n, src.dataSize, checkCookie);
    if (typeof offset !== 'number') offset = await offset;
    const frame = encodeNeedleFrame(n, src.dataSize, this.version);
    n.size = frame.size;
    n.dataSize = src.dataSize;
    const before = this.datSize;
    try {
      await copyRecordFromFile(this.dat!, frame.prefix, src, frame.suffix, offset);
    } catch (e) {
      await this.dat!.truncate(before).catch(() => undefined);
      throw this.appendFailed(frame.length, offset, e);
    }
    this.appended(offset + frame.length);
    this.lastAppendAtNs = n.appendAtNs;
    return { offset, size: n.size, dataSize: n.dataSize, unchanged: false };
  }

  /**
   * Go's isFileUnchanged for a needle whose data is in `src`: same cookie, a stored checksum that
   * matches, and the same data bytes, compared by streaming both (never held whole).
   */
  private async findUnchangedFromFile(n: Needle, src: FileDataSource): Promise<WriteResult | undefined> {
    const c = this.unchangedCandidate(n);
    if (!c) return undefined;
    const { offset, size } = c;
    let old: StoredMeta;
    try {
      old = await this.readStoredMeta(offset, size);
    } catch {
      return undefined;
    }
    if (old.cookie !== n.cookie || old.dataSize !== src.dataSize || !crcMatches(old.storedChecksum, n.checksum)) return undefined;
    try {
      if (!(await dataEqualsFile(this.dat!, old.dataOffset, src))) return undefined;
    } catch {
      return undefined;
    }
    n.dataSize = old.dataSize;
    n.size = old.size;
    return { offset, size: old.size, dataSize: old.dataSize, unchanged: true };
  }
}

/** Writes prefix + the file's data + suffix at `offset`, through one buffer, verifying the data CRC. */
async function copyRecordFromFile(dat: BackendStorageFile, prefix: Buffer, src: FileDataSource, suffix: Buffer, offset: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(FILE_COPY_CHUNK, prefix.length + src.dataSize + suffix.length));
  let pos = offset;
  let fill = 0;
  const flush = async () => {
    await dat.writeAt(buf, 0, fill, pos);
    pos += fill;
    fill = 0;
  };
  const put = async (b: Buffer) => {
    for (let i = 0; i < b.length; ) {
      const k = Math.min(b.length - i, buf.length - fill);
      b.copy(buf, fill, i, i + k);
      fill += k;
      i += k;
      if (fill === buf.length) await flush();
    }
  };
  const fh = await open(src.path, 'r');
  try {
    await put(prefix);
    const crc = new Crc32c();
    for (let done = 0; done < src.dataSize; ) {
      const want = Math.min(src.dataSize - done, buf.length - fill);
      const got = await preadUpTo(fh, buf, fill, want, done);
      if (got < want) throw new StorageIoError(`${src.path}: read ${done + got} of ${src.dataSize} bytes: unexpected EOF`);
      crc.update(buf.subarray(fill, fill + got));
      fill += got;
      done += got;
      if (fill === buf.length) await flush();
    }
    if (crc.digest() !== src.checksum >>> 0) {
      throw new StorageIoError(`${src.path}: data checksum ${crc.digest()} does not match the expected ${src.checksum >>> 0}`);
    }
    await put(suffix);
    if (fill > 0) await flush();
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** True if the .dat bytes at `position` equal the whole content of `src` (compared chunk by chunk). */
async function dataEqualsFile(dat: BackendStorageFile, position: number, src: FileDataSource): Promise<boolean> {
  const chunk = Math.min(FILE_COPY_CHUNK / 2, Math.max(src.dataSize, 1));
  const a = Buffer.allocUnsafe(chunk);
  const b = Buffer.allocUnsafe(chunk);
  const fh = await open(src.path, 'r');
  try {
    for (let done = 0; done < src.dataSize; ) {
      const want = Math.min(chunk, src.dataSize - done);
      const [ga, gb] = await Promise.all([dat.readAt(a, 0, want, position + done), preadUpTo(fh, b, 0, want, done)]);
      if (ga !== want || gb !== want) return false;
      if (Buffer.compare(a.subarray(0, want), b.subarray(0, want)) !== 0) return false;
      done += want;
    }
    return true;
  } finally {
    await fh.close().catch(() => undefined);
  }
}
