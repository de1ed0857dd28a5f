// Pacing of a long scrub: after every chunk the scan reads it yields to the event loop, sleeps to
// keep the read rate near -maintenanceMBps (as Go's WriteThrottler paces copies; 0 = unlimited),
// logs progress now and then, and stops with `context canceled` once the client has gone.
// (Go's WriteThrottler only looks every 100 ms, so a burst shorter than that is never paced; this
// keeps the running total at the budget instead.)
import type { Logger } from 'pino';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { vsError } from '../../core/errors.js';
import type { ScanHooks } from '../../core/storage/volume-scan.js';

/** How often a running scan logs its progress. */
const PROGRESS_EVERY_MS = 10_000;

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
  private paceBytes = 0;
  private readonly paceStart = Date.now();
  private volumeBytes = 0;
  private volumeStart = Date.now();
  private lastLog = Date.now();
  private vid = 0;

  constructor(
    private readonly call: Cancellable,
    private readonly logger: Logger,
    /** Bytes per second; 0 = unlimited. */
    private readonly bytesPerSecond: number,
    private readonly mode: string,
  ) {}

  /** Starts counting for volume `vid`. */
  begin(vid: number): void {
    this.vid = vid;
    this.volumeBytes = 0;
    this.volumeStart = Date.now();
    this.lastLog = this.volumeStart;
  }

  /** Logs the finished volume's totals. */
  end(files: number, problems: number): void {
    const secs = Math.max((Date.now() - this.volumeStart) / 1000, 0.001);
    this.logger.info(
      { vid: this.vid, mode: this.mode, bytes: this.volumeBytes, rate: Math.round(this.volumeBytes / secs), files, problems },
      'scrub: volume done',
    );
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
    const now = Date.now();
    if (now - this.lastLog >= PROGRESS_EVERY_MS) {
      const secs = Math.max((now - this.volumeStart) / 1000, 0.001);
      this.logger.info({ vid: this.vid, mode: this.mode, bytes: this.volumeBytes, rate: Math.round(this.volumeBytes / secs) }, 'scrub: progress');
      this.lastLog = now;
    }
    if (this.bytesPerSecond > 0) {
      // Keep the bytes read since the pacer started at or under the budget: sleep off any lead.
      this.paceBytes += bytes;
      const lead = (this.paceBytes / this.bytesPerSecond) * 1000 - (now - this.paceStart);
      if (lead >= 10) {
        await sleep(this.call, Math.ceil(lead));
        return;
      }
    }
    await yieldNow();
    this.check();
  }
}
