// The data file of a volume behind one interface (Go: weed/storage/backend/backend.go
// BackendStorageFile), so a volume's .dat may live on the local disk or, once tiered, in a remote
// store. The .idx stays a local file.
import { StorageIoError } from '../storage-errors.js';

/** A volume's data file: positioned reads and writes, size, sync, close. */
export interface BackendStorageFile {
  /** Storage type for heartbeats and logs: 'disk' for a local file, e.g. 's3' for a remote tier. */
  readonly type: string;
  /** File path or remote key (Go's Name()). */
  readonly name: string;
  /**
   * Reads up to `length` bytes at `position` into buf[offset..]; returns the bytes read, fewer than
   * `length` only at the end of the file (Go's io.ReaderAt).
   */
  readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of buf[offset..offset+length) at `position` (Go's io.WriterAt). */
  writeAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /** Cuts (or extends) the file to `size` bytes. */
  truncate(size: number): Promise<void>;
  /** Size in bytes and modification time (Go's GetStat). */
  stat(): Promise<{ size: number; mtimeMs: number }>;
  /** Makes written bytes durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** What a read needs of a data file: its name (for errors) and positioned reads. */
export type ReadableFile = Pick<BackendStorageFile, 'name' | 'readAt'>;

/**
 * A backend whose I/O can also be done synchronously (the local disk): the small-record hot paths
 * use these to avoid a promise and a thread-pool hop per request. A remote backend has none.
 */
export interface SyncBackendStorageFile extends BackendStorageFile {
  readAtSync(buf: Uint8Array, offset: number, length: number, position: number): number;
  writeAtSync(buf: Uint8Array, offset: number, length: number, position: number): void;
  truncateSync(size: number): void;
}

export function hasSyncIo(f: BackendStorageFile): f is SyncBackendStorageFile {
  return typeof (f as Partial<SyncBackendStorageFile>).readAtSync === 'function';
}

/** Reads exactly `length` bytes at `position` into buf[offset..], or throws an EOF error naming the file. */
export async function readFullAt(f: ReadableFile, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  const got = await f.readAt(buf, offset, length, position);
  if (got < length) {
    throw new StorageIoError(`${f.name}: read ${got} of ${length} bytes at offset ${position}: unexpected EOF`);
  }
}

/** Allocates and reads exactly `length` bytes at `position`. */
export async function readBufferAt(f: ReadableFile, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  await readFullAt(f, buf, 0, length, position);
  return buf;
}
