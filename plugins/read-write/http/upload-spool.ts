// Spooling of large upload bodies, in bounded memory where Go's parseUpload
// (weed/storage/needle/needle_parse_upload.go) reads the body into a bytes.Buffer: a body (raw, or
// the file part of a multipart form) that is larger than SPOOL_THRESHOLD is written to a temp file in the target
// volume's data directory (`<dir>/.upload-<random>.tmp`) instead of being collected in memory. The
// same pass computes what the write needs from the data: its length, CRC-32C, MD5 (when the client
// sent a Content-MD5), the first bytes (content sniffing, gzip magic) and the last four (gzip
// ISIZE). Reading the request waits while a file write is pending (one write in flight, two
// staging buffers), so a fast client cannot fill memory faster than the disk takes it.
//
// Small bodies stay on the in-memory path: a BodyCollector keeps chunks in memory until they pass
// the threshold and only then moves them to a spool file.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { Crc32c } from '../../../core/storage/crc32c.js';

/** Bodies up to this size are kept in memory (the fast path for small writes). */
export const SPOOL_THRESHOLD = 4 * 1024 * 1024;
/** Size of each of the two staging buffers between the request and the spool file. */
const STAGE_SIZE = 1024 * 1024;
/** Leading bytes kept for content sniffing (Go's DetectContentType looks at 512). */
export const SPOOL_HEAD_SIZE = 512;

/** Where and above which size bodies are spooled. */
export interface SpoolTarget {
  /** Directories to try in order (the target volume's data directory first). */
  dirs: string[];
  /** Bodies larger than this are spooled (default SPOOL_THRESHOLD). */
  threshold?: number;
}

/** Names of spool files (`.upload-<24 hex>.tmp`). */
const SPOOL_NAME = /^\.upload-[0-9a-f]{24}\.tmp$/;

/**
 * Removes spool files left in `dirs` by a process that died mid-upload: only those last modified
 * before `beforeMs` (this process's start), so uploads of this process are never touched.
 */
export async function removeStaleSpoolFiles(dirs: string[], beforeMs: number): Promise<number> {
  let removed = 0;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!SPOOL_NAME.test(name)) continue;
      const path = join(dir, name);
      try {
        if ((await stat(path)).mtimeMs >= beforeMs) continue;
        await unlink(path);
        removed++;
      } catch {
        // gone already, or not ours to remove
      }
    }
  }
  return removed;
}

/** A failure of the spool file itself (disk full, I/O error): the write answers 500, not 400. */
export class SpoolError extends Error {}

