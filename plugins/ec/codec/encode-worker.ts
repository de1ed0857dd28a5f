// Worker-thread entry: runs encode and rebuild jobs (encode-files.ts) off the event loop, one per
// message, and answers each with success or the error text. One codec serves every job, so the
// WASM kernel is compiled once per worker, not once per job.
import { parentPort } from 'node:worker_threads';
import { encodeDatFileOverlapped, rebuildShardFilesOverlapped } from './encode-files.js';
import type { WorkerJob } from './encode-pool.js';
import { ReedSolomon } from './reed-solomon.js';

// Progress at most every 64 MiB: enough for the job registry, cheap for the port.
const PROGRESS_STEP = 64 * 1024 * 1024;
const codecs = new Map<string, ReedSolomon>();

function codec(d: number, p: number): ReedSolomon {
  const key = `${d}+${p}`;
  let rs = codecs.get(key);
  if (!rs) {
    // A handful of ratios in practice; never let odd ones pile up.
    if (codecs.size >= 8) codecs.clear();
    rs = new ReedSolomon(d, p);
    codecs.set(key, rs);
  }
  return rs;
}

parentPort?.on('message', async (msg: WorkerJob) => {
  let reported = 0;
  const progress = (done: number) => {
    if (done - reported < PROGRESS_STEP) return;
    reported = done;
    parentPort?.postMessage({ progress: done });
  };
  try {
    const rs = codec(msg.job.dataShards, msg.job.parityShards);
    if (msg.kind === 'encode') parentPort?.postMessage({ ok: true, checksums: await encodeDatFileOverlapped(msg.job, rs, progress) });
    else parentPort?.postMessage({ ok: true, checksums: await rebuildShardFilesOverlapped(msg.job, rs, progress) });
  } catch (e) {
    parentPort?.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
