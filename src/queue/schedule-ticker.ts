/**
 * Sleeps until the soonest slot of a file's schedules, then has what is due handled (sql/schedules.ts):
 * a runner enqueues the file's own in one write, a Gearman scheduler claims and sends Gearman's. Every
 * runner (or scheduler) of the file does so; the first to commit has the slot, the others find it moved.
 * A change to the file (a schedule kept or removed by a client) makes it look again at the soonest slot,
 * which is one read of an index.
 */
import { after, cancel, type Timer } from '../shared/timers.js';
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

  /**
   * @param target whose schedules: the file's own (null) or Gearman's
   * @param handleDue handles what is due now (a write that enqueues it, or claims it to send)
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
    this.#timer = after(Math.max(0, soonest - Date.now()), () => void this.#tick()).unref();
  }

  stop(): void {
    this.#stopped = true;
    cancel(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#armedFor = null;
    this.#ticking = true;
    try {
      await this.#handleDue();
    } finally {
      this.#ticking = false;
    }
    this.arm();
  }
}
