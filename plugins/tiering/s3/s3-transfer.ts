// The tier upload and download (Go: weed/storage/backend/s3_backend/s3_upload.go uploadToS3,
// s3_download.go downloadFromS3), each run in a thread of its own (transfer-thread.ts). The
// download writes the file synchronously, as Go's copy loop does, which halves its CPU against
// writes handed to the thread pool, and must not block the server's event loop; the upload's
// garbage (a buffer per chunk read, the S3 client's objects) cost the server's large heap major
// collections worth more CPU than the upload itself. This side relays the thread's progress to the
// caller through a ProgressReporter and turns its outcome back into a size or an error.
import { Worker } from 'node:worker_threads';
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { S3Options } from '../remote/remote-client.js';
import type { ObjectTarget } from './object-connection.js';
import { DEFAULT_SIZES, type DownloadSizes } from './object-download.js';
import type { FromThread, ThreadError, ThreadTarget, ToThread, TransferJob } from './transfer-protocol.js';
import { ProgressReporter, type Progress } from './transfer-support.js';

/** The thread's error as the S3 client would have thrown it (an S3 answer keeps its code and status). */
function rebuild(e: ThreadError): Error {
  if (e.status !== undefined) {
    return new S3ServiceException({ name: e.name, $fault: e.serverFault ? 'server' : 'client', $metadata: { httpStatusCode: e.status }, message: e.message });
  }
  return Object.assign(new Error(e.message), { name: e.name });
}

const crossing = (t: ObjectTarget): ThreadTarget => ({ url: t.url.href, region: t.region, keys: t.keys });

/** Runs `job` in a new transfer thread; resolves with the bytes moved once the thread is done. */
function runInThread(job: TransferJob, progress: Progress): Promise<number> {
  const worker = new Worker(new URL('./transfer-thread.js', import.meta.url), { workerData: job, name: `tier-${job.kind}` });
  return new Promise<number>((resolve, reject) => {
    let reporter: ProgressReporter | undefined;
    let stopSent = false;
    /** The thread said how it ended: its exit that follows is no failure. */
    let ended = false;
    worker.on('message', (m: FromThread) => {
      if ('total' in m) {
        reporter = new ProgressReporter(progress, m.total);
      } else if ('progressed' in m) {
        reporter?.add(m.progressed);
        if (reporter?.failed !== undefined && !stopSent) {
          stopSent = true;
          worker.postMessage({ stop: true } satisfies ToThread);
        }
      } else if ('done' in m) {
        ended = true;
        const size = m.done;
        // the last count, then the caller's own failure if its progress failed at the end
        (reporter ? reporter.finish() : Promise.resolve()).then(() => resolve(size), reject);
      } else {
        ended = true;
        // a stop asked for because the caller's progress failed ends with that failure
        reject(m.error.stopped && reporter?.failed !== undefined ? reporter.failed : rebuild(m.error));
      }
    });
    worker.on('error', (e) => {
      ended = true;
      reject(e);
    });
    worker.on('exit', (code) => {
      if (!ended) reject(new Error(`the transfer thread ended (exit code ${code}) before the transfer did`));
    });
  });
}

/** Downloads the whole object into `path` (created or emptied), fsynced; returns its size. `width` GETs at once. */
export function downloadObject(target: ObjectTarget, path: string, progress: Progress, width: number, sizes: DownloadSizes = DEFAULT_SIZES): Promise<number> {
  return runInThread({ kind: 'download', object: crossing(target), path, width, sizes }, progress);
}

/** Where an upload goes: the object, the backend's S3 settings (the thread makes its own client), bucket, key, class. */
export interface UploadDestination {
  object: ObjectTarget;
  s3: S3Options;
  bucket: string;
  key: string;
  storageClass: string;
}

/** Uploads the first `size` bytes of the file at `path` to the destination, `width` parts in flight. */
export async function uploadObject(to: UploadDestination, path: string, size: number, progress: Progress, width: number): Promise<void> {
  await runInThread({ kind: 'upload', ...to, object: crossing(to.object), path, size, width }, progress);
}