/** Node error → SpoolError with the file named. */
function spoolError(what: string, path: string, e: unknown): SpoolError {
  return new SpoolError(`${what} ${path}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** A temp file holding one upload's data, with the length, CRC-32C, MD5, head and tail of what was written. */
export class SpoolFile {
  /** Bytes appended so far. */
  size = 0;
  /** The first up to SPOOL_HEAD_SIZE bytes. */
  head: Buffer = Buffer.alloc(0);
  private readonly crc = new Crc32c();
  private readonly md5: Hash | undefined;
  private md5Digest: string | undefined;
  private readonly tail4 = Buffer.alloc(4);
  private tailLen = 0;
  private fh: FileHandle | null;
  private stage = Buffer.allocUnsafe(STAGE_SIZE);
  private spare = Buffer.allocUnsafe(STAGE_SIZE);
  private stageLen = 0;
  /** File position of the next flushed stage. */
  private written = 0;
  private inflight: Promise<void> | null = null;
  private failure: unknown;
  private removed = false;

  private constructor(
    readonly path: string,
    fh: FileHandle,
    wantMd5: boolean,
  ) {
    this.fh = fh;
    this.md5 = wantMd5 ? createHash('md5') : undefined;
  }

  /** Creates an empty spool file in the first directory of `dirs` that takes one. */
  static async create(dirs: string[], wantMd5: boolean): Promise<SpoolFile> {
    let last: unknown;
    for (const dir of dirs.length > 0 ? dirs : [tmpdir()]) {
      const path = join(dir, `.upload-${randomBytes(12).toString('hex')}.tmp`);
      try {
        const fh = await open(path, 'wx', 0o600);
        return new SpoolFile(path, fh, wantMd5);
      } catch (e) {
        last = spoolError('create upload spool file', path, e);
      }
    }
    throw last;
  }

  /** Raw CRC-32C of everything appended (complete after finish()). */
  get checksum(): number {
    return this.crc.digest();
  }

  /** The last (up to) four bytes appended. */
  get tail(): Buffer {
    return this.tail4.subarray(4 - this.tailLen);
  }

  /** Base64 MD5 of everything appended; only when created with wantMd5 (after finish()). */
  md5Base64(): string {
    this.md5Digest ??= this.md5?.digest('base64') ?? '';
    return this.md5Digest;
  }

  /**
   * Appends a chunk (copied; the caller may reuse it). Returns a promise only when the caller must
   * wait (a staging buffer was handed to the disk while the previous write is still pending).
   */
  append(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.length === 0) return undefined;
    this.size += chunk.length;
    if (this.head.length < SPOOL_HEAD_SIZE) {
      const take = chunk.subarray(0, SPOOL_HEAD_SIZE - this.head.length);
      this.head = Buffer.concat([this.head, take]);
    }
    if (chunk.length >= 4) {
      this.tail4.set(chunk.subarray(chunk.length - 4));
      this.tailLen = 4;
    } else {
      this.tail4.copyWithin(0, chunk.length);
      this.tail4.set(chunk, 4 - chunk.length);
      this.tailLen = Math.min(4, this.tailLen + chunk.length);
    }
    if (this.stageLen + chunk.length < STAGE_SIZE) {
      this.stage.set(chunk, this.stageLen);
      this.stageLen += chunk.length;
      return undefined;
    }
    return this.appendSlow(chunk);
  }

  private async appendSlow(chunk: Uint8Array): Promise<void> {
    for (let i = 0; i < chunk.length; ) {
      const k = Math.min(chunk.length - i, STAGE_SIZE - this.stageLen);
      this.stage.set(chunk.subarray(i, i + k), this.stageLen);
      this.stageLen += k;
      i += k;
      if (this.stageLen === STAGE_SIZE) await this.flush();
    }
  }

  /** Hands the filled stage to the disk (after the previous write finished) and switches buffers. */
  private async flush(): Promise<void> {
    await this.settle();
    const buf = this.stage;
    const len = this.stageLen;
    const pos = this.written;
    const fh = this.fh;
    if (!fh) throw new SpoolError(`upload spool file ${this.path} is closed`);
    const data = buf.subarray(0, len);
    this.crc.update(data);
    this.md5?.update(data);
    this.written += len;
    this.inflight = (async () => {
      for (let done = 0; done < len; ) {
        const { bytesWritten } = await fh.write(buf, done, len - done, pos + done);
        if (bytesWritten <= 0) throw new Error(`short write at offset ${pos + done}`);
        done += bytesWritten;
      }
    })().catch((e: unknown) => {
      this.failure ??= spoolError('write upload spool file', this.path, e);
    });
    this.stage = this.spare;
    this.spare = buf;
    this.stageLen = 0;
  }

  /** Waits for the pending write; throws its failure. */
  private async settle(): Promise<void> {
    if (this.inflight) {
      await this.inflight;
      this.inflight = null;
    }
    if (this.failure) throw this.failure;
  }

  /** Writes what is staged and closes the file (it stays on disk until remove()). */
  async finish(): Promise<void> {
    if (this.stageLen > 0) await this.flush();
    await this.settle();
    const fh = this.fh;
    this.fh = null;
    try {
      await fh?.close();
    } catch (e) {
      throw spoolError('close upload spool file', this.path, e);
    }
  }

  /** Closes (if needed) and deletes the file; safe to call more than once, never throws. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await this.inflight?.catch(() => undefined);
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

/** What a BodyCollector gathered: the bytes in memory, or a finished spool file. */
export type CollectedBody = { data: Buffer; spool?: undefined } | { data: Buffer; spool: SpoolFile };

/**
 * Collects one body (or multipart part) with a size limit: in memory while it stays at or under
 * the threshold (or when no spool target is given), else in a spool file. `onOverLimit` builds the
 * error thrown as soon as the total passes `limit`.
 */
export class BodyCollector {
  private chunks: Buffer[] = [];
  private total = 0;
  private spool: SpoolFile | null = null;
  private readonly threshold: number;

  constructor(
    private readonly target: SpoolTarget | undefined,
    private readonly limit: number,
    private readonly onOverLimit: () => Error,
    private readonly opts: { wantMd5: boolean; copyChunks: boolean; spoolFromStart?: boolean },
  ) {
    this.threshold = target?.threshold ?? SPOOL_THRESHOLD;
  }

  /** Adds a chunk; returns a promise only when the caller must wait before reading more. */
  push(c: Buffer): Promise<void> | undefined {
    this.total += c.length;
    if (this.total > this.limit) throw this.onOverLimit();
    if (this.spool) return this.spool.append(c);
    if (this.target && (this.opts.spoolFromStart || this.total > this.threshold)) return this.spill(c);
    this.chunks.push(this.opts.copyChunks ? Buffer.from(c) : c);
    return undefined;
  }

  private async spill(c: Buffer): Promise<void> {
    const spool = await SpoolFile.create(this.target!.dirs, this.opts.wantMd5);
    this.spool = spool;
    const chunks = this.chunks;
    this.chunks = [];
    for (const b of chunks) {
      const p = spool.append(b);
      if (p) await p;
    }
    const p = spool.append(c);
    if (p) await p;
  }

  /** Ends the body: the data in memory, or the finished spool file (which the caller then owns). */
  async end(): Promise<CollectedBody> {
    if (this.spool) {
      const spool = this.spool;
      try {
        await spool.finish();
      } catch (e) {
        await spool.remove();
        throw e;
      }
      return { data: Buffer.alloc(0), spool };
    }
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
    this.chunks = [];
    return { data };
  }

  /** Drops whatever was collected (removes a spool file). */
  async discard(): Promise<void> {
    this.chunks = [];
    const spool = this.spool;
    this.spool = null;
    await spool?.remove();
  }
}

/** Uncompressed length from a gzip trailer given the head, the last four bytes and the length; undefined if not gzip. */
export function gzipTrailerSizeOf(head: Uint8Array, tail: Uint8Array, length: number): number | undefined {
  if (length < 18 || head.length < 2 || tail.length < 4 || head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
  return (tail[0] | (tail[1] << 8) | (tail[2] << 16) | (tail[3] << 24)) >>> 0;
}

/**
 * MD5 (base64) and length of the inflated content of a gzip file, streamed; undefined when it
 * cannot be inflated or inflates past `maxBytes`.
 */
export function md5OfGunzippedFile(path: string, maxBytes: number): Promise<{ md5: string; size: number } | undefined> {
  return new Promise((resolve) => {
    const h = createHash('md5');
    let size = 0;
    let settled = false;
    const src = createReadStream(path, { highWaterMark: 256 * 1024 });
    const z = createGunzip();
    const finish = (v: { md5: string; size: number } | undefined) => {
      if (settled) return;
      settled = true;
      src.destroy();
      z.destroy();
      resolve(v);
    };
    z.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) return finish(undefined);
      h.update(c);
    });
    z.on('error', () => finish(undefined));
    src.on('error', () => finish(undefined));
    z.on('end', () => finish({ md5: h.digest('base64'), size }));
    src.pipe(z);
  });
}

/** Gzips a spool file into a new one (same directories), streamed with backpressure. */
export async function gzipSpool(src: SpoolFile, dirs: string[]): Promise<SpoolFile> {
  const out = await SpoolFile.create(dirs, false);
  try {
    await pipeline(createReadStream(src.path, { highWaterMark: STAGE_SIZE }), createGzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) {
        const p = out.append(c);
        if (p) await p;
      }
    });
    await out.finish();
    return out;
  } catch (e) {
    await out.remove();
    throw e instanceof SpoolError ? e : spoolError('gzip upload spool file', src.path, e);
  }
}
