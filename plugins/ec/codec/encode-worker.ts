// Worker-thread entry: runs one encode or rebuild job (encode-files.ts) off the event loop and
// reports success or the error text.
import { parentPort, workerData } from 'node:worker_threads';
import { encodeDatFile, rebuildShardFiles, type EncodeJob, type RebuildJob } from './encode-files.js';

type Job = { kind: 'encode'; job: EncodeJob } | { kind: 'rebuild'; job: RebuildJob };

const msg = workerData as Job;
// Progress at most every 64 MiB: enough for the job registry, cheap for the port.
const PROGRESS_STEP = 64 * 1024 * 1024;
let reported = 0;
const progress = (done: number) => {
  if (done - reported < PROGRESS_STEP) return;
  reported = done;
  parentPort?.postMessage({ progress: done });
};
try {
  if (msg.kind === 'encode') parentPort?.postMessage({ ok: true, checksums: encodeDatFile(msg.job, undefined, progress) });
  else {
    rebuildShardFiles(msg.job, undefined, progress);
    parentPort?.postMessage({ ok: true });
  }
} catch (e) {
  parentPort?.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
}
