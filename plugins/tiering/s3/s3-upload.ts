// A file uploaded as one S3 object (Go: weed/storage/backend/s3_backend/s3_upload.go uploadToS3,
// which hands the open file to s3manager's Uploader). Each part is streamed straight from the file
// (a ranged read stream as the request body, sent unsigned so nothing hashes it first), several
// parts at once; a file of one part goes up as a single PutObject, as the Uploader does.
//
// Memory: a part in flight holds its read stream's buffer (READ_CHUNK), the counting stream's and
// the socket's, about 3 × READ_CHUNK; with at most MAX_PARTS_IN_FLIGHT parts that is ≤ 24 MiB
// whatever the file or part size (5 parts by default: about 8 MiB).
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { ProgressReporter, runParts, withRetry, type Progress } from './transfer-support.js';

const MiB = 1024 * 1024;
/** Read size of a part's file stream. */
const READ_CHUNK = 512 * 1024;
/** S3's smallest part (5 MiB) rounded up; small files still go up in several parts. */
const MIN_PART_SIZE = 8 * MiB;
/** Go's Uploader part size (64 MiB): parts are not buffered here, so larger buys nothing. */
const MAX_PART_SIZE = 64 * MiB;
/** S3 allows at most 10000 parts per upload. */
const MAX_PARTS = 10_000;

/**
 * The part size: about four rounds of `width` parts (so the last round is not one part alone),
 * within 8..64 MiB, doubled while the file would need more than S3's 10000 parts.
 */
export function uploadPartSize(size: number, width: number): number {
  const even = Math.ceil(size / (width * 4) / MiB) * MiB;
  let part = Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, even));
  while (part * MAX_PARTS < size) part *= 2;
  return part;
}

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  storageClass: string;
}

/** Uploads the first `size` bytes of the file at `path` to `t.key` with `width` parts in flight. */
export async function uploadFile(t: UploadTarget, path: string, size: number, progress: Progress, width: number): Promise<void> {
  const reporter = new ProgressReporter(progress, size);
  const partSize = uploadPartSize(size, width);
  const common = { Bucket: t.bucket, Key: t.key };

  /** A part's bytes as a request body; counts what it hands on, once per byte across retries. */
  const body = (start: number, length: number, counted: { bytes: number }): Readable => {
    const file = createReadStream(path, { start, end: start + length - 1, highWaterMark: READ_CHUNK });
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > counted.bytes) {
          reporter.add(seen - counted.bytes);
          counted.bytes = seen;
        }
        const failed = reporter.failed;
        cb(failed === undefined ? null : (failed as Error), chunk);
      },
    });
    file.on('error', (e) => counter.destroy(e));
    counter.on('close', () => file.destroy());
    return file.pipe(counter);
  };

  const sendPart = async (signal: AbortSignal, start: number, length: number, send: (b: Readable | Buffer) => Promise<string | undefined>) => {
    const counted = { bytes: 0 };
    return withRetry(signal, () => reporter.failed, async () => {
      if (length === 0) return send(Buffer.alloc(0));
      const b = body(start, length, counted);
      try {
        return await send(b);
      } finally {
        b.destroy();
      }
    });
  };

  if (size <= partSize) {
    await sendPart(new AbortController().signal, 0, size, async (b) => {
      await t.client.send(new PutObjectCommand({ ...common, Body: b, ContentLength: size, StorageClass: t.storageClass as StorageClass }));
      return undefined;
    });
    await reporter.finish();
    return;
  }

  const created = await t.client.send(new CreateMultipartUploadCommand({ ...common, StorageClass: t.storageClass as StorageClass }));
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('CreateMultipartUpload answered no upload id');
  const count = Math.ceil(size / partSize);
  const parts: CompletedPart[] = new Array(count);
  try {
    await runParts(count, width, async (i, signal) => {
      const start = i * partSize;
      const length = Math.min(partSize, size - start);
      const etag = await sendPart(signal, start, length, async (b) => {
        const out = await t.client.send(new UploadPartCommand({ ...common, UploadId: uploadId, PartNumber: i + 1, Body: b, ContentLength: length }), {
          abortSignal: signal,
        });
        return out.ETag;
      });
      parts[i] = { PartNumber: i + 1, ETag: etag };
    });
    await reporter.finish();
    await t.client.send(new CompleteMultipartUploadCommand({ ...common, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  } catch (e) {
    // best effort: an upload left behind is cleared by the bucket's lifecycle rule
    await t.client.send(new AbortMultipartUploadCommand({ ...common, UploadId: uploadId })).catch(() => undefined);
    throw e;
  }
}
