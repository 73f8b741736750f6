/**
 * Waiting until nothing is in flight, for any number of waiters: a `close()` or a `stop()` waits on it
 * while jobs run, and the owner opens it when the last one ends.
 */
export class IdleLatch {
  #waiters: (() => void)[] = [];

  /** Resolves at the next `open()`. Call it only while something is in flight. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Nothing is in flight now: every waiter goes on. */
  open(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
