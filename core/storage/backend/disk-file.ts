// The local-disk backend of a volume's data file (Go: weed/storage/backend/disk_file.go), with
// synchronous variants for the small-record hot paths.
import { constants as fsConstants, ftruncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { preadUpTo, preadUpToSync, pwriteFull, pwriteFullSync } from '../file-io.js';
import type { SyncBackendStorageFile } from './backend-file.js';

export const DISK_BACKEND_TYPE = 'disk';

export class DiskFile implements SyncBackendStorageFile {
  readonly type = DISK_BACKEND_TYPE;
  private readonly fd: number;

  constructor(
    private readonly fh: FileHandle,
    readonly name: string,
  ) {
    this.fd = fh.fd;
  }

  /**
   * Opens `path`: 'r+' (existing, read-write), 'r' (existing, read-only) or 'create' (created or
   * emptied, read-write, mode 0644).
   */
  static async open(path: string, mode: 'r+' | 'r' | 'create'): Promise<DiskFile> {
    const flags = mode === 'create' ? fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC : mode;
    return new DiskFile(await open(path, flags, 0o644), path);
  }

  readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return preadUpTo(this.fh, buf, offset, length, position);
  }

  writeAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    return pwriteFull(this.fh, buf, offset, length, position);
  }

  readAtSync(buf: Uint8Array, offset: number, length: number, position: number): number {
    return preadUpToSync(this.fd, buf, offset, length, position);
  }

  writeAtSync(buf: Uint8Array, offset: number, length: number, position: number): void {
    pwriteFullSync(this.fd, buf, offset, length, position);
  }

  truncate(size: number): Promise<void> {
    return this.fh.truncate(size);
  }

  truncateSync(size: number): void {
    ftruncateSync(this.fd, size);
  }

  async stat(): Promise<{ size: number; mtimeMs: number }> {
    const s = await this.fh.stat();
    return { size: s.size, mtimeMs: s.mtimeMs };
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
