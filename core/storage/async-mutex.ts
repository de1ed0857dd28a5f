// A promise-chain mutex: tasks passed to run() execute one at a time, in call order. Used to
// serialise the writers of one volume while readers proceed without it.
export class AsyncMutex {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.pending++;
    const result = this.tail.then(task);
    const settle = () => {
      this.pending--;
    };
    this.tail = result.then(settle, settle);
    return result;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Resolves once everything queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
