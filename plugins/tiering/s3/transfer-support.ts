// What the tier upload and download share (Go: weed/storage/backend/s3_backend/s3_upload.go and
// s3_download.go hand the parts to s3manager's Uploader / Downloader): a bounded pool of part
// workers that stops at the first failure, a per-part retry of transient failures, and a progress
// reporter kept off the transfer's hot path.

/** Progress callback of a transfer: bytes done and percentage (Go's fn(progressed, percentage)). */
export type Progress = (processed: number, percentage: number) => Promise<void> | void;

/**
 * What a transfer running in a transfer thread reports as it goes, and how it is stopped: the
 * thread batches the counts to its parent, whose ProgressReporter calls the caller's Progress.
 */
export interface TransferHooks {
  /** Bytes moved: written to the file (download) or handed to the socket (upload). */
  moved(n: number): void;
  /** An error that ends the transfer (the caller's progress failed); checked before each write or chunk sent. */
  stopped(): unknown;
}

/**
 * Parts in flight at most, whatever the request asks (Go clamps it to 1024): the S3 client's
 * agent opens 16 sockets per host, and each part in flight holds a few read or write buffers.
 */
export const MAX_PARTS_IN_FLIGHT = 16;

/** A request's concurrency, or the backend's default when 0, within 1..MAX_PARTS_IN_FLIGHT. */
export function partsInFlight(requested: number, backendDefault: number): number {
  const n = requested > 0 ? requested : backendDefault;
  return Math.max(1, Math.min(n, MAX_PARTS_IN_FLIGHT));
}

/** Gap between two calls of the progress callback while bytes keep flowing. */
const PROGRESS_EVERY_MS = 100;

/**
 * Forwards progress to the callback at most every PROGRESS_EVERY_MS and never two calls at once,
 * so the workers only store a number per chunk. A callback that fails (the caller went away) is
 * remembered: the workers check `failed` and stop, as Go's transfer stops when fn errs.
 */
export class ProgressReporter {
  private latest = 0;
  private reported = -1;
  private lastCall = 0;
  private running: Promise<void> | undefined;
  private error: { e: unknown } | undefined;

  constructor(
    private readonly fn: Progress,
    private readonly total: number,
  ) {}

  get failed(): unknown {
    return this.error?.e;
  }

  add(bytes: number): void {
    this.latest += bytes;
    if (this.running || Date.now() - this.lastCall < PROGRESS_EVERY_MS) return;
    this.kick();
  }

  /** Reports the final count (once the callback is free) and throws if the callback failed. */
  async finish(): Promise<void> {
    while (this.running) await this.running;
    if (!this.error && this.latest !== this.reported) {
      this.kick();
      while (this.running) await this.running;
    }
    if (this.error) throw this.error.e;
  }

  /** Starts a drain; `running` is cleared asynchronously, even when the callback throws at once. */
  private kick(): void {
    const p: Promise<void> = this.drain().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
  }

  private async drain(): Promise<void> {
    try {
      while (!this.error && this.latest !== this.reported) {
        const done = this.latest;
        this.reported = done;
        this.lastCall = Date.now();
        await this.fn(done, this.total > 0 ? (done * 100) / this.total : 100);
        if (Date.now() - this.lastCall < PROGRESS_EVERY_MS) break;
      }
    } catch (e) {
      this.error ??= { e };
    }
  }
}

/**
 * Runs `work(0..count-1)` with at most `width` at once. The first failure aborts the signal the
 * others run under and stops new ones; it is thrown once every started part has settled, so
 * nothing still writes to a file or a socket after this returns.
 */
export async function runParts(count: number, width: number, work: (index: number, signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < count) {
      const i = next++;
      try {
        await work(i, ac.signal);
      } catch (e) {
        if (!failure) {
          failure = { e };
          ac.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  if (failure) throw failure.e;
}

/** Attempts per part (Go's s3manager retries a failed part the same way). */
const PART_ATTEMPTS = 3;

/** A body that ended before its range did: the connection dropped, worth another try. */
export class ShortBodyError extends Error {}

/** A 5xx, a 429, a transport error or a cut body: worth another try; a 4xx answer is final. */
function transient(e: unknown): boolean {
  if (e instanceof ShortBodyError) return true;
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500 || status === 429 || status === 408;
  return e instanceof Error && e.name !== 'AbortError';
}

/**
 * `attempt(n)` until it succeeds, a final error, or PART_ATTEMPTS tries (short backoff between).
 * Once `stopped()` names an error (the progress callback failed), that error ends it.
 */
export async function withRetry<T>(signal: AbortSignal, stopped: () => unknown, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const stop = stopped();
      if (stop !== undefined) throw stop;
      if (signal.aborted || n >= PART_ATTEMPTS || !transient(e)) throw e;
      await new Promise((r) => setTimeout(r, 200 * n));
      if (signal.aborted) throw e;
    }
  }
}
