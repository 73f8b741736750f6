/**
 * Tells whoever waits on a queue file that it may have changed: at once for commits made in this
 * process, within about a millisecond for commits of other processes (a watch on the file's directory
 * sees the WAL being written), and on a timer as a safety net for a watch that missed something.
 *
 * The watch also sees this process's own commits, which were told at once already: a sign from it
 * counts only when another connection has committed since the last one (`committedElsewhere`), so that
 * a commit does not wake every waiter twice, the second time on the way of the next job.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { cancel, every, type Timer } from '../shared/timers.js';

/** Calls its listeners when the queue file may have changed. */
export class ChangeSignal {
  readonly #file: string;
  readonly #pollMs: number;
  readonly #listeners = new Set<() => void>();
  #watcher: FSWatcher | undefined;
  #poll: Timer | undefined;
  #firing = false;

  readonly #committedElsewhere: () => boolean;

  /**
   * @param committedElsewhere whether another connection has committed to the file since it was last
   *   asked (SQLite's data_version); a watch's sign without such a commit is this process's own
   */
  constructor(file: string, pollMs: number, committedElsewhere: () => boolean = () => true) {
    this.#committedElsewhere = committedElsewhere;
    this.#file = file;
    this.#pollMs = pollMs;
  }

  /** Adds a listener; the watch and the timer run while there is one. Neither holds the process open. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** Whether it has listeners now (and so watches the file, and has counted what was committed as seen). */
  get watching(): boolean {
    return this.#listeners.size > 0;
  }

  /** Something changed: listeners are called once, on the next microtask, however often this is called. */
  notify(): void {
    if (this.#firing) return;
    this.#firing = true;
    Promise.resolve().then(() => {
      this.#firing = false;
      for (const listener of [...this.#listeners]) listener();
    });
  }

  #start(): void {
    const name = basename(this.#file);
    // From now on: what was committed before is what the listeners will read anyway.
    this.#committedElsewhere();
    try {
      this.#watcher = watch(dirname(this.#file), { persistent: false }, (_event, changed) => {
        if ((changed === null || changed.startsWith(name)) && this.#committedElsewhere()) this.notify();
      });
      // A directory that cannot be watched (too many watches, say) leaves the timer alone to do the job.
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      this.#watcher = undefined;
    }
    this.#poll = every(this.#pollMs, () => this.notify());
    this.#poll.unref();
  }

  #stop(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    cancel(this.#poll);
    this.#poll = undefined;
  }
}
