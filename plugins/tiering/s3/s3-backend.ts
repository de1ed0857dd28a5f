// The s3 tier backend (Go: weed/storage/backend/s3_backend/s3_backend.go S3BackendStorage,
// s3_upload.go, s3_download.go): built from a master-announced storage backend's properties, it
// uploads a volume's .dat as one object (multipart, parts streamed from disk: s3-upload.ts),
// downloads it back (parallel ranged GETs: object-download.ts), each in a thread of its own
// (s3-transfer.ts), deletes it, and opens it as a volume's remote data file.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { VolumeInfo } from '../../../core/storage/volume-info.js';
import { makeS3Client, s3ErrorText, type S3Options } from '../remote/remote-client.js';
import type { ObjectTarget } from './object-connection.js';
import { S3BackendStorageFile } from './s3-file.js';
import { downloadObject, uploadObject } from './s3-transfer.js';
import { encodeKeyPath } from './sigv4.js';
import { partsInFlight, type Progress } from './transfer-support.js';

export type { Progress } from './transfer-support.js';

/** Go's defaultUploadConcurrency / defaultDownloadConcurrency. */
const DEFAULT_CONCURRENCY = 5;

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
  /** What the client is made from (a transfer thread makes its own from it). */
  private readonly s3: S3Options;

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
    this.s3 = {
      name: 's3',
      endpoint: this.endpoint,
      region: this.region,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
      forcePathStyle: this.forcePathStyle,
    };
    this.client = makeS3Client(this.s3);
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
   * Only the bytes present at the start go up: a write landing meanwhile is detected by the caller.
   * `concurrency` parts in flight (0: the backend's upload_concurrency), streamed from the file.
   */
  async copyFile(path: string, progress: Progress, concurrency: number): Promise<{ key: string; size: number }> {
    const key = randomUUID();
    const size = (await stat(path)).size;
    const to = { object: this.objectTarget(key), s3: this.s3, bucket: this.bucket, key, storageClass: this.storageClass };
    try {
      await uploadObject(to, path, size, progress, partsInFlight(concurrency, this.uploadConcurrency));
    } catch (e) {
      throw new Error(`failed to upload file ${path}: ${s3ErrorText(e)}`, { cause: e });
    }
    return { key, size };
  }

  /**
   * Downloads object `key` into `path` (created or emptied), fsynced (Go's DownloadFile); returns
   * its size. `concurrency` ranged GETs in flight (0: the backend's download_concurrency).
   */
  async downloadFile(path: string, key: string, progress: Progress, concurrency = 0): Promise<number> {
    try {
      return await downloadObject(this.objectTarget(key), path, progress, partsInFlight(concurrency, this.downloadConcurrency));
    } catch (e) {
      throw new Error(`failed to download file ${key}: ${s3ErrorText(e)}`, { cause: e });
    }
  }

  /**
   * Where object `key` is and how to sign requests to it, for the transfers' own GETs and PUTs: the URL the
   * S3 client's endpoint rules give for this bucket (path or virtual-hosted style, AWS or the
   * configured endpoint) with the key appended as the client's serializer does.
   */
  objectTarget(key: string): ObjectTarget {
    const region = this.region || 'us-east-1';
    const resolved = this.client.config.endpointProvider({
      Bucket: this.bucket,
      Region: region,
      Endpoint: this.endpoint || undefined,
      ForcePathStyle: this.forcePathStyle,
      UseFIPS: false,
      UseDualStack: false,
      Accelerate: false,
    });
    const url = new URL(resolved.url.href);
    url.pathname = `${url.pathname.replace(/\/$/, '')}/${encodeKeyPath(key)}`;
    const scheme = (resolved.properties?.authSchemes as { signingRegion?: string }[] | undefined)?.[0];
    const signed = this.accessKey !== '' && this.secretKey !== '';
    return { url, region: scheme?.signingRegion || region, keys: signed ? { accessKey: this.accessKey, secretKey: this.secretKey } : undefined };
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
