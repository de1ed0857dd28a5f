// Bounds the interval-sized buffers EC recoveries hold at once across all reads of the server (Go's
// ecRecoverBudget / ecRecoverSem, weed/storage/store_ec.go): a burst of reconstructions against slow
// peers queues here instead of growing the heap. A request larger than the budget takes all of it.

export const EC_RECOVER_BUDGET_BYTES = 256 * 1024 * 1024;

export class RecoverBudget {
  private used = 0;
  private readonly waiters: { weight: number; wake: () => void }[] = [];

  constructor(readonly capacity = EC_RECOVER_BUDGET_BYTES) {}

  /** Runs `fn` holding `weight` bytes of the budget. */
  async with<T>(weight: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const w = Math.min(Math.max(0, weight), this.capacity);
    await this.acquire(w, signal);
    try {
      return await fn();
    } finally {
      this.release(w);
    }
  }

  private acquire(w: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.waiters.length === 0 && this.used + w <= this.capacity) {
      this.used += w;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        weight: w,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
        this.pump();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(w: number): void {
    this.used -= w;
    this.pump();
  }

  /** Wakes waiters in arrival order while they fit. */
  private pump(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].weight <= this.capacity) {
      const next = this.waiters.shift()!;
      this.used += next.weight;
      next.wake();
    }
  }
}
