/**
 * Callers awaiting the end of background jobs of a queue file (`Client.finished`), woken by the file's
 * change signal: at once by a commit of this process (a runner here ending the job), within about a
 * millisecond by another process's, and by the signal's timer at the latest. Each wake reads which of
 * the awaited jobs have ended, whoever ran them; a job that had ended before its caller asked is
 * answered at once.
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
      this.#unsubscribe ??= this.#store.changes.subscribe(() => this.#check());
      // Someone waits: the process must not end before the job does (the change signal's watch and
      // timer hold nothing open by themselves).
      this.#holdOpen ??= every(maxTimerMs, () => {});
      // Read again now that the signal is watched: the first subscriber's watch counts what was
      // committed before it as seen, and the job may have ended between the read above and then.
      this.#settle(id);
    });
  }

  /** Fails every caller still waiting (the file is closing). */
  close(reason: GearshiftError): void {
    const waiting = [...this.#waiters.values()];
    this.#waiters.clear();
    this.#idle();
    for (const waiters of waiting) for (const waiter of waiters) waiter.reject(reason);
  }

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
    cancel(this.#holdOpen);
    this.#holdOpen = undefined;
  }
}
