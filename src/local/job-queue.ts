/**
 * The local queue: one FIFO per priority, high before normal before low. Removal is lazy: a job dropped
 * while queued stays in its FIFO, marked, and is skipped when it reaches the front, so that dropping
 * costs O(1) however long the queue is.
 */
import type { Priority } from '../backend.js';
import { Fifo } from '../shared/fifo.js';

/** What the queue needs to know of an entry. */
export interface Queueable {
  readonly priority: Priority;
  /** False once the entry was dropped; the queue then skips it. */
  readonly queued: boolean;
}

/** A priority queue of FIFOs with lazy removal. */
export class JobQueue<T extends Queueable> {
  readonly #fifos: Record<Priority, Fifo<T>> = { high: new Fifo(), normal: new Fifo(), low: new Fifo() };
  readonly #order = [this.#fifos.high, this.#fifos.normal, this.#fifos.low];
  #size = 0;

  /** Entries still queued (dropped ones excluded). */
  get size(): number {
    return this.#size;
  }

  push(entry: T): void {
    this.#fifos[entry.priority].push(entry);
    this.#size++;
  }

  /** Puts an entry back at the front of its priority, ahead of everything that came after it. */
  unshift(entry: T): void {
    this.#fifos[entry.priority].unshift(entry);
    this.#size++;
  }

  /** Records that an entry still in a FIFO was dropped. */
  dropped(): void {
    this.#size--;
  }

  /** The next entry to run, without removing it. */
  peek(): T | undefined {
    return this.#front(false);
  }

  /** Removes and returns the next entry to run. */
  shift(): T | undefined {
    const entry = this.#front(true);
    if (entry) this.#size--;
    return entry;
  }

  #front(remove: boolean): T | undefined {
    for (const fifo of this.#order) {
      let entry = fifo.peek();
      while (entry && !entry.queued) {
        fifo.shift();
        entry = fifo.peek();
      }
      if (entry) return remove ? fifo.shift() : entry;
    }
    return undefined;
  }

  /** Empties the queue, returning what was still queued. */
  drain(): T[] {
    const entries: T[] = [];
    for (let entry = this.shift(); entry; entry = this.shift()) entries.push(entry);
    return entries;
  }
}
