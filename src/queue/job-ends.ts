/**
 * Callers awaiting the end of background jobs of a queue file (`Client.finished`). A job that a runner
 * of this process ends is answered in the flush of the commit that ends it (QueueStore.jobEnded). Any
 * other end is seen on the file's change signal: within about a millisecond of another process's commit,
 * and on the signal's timer at the latest; each such wake reads which of the awaited jobs have ended. A
 * job that had ended before its caller asked is answered at once.
 */
import type { JobStatus } from '../backend.js';
import { ClientClosedError, type GearshiftError } from '../errors.js';
import { cancel, every, maxTimerMs, type Timer } from '../shared/timers.js';
import { toStatus } from './job-status.js';
import type { QueueStore } from './queue-store.js';
import { State } from './stored-codes.js';

/** Up to this many waited-for jobs, a wake reads each one's row instead of first asking which ended. */
const readEachUpTo = 4;

interface Waiter {
  readonly resolve: (status: JobStatus) => void;
  readonly reject: (reason: unknown) => void;
}

/** The callers awaiting jobs' ends on one queue file. */
export class JobEnds {
  readonly #store: QueueStore;
  readonly #waiters = new Map<number, Set<Waiter>>();
  #unsubscribe: (() => void) | undefined;
  #holdOpen: Timer | undefined;

  constructor(store: QueueStore) {
    this.#store = store;
  }

  /**
   * Resolves with the job's status once it has ended (completed, failed for good, dead or cancelled),
   * or at once when it has, or when the file has no such job (`known: false`). Rejects with the
   * signal's reason when it aborts first.
   */
  wait(id: number, signal: AbortSignal | undefined): Promise<JobStatus> {
    return new Promise<JobStatus>((resolve, reject) => {
      if (this.#store.closed) {
        reject(new ClientClosedError('finished() was called after the queue file was closed'));
        return;
      }
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // Ended already (or not in the file): answered from its row, waking nobody else on the file (a
      // wake of the change signal would send this process's runner to look for work too).
      const ended = this.#ended(id);
      if (ended) {
        resolve(ended);
        return;
      }
      const onAbort = () => {
        this.#drop(id, waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (status) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(status);
        },
        reject: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let waiters = this.#waiters.get(id);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(id, waiters);
      }
      waiters.add(waiter);
      // Someone waits: the process must not end before the job does (the change signal's watch and
      // timer hold nothing open by themselves).
      this.#holdOpen ??= every(maxTimerMs, () => {});
      if (this.#unsubscribe) return;
      const watched = this.#store.changes.watching;
      this.#unsubscribe = this.#store.changes.subscribe(() => this.#check());
      this.#store.onJobEnded(this.#endedHere);
      // A signal that starts watching now counts what was committed before as seen: the job may have
      // ended (in another process) between the read above and then, so it is read again. A signal that
      // watched already (this process's runner listens too) will still tell of such a commit.
      if (!watched) this.#settle(id);
    });
  }

  /** Fails every caller still waiting (the file is closing). */
  close(reason: GearshiftError): void {
    const waiting = [...this.#waiters.values()];
    this.#waiters.clear();
    this.#idle();
    for (const waiters of waiting) for (const waiter of waiters) waiter.reject(reason);
  }

  /** A runner of this process ended job `id` (and its commit returned just now). */
  readonly #endedHere = (id: number): void => {
    if (this.#waiters.has(id)) this.#settle(id);
  };

  #check(): void {
    const store = this.#store;
    if (this.#waiters.size === 0 || store.closed) return;
    // A few waited-for jobs (the usual case: one awaited job) are read row by row, as their statuses
    // need; many, by one statement that picks out the ended ones first.
    const ids = [...this.#waiters.keys()];
    for (const id of ids.length <= readEachUpTo ? ids : store.readJobs.endedAmong(ids)) this.#settle(id);
  }

  /** Answers the callers waiting on one job if it has ended (and lets the signal go when none is left). */
  #settle(id: number): void {
    const status = this.#ended(id);
    if (!status) return;
    const waiters = this.#waiters.get(id);
    this.#waiters.delete(id);
    for (const waiter of waiters ?? []) waiter.resolve(status);
    if (this.#waiters.size === 0) this.#idle();
  }

  /** The job's status if it has ended, or is not in the file; undefined while it is queued or running. */
  #ended(id: number): JobStatus | undefined {
    const store = this.#store;
    const row = store.readJobs.byId(id);
    if (row && row.state < State.completed) return undefined;
    const handle = store.handle(id);
    return row
      ? toStatus(handle, row)
      : { handle, known: false, running: false, numerator: 0, denominator: 0 };
  }

  #drop(id: number, waiter: Waiter): void {
    const waiters = this.#waiters.get(id);
    waiters?.delete(waiter);
    if (waiters?.size === 0) this.#waiters.delete(id);
    if (this.#waiters.size === 0) this.#idle();
  }

  /** Nobody waits: the change signal and the process are let go. */
  #idle(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#store.onJobEnded(undefined);
    cancel(this.#holdOpen);
    this.#holdOpen = undefined;
  }
}
