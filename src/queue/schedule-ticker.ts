/**
 * Sleeps until the soonest slot of a file's schedules, then has what is due handled (sql/schedules.ts):
 * a runner enqueues the file's own in one write, a Gearman scheduler claims and sends Gearman's. Every
 * runner (or scheduler) of the file does so; the first to commit has the slot, the others find it moved.
 * A change to the file (a schedule kept or removed by a client) makes it look again at the soonest slot,
 * which is one read of an index.
 */
import { after, cancel, type Timer } from '../shared/timers.js';

/**
 * The longest a ticker sleeps before it looks at the wall clock again: timers follow a clock that stops
 * while the machine sleeps, and a slot must not wait for the hours a laptop was closed.
 */
const maxSleepMs = 60_000;
/** After a look that left something due (its write failed), the next one waits this long at least. */
const retryMs = 1000;

import type { QueueStore } from './queue-store.js';
import type { ScheduleTarget } from './sql/schedules.js';

export class ScheduleTicker {
  readonly #store: QueueStore;
  readonly #target: ScheduleTarget | null;
  readonly #handleDue: () => Promise<unknown>;
  #timer: Timer | undefined;
  /** The slot the timer waits for. */
  #armedFor: number | null = null;
  #ticking = false;
  #stopped = false;
  /** When the last look ended (Date.now()), to space out looks that found the same slot still due. */
  #lastTick = 0;
  /** The soonest slot when the last look began: still the soonest after it means that look failed. */
  #lastLooked: number | null = null;

  /**
   * @param target whose schedules: the file's own (null) or Gearman's
   * @param handleDue handles what is due now (a write that enqueues it, or claims it to send), and
   *   reports its own failures
   */
  constructor(store: QueueStore, target: ScheduleTarget | null, handleDue: () => Promise<unknown>) {
    this.#store = store;
    this.#target = target;
    this.#handleDue = handleDue;
  }

  /** Looks at the soonest slot again, and waits for it (called at start and on each change). */
  arm(): void {
    if (this.#stopped || this.#ticking || this.#store.closed) return;
    const soonest = this.#store.schedules.soonest(this.#target);
    if (soonest === this.#armedFor && (this.#timer || soonest === null)) return;
    cancel(this.#timer);
    this.#timer = undefined;
    this.#armedFor = soonest;
    if (soonest === null) return;
    const now = Date.now();
    // The slot the last look began with, still due after it, means that look failed (its write was
    // refused): not again at once. A later slot already due (a slow look, a short interval) is due now.
    const failed = soonest === this.#lastLooked && soonest <= now && now - this.#lastTick < retryMs;
    const wait = failed ? this.#lastTick + retryMs - now : soonest - now;
    this.#timer = after(Math.min(Math.max(0, wait), maxSleepMs), () => this.#wake()).unref();
  }

  /** The timer fired: a look if the slot is due by the wall clock, else another sleep. */
  #wake(): void {
    this.#timer = undefined;
    const soonest = this.#store.closed ? null : this.#store.schedules.soonest(this.#target);
    if (soonest !== null && soonest <= Date.now()) void this.#tick(soonest);
    else {
      this.#armedFor = null;
      this.arm();
    }
  }

  stop(): void {
    this.#stopped = true;
    cancel(this.#timer);
    this.#timer = undefined;
  }

  async #tick(soonest: number): Promise<void> {
    this.#timer = undefined;
    this.#armedFor = null;
    this.#ticking = true;
    this.#lastLooked = soonest;
    try {
      await this.#handleDue();
    } catch (error) {
      // Its owner reports what failed; a rejection must not end the process, and the next look retries.
      process.emitWarning(`gearshift: a look at the schedules failed: ${String(error)}`, 'GearshiftWarning');
    } finally {
      this.#ticking = false;
      this.#lastTick = Date.now();
    }
    this.arm();
  }
}
