// Pacing of a long scrub: after every chunk the scan reads it yields to the event loop, sleeps to
// keep the read rate near -maintenanceMBps (core's WriteThrottler, as copies are paced; 0 = unlimited),
// reports each volume as a job to core's job registry (progress, rate and ETA on the admin page,
// GET /jobs and the registry's periodic progress log lines), and stops with `context canceled`
// once the client has gone.
import type { Logger } from 'pino';
import type { JobHandle, JobKind, JobRegistry } from '../../core/jobs/job-registry.js';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { vsError } from '../../core/errors.js';
import type { ScanHooks } from '../../core/storage/volume-scan.js';
import { WriteThrottler } from '../../core/storage/vacuum.js';

/** What a pacer needs of the call: grpc-js server calls have both. */
export interface Cancellable {
  cancelled: boolean;
  once(ev: 'cancelled', fn: () => void): unknown;
  off(ev: 'cancelled', fn: () => void): unknown;
}

export function cancelledError() {
  return vsError('VS_ERR_PLAIN', 'context canceled');
}

/** Resolves after `ms`, or rejects early with `context canceled` when the call is cancelled. */
function sleep(call: Cancellable, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (call.cancelled) {
      reject(cancelledError());
      return;
    }
    const onCancel = () => {
      clearTimeout(t);
      reject(cancelledError());
    };
    const t = setTimeout(() => {
      call.off('cancelled', onCancel);
      resolve();
    }, ms);
    call.once('cancelled', onCancel);
  });
}

export class ScanPacer {
  private readonly throttler: WriteThrottler;
  private volumeBytes = 0;
  private volumeStart = Date.now();
  private vid = 0;
  private job: JobHandle | undefined;

  constructor(
    private readonly call: Cancellable,
    private readonly logger: Logger,
    /** Bytes per second; 0 = unlimited. */
    bytesPerSecond: number,
    private readonly mode: string,
    private readonly jobs?: { registry: JobRegistry; kind: JobKind },
  ) {
    this.throttler = new WriteThrottler(bytesPerSecond);
  }

  /** Starts counting for volume `vid` (a job of the registry; `totalBytes` unknown → no ETA). */
  begin(vid: number, info: { collection?: string; totalBytes?: number } = {}): void {
    this.settle();
    this.vid = vid;
    this.volumeBytes = 0;
    this.volumeStart = Date.now();
    this.job = this.jobs?.registry.start(this.jobs.kind, { vid, collection: info.collection, totalBytes: info.totalBytes, detail: this.mode });
  }

  /** Logs the finished volume's totals and ends its job. */
  end(files: number, problems: number): void {
    const secs = Math.max((Date.now() - this.volumeStart) / 1000, 0.001);
    this.logger.info(
      { vid: this.vid, mode: this.mode, bytes: this.volumeBytes, rate: Math.round(this.volumeBytes / secs), files, problems },
      'scrub: volume done',
    );
    this.job?.finish();
    this.job = undefined;
  }

  /** Ends the job of a volume whose scan did not reach end() (an error, a cancel, a volume gone). */
  settle(err?: unknown): void {
    this.job?.fail(err ?? new Error(`scrub of volume ${this.vid} stopped`));
    this.job = undefined;
  }

  hooks(): ScanHooks {
    return { onChunk: (bytes) => this.onChunk(bytes) };
  }

  /** Throws `context canceled` when the client has gone. */
  check(): void {
    if (this.call.cancelled) throw cancelledError();
  }

  private async onChunk(bytes: number): Promise<void> {
    this.check();
    this.volumeBytes += bytes;
    this.job?.progress(this.volumeBytes);
    const wait = this.throttler.delayFor(bytes);
    if (wait > 0) {
      await sleep(this.call, wait);
      return;
    }
    await yieldNow();
    this.check();
  }
}
