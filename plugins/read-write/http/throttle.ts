// In-flight byte limiters for uploads and downloads (http-api.md §9).
//
// A request arriving while the in-flight sum is strictly greater than the limit waits until the sum
// drops to the limit or below (woken whenever some request releases), for at most the timeout. The
// check is made before the request's own size is added, so one request may exceed the limit alone.
// A limit of 0 turns waiting off; sizes are still counted.
import type { ServerConfig } from '../../../config/types.js';

export class ThrottleAbortedError extends Error {
  constructor() {
    super('context canceled');
    this.name = 'AbortError';
  }
}

interface Waiter {
  wake: () => void;
}

export class InflightLimiter {
  private inflight = 0;
  private waiters = new Set<Waiter>();

  /** limitBytes 0 = unlimited. */
  constructor(
    readonly limitBytes: number,
    readonly timeoutMs: number,
  ) {}

  /** Bytes currently counted. */
  get current(): number {
    return this.inflight;
  }

  get limited(): boolean {
    return this.limitBytes > 0;
  }

  /** True when a new request would have to wait right now. */
  overLimit(): boolean {
    return this.limitBytes > 0 && this.inflight > this.limitBytes;
  }

  /**
   * Waits while the in-flight sum is over the limit, then counts `bytes`.
   * Resolves true when counted, false when the wait timed out (nothing counted).
   * Rejects with ThrottleAbortedError when `signal` aborts while waiting (nothing counted).
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<boolean> {
    const n = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
    if (!this.overLimit()) {
      this.inflight += n;
      return Promise.resolve(true);
    }
    if (signal?.aborted) return Promise.reject(new ThrottleAbortedError());
    return new Promise<boolean>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          if (this.overLimit()) return;
          finish();
          this.inflight += n;
          resolve(true);
        },
      };
      const onAbort = () => {
        finish();
        reject(new ThrottleAbortedError());
      };
      const finish = () => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const timer = setTimeout(() => {
        finish();
        resolve(false);
      }, Math.max(0, this.timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Counts `bytes` without waiting (replicate uploads skip the wait but still count). */
  add(bytes: number): void {
    if (Number.isFinite(bytes) && bytes > 0) this.inflight += bytes;
  }

  /** Releases bytes counted by acquire()/add() and wakes waiters. */
  release(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes <= 0) return;
    this.inflight = Math.max(0, this.inflight - bytes);
    for (const w of [...this.waiters]) w.wake();
  }
}

interface Limiters {
  upload: InflightLimiter;
  download: InflightLimiter;
}

const MB = 1024 * 1024;
const byConfig = new WeakMap<ServerConfig, Limiters>();

function limitersFor(config: ServerConfig): Limiters {
  let l = byConfig.get(config);
  if (!l) {
    l = {
      upload: new InflightLimiter(config.concurrentUploadLimitMB * MB, config.inflightUploadDataTimeoutMs),
      download: new InflightLimiter(config.concurrentDownloadLimitMB * MB, config.inflightDownloadDataTimeoutMs),
    };
    byConfig.set(config, l);
  }
  return l;
}

/** The server's upload limiter (one per config object, shared by every module that asks). */
export function uploadLimiter(config: ServerConfig): InflightLimiter {
  return limitersFor(config).upload;
}

/** The server's download limiter (one per config object, shared by every module that asks). */
export function downloadLimiter(config: ServerConfig): InflightLimiter {
  return limitersFor(config).download;
}
