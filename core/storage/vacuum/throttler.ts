// Rate limit for background copies, compactions and scans (-compactionMBps, -maintenanceMBps).
// Go's WriteThrottler (weed/util/throttler.go) only looks every 100 ms, so a burst shorter than that
// is never paced and a small volume compacts at full speed whatever the limit says. This one keeps
// the running total of bytes at the budget instead: after each chunk it sleeps off any lead. A stall
// earns at most one second of credit, so a slow stretch is not followed by an unpaced burst.

const MAX_CREDIT_MS = 1000;
/** Leads shorter than this are not worth a timer. */
const MIN_SLEEP_MS = 10;

export class WriteThrottler {
  private bytes = 0;
  private start = Date.now();

  /** `bytesPerSecond` <= 0 means unlimited. */
  constructor(private readonly bytesPerSecond: number) {}

  /** Counts `delta` bytes and answers how many ms to wait to stay within the budget (0 = go on). */
  delayFor(delta: number): number {
    if (this.bytesPerSecond <= 0) return 0;
    const now = Date.now();
    if ((this.bytes / this.bytesPerSecond) * 1000 - (now - this.start) < -MAX_CREDIT_MS) {
      this.bytes = 0;
      this.start = now - MAX_CREDIT_MS;
    }
    this.bytes += delta;
    const lead = (this.bytes / this.bytesPerSecond) * 1000 - (now - this.start);
    return lead >= MIN_SLEEP_MS ? Math.ceil(lead) : 0;
  }

  /** Counts `delta` bytes and sleeps as long as delayFor says. */
  async maybeSlowdown(delta: number): Promise<void> {
    const ms = this.delayFor(delta);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}
