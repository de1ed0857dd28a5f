// The messages between a tier transfer's thread (transfer-thread.ts) and the code that started it
// (s3-transfer.ts). Errors travel as plain fields: a thread boundary keeps no class or S3 status.
import type { S3Options } from '../remote/remote-client.js';
import type { DownloadSizes } from './object-download.js';
import type { SigningKeys } from './sigv4.js';

/** An ObjectTarget as it crosses to the thread (a URL object does not). */
export interface ThreadTarget {
  url: string;
  region: string;
  keys?: SigningKeys;
}

/** A whole object into a file, over the download's own connections (object-download.ts). */
export interface DownloadJob {
  kind: 'download';
  object: ThreadTarget;
  path: string;
  width: number;
  sizes: DownloadSizes;
}

/** The first `size` bytes of a file up as one object (s3-upload.ts); the thread makes its own S3 client. */
export interface UploadJob {
  kind: 'upload';
  object: ThreadTarget;
  s3: S3Options;
  bucket: string;
  key: string;
  storageClass: string;
  path: string;
  size: number;
  width: number;
}

/** What the thread is started with (its workerData). */
export type TransferJob = DownloadJob | UploadJob;

/** A failed transfer's error, enough to rebuild what the S3 error text needs. */
export interface ThreadError {
  name: string;
  message: string;
  /** The S3 answer's HTTP status, when the error is one. */
  status?: number;
  serverFault: boolean;
  /** The transfer stopped because the parent asked (its caller's progress failed). */
  stopped: boolean;
}

/** total: the bytes the transfer moves, before any progress; progressed: bytes moved since the last. */
export type FromThread = { total: number } | { progressed: number } | { done: number } | { error: ThreadError };
export type ToThread = { stop: true };
