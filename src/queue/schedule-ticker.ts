/**
 * A runner's part in the file's schedules: it sleeps until the soonest slot of any schedule, then
 * enqueues what is due in one write (sql/schedules.ts). Every runner of the file does so; the first to
 * commit enqueues the slot, the others find it moved. A change to the file (a schedule kept or removed
 * by a client) makes it look again at the soonest slot, which is one read of an index.
 */
import { after, cancel, type Timer } from '../shared/timers.js';
import type { QueueStore } from './queue-store.js';

export class ScheduleTicker {
  readonly #store: QueueStore;
  readonly #write: <T>(operation: () => T) => Promise<T | undefined>;
  #timer: Timer | undefined;
  /** The slot the timer waits for. */
  #armedFor: number | null = null;
  #ticking = false;
  #stopped = false;

  /** @param write queues a write in the runner's shared commit */
  constructor(store: QueueStore, write: <T>(operation: () => T) => Promise<T | undefined>) {
    this.#store = store;
    this.#write = write;
  }

  /** Looks at the soonest slot again, and waits for it (called at start and on each change). */
  arm(): void {
    if (this.#stopped || this.#ticking || this.#store.closed) return;
    const soonest = this.#store.schedules.soonest();
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
      await this.#write(() => this.#store.schedules.tick(Date.now()));
    } finally {
      this.#ticking = false;
    }
    this.arm();
  }
}
