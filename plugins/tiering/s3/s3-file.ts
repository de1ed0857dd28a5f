// A tiered volume's .dat read from S3 with ranged GETs (Go: weed/storage/backend/s3_backend
// S3BackendStorageFile). Small reads go through a bounded cache of aligned blocks, so reading a
// needle's header and then its body costs one request; large reads go straight to S3. The size and
// modification time come from the .vif, as Go's GetStat.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { BackendStorageFile } from '../../../core/storage/backend/backend-file.js';
import { StorageIoError } from '../../../core/storage/storage-errors.js';
import type { VolumeInfo } from '../../../core/storage/volume-info.js';
import { s3ErrorText } from '../remote/remote-client.js';
import type { S3BackendStorage } from './s3-backend.js';

/** Block size of the range cache; reads up to this size are served from cached blocks. */
export const BLOCK_SIZE = 256 * 1024;
/** Blocks kept per file (BLOCK_SIZE × this bounds the cache's memory). */
export const CACHED_BLOCKS = 16;

export class S3BackendStorageFile implements BackendStorageFile {
  readonly type = 's3';
  private readonly backendOf: () => S3BackendStorage;
  /** block index → bytes (insertion order = least recently used first). */
  private readonly blocks = new Map<number, Promise<Buffer>>();
  private markClosed!: () => void;
  /** Settles when the file is closed: the volume let go of it and no read holds it any more. */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(
    backend: S3BackendStorage | (() => S3BackendStorage),
    readonly name: string,
    private readonly info: VolumeInfo,
  ) {
    this.backendOf = typeof backend === 'function' ? backend : () => backend;
  }

  private get size(): number {
    return this.info.files[0]?.fileSize ?? 0;
  }

  async readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (position < 0) throw new StorageIoError(`negative offset ${position}`);
    const size = this.size;
    if (length <= 0 || (size > 0 && position >= size)) return 0;
    const want = size > 0 ? Math.min(length, size - position) : length;
    if (want > BLOCK_SIZE) return this.fetch(buf, offset, want, position);
    let done = 0;
    while (done < want) {
      const at = position + done;
      const index = Math.floor(at / BLOCK_SIZE);
      const block = await this.block(index);
      const from = at - index * BLOCK_SIZE;
      if (from >= block.length) break;
      const n = Math.min(want - done, block.length - from);
      buf.set(block.subarray(from, from + n), offset + done);
      done += n;
      if (block.length < BLOCK_SIZE) break;
    }
    return done;
  }

  private block(index: number): Promise<Buffer> {
    const hit = this.blocks.get(index);
    if (hit) {
      this.blocks.delete(index);
      this.blocks.set(index, hit);
      return hit;
    }
    const start = index * BLOCK_SIZE;
    const len = this.size > 0 ? Math.min(BLOCK_SIZE, this.size - start) : BLOCK_SIZE;
    const p = (async () => {
      const b = Buffer.allocUnsafe(len);
      const n = await this.fetch(b, 0, len, start);
      return n === len ? b : b.subarray(0, n);
    })();
    // a failed fetch is not cached
    p.catch(() => {
      if (this.blocks.get(index) === p) this.blocks.delete(index);
    });
    this.blocks.set(index, p);
    while (this.blocks.size > CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value as number);
    return p;
  }

  /** One ranged GET into buf[offset..offset+length); returns the bytes received (fewer only at the end). */
  private async fetch(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const backend = this.backendOf();
    let body: AsyncIterable<Uint8Array> | undefined;
    try {
      const out = await backend.client.send(
        new GetObjectCommand({ Bucket: backend.bucket, Key: this.name, Range: `bytes=${position}-${position + length - 1}` }),
      );
      body = out.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (e) {
      throw new StorageIoError(`bucket ${backend.bucket} GetObject ${this.name}: ${s3ErrorText(e)}`);
    }
    let n = 0;
    if (body) {
      for await (const chunk of body) {
        const take = Math.min(chunk.length, length - n);
        buf.set(chunk.subarray(0, take), offset + n);
        n += take;
        if (n >= length) break;
      }
    }
    return n;
  }

  writeAt(_buf: Uint8Array, _offset: number, _length: number, _position: number): Promise<void> {
    return Promise.reject(new StorageIoError(`${this.name}: a remote-tiered data file is read-only`));
  }

  truncate(_size: number): Promise<void> {
    return Promise.reject(new StorageIoError(`${this.name}: a remote-tiered data file cannot be truncated`));
  }

  stat(): Promise<{ size: number; mtimeMs: number }> {
    const f = this.info.files[0];
    if (!f) return Promise.reject(new StorageIoError('remote file info not found'));
    return Promise.resolve({ size: f.fileSize, mtimeMs: f.modifiedTime * 1000 });
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.blocks.clear();
    this.markClosed();
    return Promise.resolve();
  }
}
