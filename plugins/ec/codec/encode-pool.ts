// Runs encode and rebuild jobs in worker threads, one at a time: each is CPU- and disk-heavy and
// the machine's cores serve requests too, so a second job waits for the first.
import { Worker } from 'node:worker_threads';
import type { EncodeJob, RebuildJob, ShardChecksums } from './encode-files.js';

let queue: Promise<unknown> = Promise.resolve();

type WorkerReply = { ok: boolean; error?: string; checksums?: { coveredSize: number; blockCrc32c: Uint8Array }[] };
/** Bytes done so far (of the .dat for an encode, of each shard for a rebuild). */
export type ProgressFn = (bytesDone: number) => void;

function runInWorker(data: { kind: 'encode'; job: EncodeJob } | { kind: 'rebuild'; job: RebuildJob }, onProgress?: ProgressFn): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData: data });
    let settled = false;
    w.on('message', (m: WorkerReply | { progress: number }) => {
      if ('progress' in m) {
        onProgress?.(m.progress);
        return;
      }
      settled = true;
      if (m.ok) resolve(m);
      else reject(new Error(m.error ?? 'encode failed'));
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`encode worker exited with code ${code}`));
    });
  });
}

function serialized(data: Parameters<typeof runInWorker>[0], onProgress?: ProgressFn): Promise<WorkerReply> {
  const run = queue.then(() => runInWorker(data, onProgress));
  queue = run.catch(() => undefined);
  return run;
}

/** Encodes the shards; resolves to each shard's block checksums (the `.ecsum` content). */
export async function encodeInWorker(job: EncodeJob, onProgress?: ProgressFn): Promise<ShardChecksums[]> {
  const m = await serialized({ kind: 'encode', job }, onProgress);
  // Structured clone turns a Buffer into a plain Uint8Array.
  return (m.checksums ?? []).map((c) => ({ coveredSize: c.coveredSize, blockCrc32c: Buffer.from(c.blockCrc32c) }));
}

export async function rebuildInWorker(job: RebuildJob, onProgress?: ProgressFn): Promise<void> {
  await serialized({ kind: 'rebuild', job }, onProgress);
}
