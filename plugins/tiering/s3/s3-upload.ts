// A file uploaded as one S3 object, in the thread that calls it: the tier upload's thread
// (transfer-thread.ts, started by s3-transfer.ts), whose event loop the synchronous file reads
// block (Go: weed/storage/backend/s3_backend/s3_upload.go uploadToS3, which hands the open file to
// s3manager's Uploader). Each part is a PUT sent on our own connections (object-connection.ts),
// its body read from the file into the connection's two buffers as the socket takes it and sent
// unsigned, several parts at once; a file of one part goes up as a single object PUT, as the
// Uploader does. The multipart upload's create, complete and abort go through the S3 client.
// Through the client's streams the parts cost a buffer per chunk read, whose collection cost
// more CPU than the upload itself.
//
// Memory: a connection holds two 256 KiB send buffers and a 256 KiB answer buffer; with at most
// MAX_PARTS_IN_FLIGHT parts that is ≤ 12 MiB whatever the file or part size (5 parts: 3.75 MiB).
import { open } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CompletedPart,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { ConnectionPool, type ObjectTarget } from './object-connection.js';
import { encodeUriPart } from './sigv4.js';
import { runParts, withRetry, type TransferHooks } from './transfer-support.js';

const MiB = 1024 * 1024;
/** S3's smallest part (5 MiB) rounded up; small files still go up in several parts. */
const MIN_PART_SIZE = 8 * MiB;
/** Go's Uploader part size (64 MiB): parts are not buffered here, so larger buys nothing. */
const MAX_PART_SIZE = 64 * MiB;
/** S3 allows at most 10000 parts per upload. */
const MAX_PARTS = 10_000;

/**
 * The part size: about four rounds of `width` parts (so the last round is not one part alone),
 * rounded up to a power of two within 8..64 MiB, doubled while the file would need more than S3's
 * 10000 parts. A power of two divides the download's 64 MiB ranges (object-download.ts), so a
 * range never starts inside a stored part: against `weed` S3, 52 MiB parts cost the S3 server
 * ~10% more CPU per download than 64 MiB ones.
 */
export function uploadPartSize(size: number, width: number): number {
  const even = Math.ceil(size / (width * 4));
  let part = MIN_PART_SIZE;
  while (part < even && part < MAX_PART_SIZE) part *= 2;
  while (part * MAX_PARTS < size) part *= 2;
  return part;
}

export interface UploadTarget {
  /** For the multipart upload's create, complete and abort calls. */
  client: S3Client;
  /** The object's URL and signing, for the parts' and a single object's PUTs sent here. */
  object: ObjectTarget;
  bucket: string;
  key: string;
  storageClass: string;
}

/** Uploads the first `size` bytes of the file at `path` to `t.key` with `width` parts in flight. */
export async function uploadFile(t: UploadTarget, path: string, size: number, width: number, hooks: TransferHooks): Promise<void> {
  const { stopped } = hooks;
  const partSize = uploadPartSize(size, width);
  const common = { Bucket: t.bucket, Key: t.key };
  const pool = new ConnectionPool(t.object);
  const fh = await open(path, 'r');
  try {
    /** PUTs `length` bytes from `start` (tried again on a transient failure); returns the answer's ETag. */
    const put = (signal: AbortSignal, start: number, length: number, query: string | undefined, headers: Record<string, string>) => {
      // what a part has counted, once per byte across its tries
      const counted = { bytes: 0 };
      return withRetry(signal, stopped, async () => {
        let sent = 0;
        let etag: string | undefined;
        await pool.request({
          method: 'PUT',
          query,
          headers,
          body: {
            fd: fh.fd,
            at: start,
            length,
            onSent: (n) => {
              sent += n;
              if (sent > counted.bytes) {
                hooks.moved(sent - counted.bytes);
                counted.bytes = sent;
              }
            },
          },
          stopped,
          signal,
          place: (status, answer) => {
            etag = answer.get('etag');
            return 0;
          },
        });
        return etag;
      });
    };

    if (size <= partSize) {
      await put(new AbortController().signal, 0, size, undefined, { 'x-amz-storage-class': t.storageClass });
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
        const etag = await put(signal, start, length, `partNumber=${i + 1}&uploadId=${encodeUriPart(uploadId)}`, {});
        parts[i] = { PartNumber: i + 1, ETag: etag };
      });
      const stop = stopped();
      if (stop !== undefined) throw stop;
      await t.client.send(new CompleteMultipartUploadCommand({ ...common, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      // best effort: an upload left behind is cleared by the bucket's lifecycle rule
      await t.client.send(new AbortMultipartUploadCommand({ ...common, UploadId: uploadId })).catch(() => undefined);
      throw e;
    }
  } finally {
    pool.close();
    await fh.close();
  }
}
