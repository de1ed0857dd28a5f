// The thread a tier upload or download runs in (started by s3-transfer.ts). The download's file
// writes are synchronous and block this thread's event loop, never the server's; the upload's
// per-chunk buffers and S3 client objects live and are collected in this thread's small heap
// instead of costing the server's heap major collections. It reports the size, the bytes moved
// (batched) and the outcome to its parent, and stops when the parent says the caller's progress
// failed.
import { parentPort, workerData } from 'node:worker_threads';
import { fetchObject } from './object-download.js';
import type { ObjectTarget } from './object-connection.js';
import type { DownloadJob, FromThread, ThreadTarget, ToThread, TransferJob, UploadJob } from './transfer-protocol.js';

/** Gap between two reports of moved bytes (the parent's progress reporter throttles further). */
const REPORT_EVERY_MS = 50;

/** Thrown into the transfer once the parent asked it to stop; the parent answers with its own error. */
class StopRequested extends Error {}

const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);

let stop: StopRequested | undefined;
port.on('message', (m: ToThread) => {
  if (m.stop) stop = new StopRequested('the caller stopped the transfer');
});

let unreported = 0;
let reportedAt = 0;
const report = () => {
  if (unreported === 0) return;
  post({ progressed: unreported });
  unreported = 0;
  reportedAt = Date.now();
};
const moved = (n: number) => {
  unreported += n;
  if (Date.now() - reportedAt >= REPORT_EVERY_MS) report();
};

const targetOf = (t: ThreadTarget): ObjectTarget => ({ url: new URL(t.url), region: t.region, keys: t.keys });

function download(job: DownloadJob): Promise<number> {
  return fetchObject(targetOf(job.object), job.path, job.width, { sized: (total) => post({ total }), moved, stopped: () => stop }, job.sizes);
}

async function upload(job: UploadJob): Promise<number> {
  post({ total: job.size });
  // loaded here: a download never needs the S3 client
  const [{ makeS3Client }, { uploadFile }] = await Promise.all([import('../remote/remote-client.js'), import('./s3-upload.js')]);
  const client = makeS3Client(job.s3);
  try {
    const to = { client, object: targetOf(job.object), bucket: job.bucket, key: job.key, storageClass: job.storageClass };
    await uploadFile(to, job.path, job.size, job.width, { moved, stopped: () => stop });
  } finally {
    client.destroy();
  }
  return job.size;
}

const job = workerData as TransferJob;
(job.kind === 'download' ? download(job) : upload(job))
  .then(
    (size) => {
      report();
      post({ done: size });
    },
    (e: unknown) => {
      report();
      const err = e as { name?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number } } | undefined;
      post({
        error: {
          name: err?.name ?? 'Error',
          message: err?.message ?? String(e),
          status: err?.$metadata?.httpStatusCode,
          serverFault: err?.$fault === 'server',
          stopped: e instanceof StopRequested,
        },
      });
    },
  )
  .finally(() => port.close());
