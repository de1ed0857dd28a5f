// The s3 tier backend (Go: weed/storage/backend/s3_backend/s3_backend.go S3BackendStorage,
// s3_upload.go, s3_download.go): built from a master-announced storage backend's properties, it
// uploads a volume's .dat as one object (multipart, streamed from disk with a bounded number of
// parts in memory), downloads it back, deletes it, and opens it as a volume's remote data file.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, type S3Client, type StorageClass } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { VolumeInfo } from '../../../core/storage/volume-info.js';
import { makeS3Client, s3ErrorText } from '../remote/remote-client.js';
import { S3BackendStorageFile } from './s3-file.js';

/** Progress callback of a transfer: bytes done and percentage (Go's fn(progressed, percentage)). */
export type Progress = (processed: number, percentage: number) => Promise<void> | void;

const DEFAULT_CONCURRENCY = 5;
/** Upload parts in flight at once: each is buffered, so this bounds memory (parts × part size). */
const MAX_PARTS_IN_FLIGHT = 4;
const MIN_PART_SIZE = 8 * 1024 * 1024;
/** S3 allows at most 10000 parts per upload. */
const MAX_PARTS = 10_000;

/** Go's util.ParseBool with a default (strconv.ParseBool's accepted spellings). */
function parseBool(v: string | undefined, def: boolean): boolean {
  if (v === undefined || v === '') return def;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return def;
}

function parseConcurrency(v: string | undefined, def: number): number {
  const n = Number(v);
  return v && Number.isInteger(n) && n > 0 ? n : def;
}

export class S3BackendStorage {
  readonly type = 's3';
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  readonly bucket: string;
  readonly endpoint: string;
  readonly storageClass: string;
  readonly forcePathStyle: boolean;
  readonly uploadConcurrency: number;
  readonly downloadConcurrency: number;
  readonly client: S3Client;

  constructor(
    readonly id: string,
    props: Record<string, string>,
  ) {
    this.accessKey = props.aws_access_key_id ?? '';
    this.secretKey = props.aws_secret_access_key ?? '';
    this.region = props.region ?? '';
    this.bucket = props.bucket ?? '';
    this.endpoint = props.endpoint ?? '';
    this.storageClass = props.storage_class || 'STANDARD_IA';
    this.forcePathStyle = parseBool(props.force_path_style, true);
    this.uploadConcurrency = parseConcurrency(props.upload_concurrency, DEFAULT_CONCURRENCY);
    this.downloadConcurrency = parseConcurrency(props.download_concurrency, DEFAULT_CONCURRENCY);
    // The master's configuration is trusted (an operator wrote it): no endpoint guard here.
    this.client = makeS3Client({
      name: 's3',
      endpoint: this.endpoint,
      region: this.region,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
      forcePathStyle: this.forcePathStyle,
    });
  }

  /** The properties the backend was built from, normalised (Go's ToProperties). */
  toProperties(): Record<string, string> {
    return {
      aws_access_key_id: this.accessKey,
      aws_secret_access_key: this.secretKey,
      region: this.region,
      bucket: this.bucket,
      endpoint: this.endpoint,
      storage_class: this.storageClass,
      force_path_style: String(this.forcePathStyle),
      upload_concurrency: String(this.uploadConcurrency),
      download_concurrency: String(this.downloadConcurrency),
    };
  }

  /** Whether `props` would build the same backend (a changed announcement replaces it). */
  sameAs(props: Record<string, string>): boolean {
    const other = new S3BackendProps(props);
    return JSON.stringify(other.values) === JSON.stringify(new S3BackendProps(this.toProperties()).values);
  }

  /** The remote data file of a tiered volume (Go's NewStorageFile: a leading '/' is dropped). */
  newStorageFile(key: string, info: VolumeInfo): S3BackendStorageFile {
    return new S3BackendStorageFile(this, key.startsWith('/') ? key.slice(1) : key, info);
  }

  /**
   * Uploads the file at `path` under a fresh random key (Go's CopyFile); returns the key and size.
   * Reads the file as a stream: at most MAX_PARTS_IN_FLIGHT parts are held in memory.
   */
  async copyFile(path: string, progress: Progress, concurrency: number): Promise<{ key: string; size: number }> {
    const key = randomUUID();
    const size = (await stat(path)).size;
    let partSize = MIN_PART_SIZE;
    while (partSize * MAX_PARTS < size) partSize *= 2;
    const upload = new Upload({
      client: this.client,
      partSize,
      queueSize: Math.min(concurrency > 0 ? concurrency : this.uploadConcurrency, MAX_PARTS_IN_FLIGHT),
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: key,
        // only the bytes present at the start: a write landing meanwhile is detected by the caller
        Body: size > 0 ? createReadStream(path, { highWaterMark: 1024 * 1024, end: size - 1 }) : Buffer.alloc(0),
        StorageClass: this.storageClass as StorageClass,
        ContentLength: size,
      },
    });
    let pending: Promise<void> = Promise.resolve();
    upload.on('httpUploadProgress', (p) => {
      const done = Math.min(p.loaded ?? 0, size);
      pending = pending.then(() => progress(done, size > 0 ? (done * 100) / size : 100));
    });
    try {
      await upload.done();
      await pending;
    } catch (e) {
      throw new Error(`failed to upload file ${path}: ${s3ErrorText(e)}`, { cause: e });
    }
    return { key, size };
  }

  /** Downloads object `key` into `path` (created or emptied), fsynced (Go's DownloadFile); returns its size. */
  async downloadFile(path: string, key: string, progress: Progress): Promise<number> {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      throw new Error(`failed to download file ${key}: ${s3ErrorText(e)}`, { cause: e });
    }
    const total = Number(out.ContentLength ?? 0);
    let written = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        Promise.resolve(progress(written, total > 0 ? (written * 100) / total : 100)).then(
          () => cb(null, chunk),
          (e: Error) => cb(e),
        );
      },
    });
    const body = out.Body as NodeJS.ReadableStream | undefined;
    if (!body) throw new Error(`failed to download file ${key}: empty body`);
    await pipeline(body, counter, createWriteStream(path, { flags: 'w', mode: 0o644 }));
    const fh = await open(path, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return written;
  }

  async deleteFile(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      throw new Error(`failed to delete file ${key}: ${s3ErrorText(e)}`, { cause: e });
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The settings a backend is built from, for change detection. */
class S3BackendProps {
  readonly values: string[];
  constructor(p: Record<string, string>) {
    this.values = [
      p.aws_access_key_id ?? '',
      p.aws_secret_access_key ?? '',
      p.region ?? '',
      p.bucket ?? '',
      p.endpoint ?? '',
      p.storage_class || 'STANDARD_IA',
      String(parseBool(p.force_path_style, true)),
      String(parseConcurrency(p.upload_concurrency, DEFAULT_CONCURRENCY)),
      String(parseConcurrency(p.download_concurrency, DEFAULT_CONCURRENCY)),
    ];
  }
}
