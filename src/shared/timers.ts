/**
 * The one place that starts timers. Node's timers hold at most 2^31-1 ms (about 24.8 days): a longer
 * delay is taken as 1 ms, with a TimeoutOverflowWarning, so a job due in a month made every idle runner
 * spin. Here a delay of any length waits as long as it says, in hops of at most that limit; a delay
 * that is not a finite number of milliseconds from 0 is a bug of the caller (options are checked where
 * they are given, against {@link maxDurationMs}), and throws instead of firing at once.
 *
 * The lint forbids `setTimeout` and `setInterval` everywhere else in `src/`.
 */

/** The longest delay a single Node timer holds, in milliseconds. */
export const maxTimerMs = 2 ** 31 - 1;

/**
 * The longest duration gearshift takes for any option (a delay, a timeout, a lease, a backoff, a grace
 * period): 10 years, in milliseconds. Past it a value is far more likely a unit mistake (seconds given
 * as microseconds, a date given as a duration) than an intent.
 */
export const maxDurationMs = 3652.5 * 86_400_000;

/** A running timer: the subset of Node's `Timeout` that long timers provide too. */
export interface Timer {
  /** Cancels it; it will not fire (again). */
  close(): void;
  /** Lets the process exit while this timer is the only thing left. */
  unref(): Timer;
}

/** Calls `callback` once, `ms` milliseconds from now, however long that is. */
export function after(ms: number, callback: () => void): Timer {
  checkDelay(ms);
  return ms <= maxTimerMs ? setTimeout(callback, ms) : new LongTimeout(ms, callback);
}

/** Calls `callback` every `ms` milliseconds, however long that is, until closed. */
export function every(ms: number, callback: () => void): Timer {
  checkDelay(ms);
  return ms <= maxTimerMs ? setInterval(callback, ms) : new LongInterval(ms, callback);
}

/**
 * Calls `callback` every `ms` milliseconds from the second tick on, with the time (Date.now()) of the
 * tick before, until closed. A deadline judged as of the tick before is judged after the loop has had a
 * turn to read its sockets: a tick that comes after this process itself stalled (a long synchronous
 * task, a debugger, a suspended machine) runs before the answers that came meanwhile are read.
 */
export function everyAfterTurn(ms: number, callback: (previousTick: number) => void): Timer {
  let previousTick: number | undefined;
  return every(ms, () => {
    const then = previousTick;
    previousTick = Date.now();
    if (then !== undefined) callback(then);
  });
}

/** Cancels a timer, if there is one. */
export function cancel(timer: Timer | undefined): void {
  timer?.close();
}

function checkDelay(ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `gearshift: a timer of ${String(ms)} ms (a delay must be a finite number of milliseconds from 0)`,
    );
  }
}

/** A timeout past Node's limit: hops of at most maxTimerMs, measured on the monotonic clock. */
class LongTimeout implements Timer {
  readonly #due: number;
  readonly #callback: () => void;
  #hop: NodeJS.Timeout | undefined;
  #referenced = true;
  #closed = false;

  constructor(ms: number, callback: () => void) {
    this.#due = performance.now() + ms;
    this.#callback = callback;
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#hop);
  }

  unref(): Timer {
    this.#referenced = false;
    this.#hop?.unref();
    return this;
  }

  #arm(): void {
    if (this.#closed) return;
    const left = this.#due - performance.now();
    const last = left <= maxTimerMs;
    this.#hop = setTimeout(last ? this.#callback : () => this.#arm(), last ? Math.max(0, left) : maxTimerMs);
    if (!this.#referenced) this.#hop.unref();
  }
}

/** An interval past Node's limit: one long timeout after another. */
class LongInterval implements Timer {
  readonly #ms: number;
  readonly #callback: () => void;
  #current: LongTimeout;
  #referenced = true;
  #closed = false;

  constructor(ms: number, callback: () => void) {
    this.#ms = ms;
    this.#callback = callback;
    this.#current = this.#next();
  }

  close(): void {
    this.#closed = true;
    this.#current.close();
  }

  unref(): Timer {
    this.#referenced = false;
    this.#current.unref();
    return this;
  }

  #next(): LongTimeout {
    const timeout = new LongTimeout(this.#ms, () => {
      if (this.#closed) return;
      this.#current = this.#next();
      this.#callback();
    });
    if (!this.#referenced) timeout.unref();
    return timeout;
  }
}
