// Worker-thread entry: runs one encode or rebuild job (encode-files.ts) off the event loop and
// reports success or the error text.
import { parentPort, workerData } from 'node:worker_threads';
import { encodeDatFile, rebuildShardFiles, type EncodeJob, type RebuildJob } from './encode-files.js';

type Job = { kind: 'encode'; job: EncodeJob } | { kind: 'rebuild'; job: RebuildJob };

const msg = workerData as Job;
try {
  if (msg.kind === 'encode') parentPort?.postMessage({ ok: true, checksums: encodeDatFile(msg.job) });
  else {
    rebuildShardFiles(msg.job);
    parentPort?.postMessage({ ok: true });
  }
} catch (e) {
  parentPort?.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
}
