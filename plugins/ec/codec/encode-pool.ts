// Runs encode and rebuild jobs in a worker thread, one at a time: each is CPU- and disk-heavy and
// the machine's cores serve requests too, so a second job waits for the first. The worker stays
// warm between jobs (its modules loaded and the WASM kernel compiled once): spawning one per job
// cost more than encoding a small volume (an ec.encode runs many in a row). An idle worker holds
// ~30 MiB, so it is ended after IDLE_MS without a job; it is unref'd, so it never keeps the
// process alive, and a worker that dies is replaced on the next job.
import { Worker } from 'node:worker_threads';
import type { EncodeJob, RebuildJob, ShardChecksums } from './encode-files.js';

let queue: Promise<unknown> = Promise.resolve();

type WorkerReply = { ok: boolean; error?: string; checksums?: ({ coveredSize: number; blockCrc32c: Uint8Array } | undefined)[] };
/** Bytes done so far (of the .dat for an encode, of each shard for a rebuild). */
export type ProgressFn = (bytesDone: number) => void;
export type WorkerJob = { kind: 'encode'; job: EncodeJob } | { kind: 'rebuild'; job: RebuildJob };

let warm: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
/** A job is running on `warm` (the idle timer never ends a busy worker; the job's end re-arms it). */
let busy = false;
const IDLE_MS = 60_000;

function stopIdleTimer(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
}

function retireWhenIdle(w: Worker): void {
  stopIdleTimer();
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (warm !== w || busy) return;
    warm = undefined;
    void w.terminate();
  }, IDLE_MS);
  idleTimer.unref();
}

function worker(): Worker {
  stopIdleTimer();
  if (warm) return warm;
  const w = new Worker(new URL('./encode-worker.js', import.meta.url));
  w.unref();
  // Any exit (a crash, or terminate) retires it; the job in flight sees it through its own listener.
  w.once('exit', () => {
    if (warm === w) warm = undefined;
  });
  w.on('error', () => {
    if (warm === w) warm = undefined;
  });
  warm = w;
  return w;
}

/**
 * Starts the worker ahead of a job (idle, unref'd) so its start-up overlaps the caller's own
 * preparation; a no-op when it is already up.
 */
export function prewarmEncodeWorker(): void {
  retireWhenIdle(worker());
}

function runInWorker(data: WorkerJob, onProgress?: ProgressFn): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const w = worker();
    const done = () => {
      busy = false;
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      // Idle again: nothing left for it to hold the process for.
      w.unref();
      retireWhenIdle(w);
    };
    const onMessage = (m: WorkerReply | { progress: number }) => {
      if ('progress' in m) {
        onProgress?.(m.progress);
        return;
      }
      done();
      if (m.ok) resolve(m);
      else reject(new Error(m.error ?? 'encode failed'));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`encode worker exited with code ${code}`));
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    // A job in flight keeps the process alive until it answers, as a spawned worker did.
    w.ref();
    busy = true;
    w.postMessage(data);
  });
}

function serialized(data: WorkerJob, onProgress?: ProgressFn): Promise<WorkerReply> {
  const run = queue.then(() => runInWorker(data, onProgress));
  queue = run.catch(() => undefined);
  return run;
}

/** Encodes the shards; resolves to each shard's block checksums (the `.ecsum` content). */
export async function encodeInWorker(job: EncodeJob, onProgress?: ProgressFn): Promise<ShardChecksums[]> {
  const m = await serialized({ kind: 'encode', job }, onProgress);
  return (m.checksums ?? []).map((c) => asBuffers(c!));
}

// Structured clone turns a Buffer into a plain Uint8Array.
function asBuffers(c: { coveredSize: number; blockCrc32c: Uint8Array }): ShardChecksums {
  return { coveredSize: c.coveredSize, blockCrc32c: Buffer.from(c.blockCrc32c) };
}

/**
 * Regenerates the missing shards; resolves to, per shard id, the checksums of the bytes read or
 * written when the job names a checksum block size (rebuildShardFiles).
 */
export async function rebuildInWorker(job: RebuildJob, onProgress?: ProgressFn): Promise<(ShardChecksums | undefined)[]> {
  const m = await serialized({ kind: 'rebuild', job }, onProgress);
  return (m.checksums ?? []).map((c) => (c ? asBuffers(c) : undefined));
}
