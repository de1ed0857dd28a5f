// Runs encode and rebuild jobs in worker threads, one at a time: each is CPU- and disk-heavy and
// the machine's cores serve requests too, so a second job waits for the first.
import { Worker } from 'node:worker_threads';
import type { EncodeJob, RebuildJob } from './encode-files.js';

let queue: Promise<unknown> = Promise.resolve();

function runInWorker(data: { kind: 'encode'; job: EncodeJob } | { kind: 'rebuild'; job: RebuildJob }): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData: data });
    let settled = false;
    w.once('message', (m: { ok: boolean; error?: string }) => {
      settled = true;
      if (m.ok) resolve();
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

function serialized(data: Parameters<typeof runInWorker>[0]): Promise<void> {
  const run = queue.then(() => runInWorker(data));
  queue = run.catch(() => undefined);
  return run;
}

export function encodeInWorker(job: EncodeJob): Promise<void> {
  return serialized({ kind: 'encode', job });
}

export function rebuildInWorker(job: RebuildJob): Promise<void> {
  return serialized({ kind: 'rebuild', job });
}
