// Go's WriteThrottler (weed/util): keeps a copy's write rate near a byte budget.

/** Go's WriteThrottler: sleeps so that the bytes written stay near `bytesPerSecond`. */
export class WriteThrottler {
  private counter = 0;
  private lastCheck = Date.now();

  constructor(private readonly bytesPerSecond: number) {}

  async maybeSlowdown(delta: number): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    this.counter += delta;
    const now = Date.now();
    if (now - this.lastCheck > 100) {
      const over = this.counter - this.bytesPerSecond / 10;
      if (over > 0) {
        const ms = Math.floor((over / this.bytesPerSecond) * 1000);
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      }
      this.counter = 0;
      this.lastCheck = Date.now();
    }
  }
}
