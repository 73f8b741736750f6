/**
 * A queue file seen from outside the client: what `gearshift status` shows and what an operator does
 * (list dead jobs, put them back, prune). Opening one does not start a runner.
 */
import type { JobState, JobStatus } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { isGone } from '../shared/local-processes.js';
import { toStatus } from './job-status.js';
import { loadQueueCode } from './load-queue-code.js';
import { QueueControl } from './queue-control.js';
import { type Durability, defaultQueuePath, jobDefaults } from './queue-options.js';
import { QueueSchedules } from './queue-schedules.js';
import type { QueueStore } from './queue-store.js';
import type { Retention } from './sql/retention.js';
import type { RunnerRow } from './sql/runners.js';
import { State } from './stored-codes.js';

/** One function's line of `gearshift status`, as `gearadmin --status` gives it for gearmand. */
export interface FunctionStatus {
  readonly functionName: string;
  readonly queued: number;
  readonly running: number;
  /** Live runners that run this function. */
  readonly workers: number;
  /** Whether it is paused: its jobs queue, and no runner takes them. */
  readonly paused: boolean;
}

/** A runner working on the file. */
export interface RunnerStatus {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  readonly functions: readonly string[];
  readonly threads: number;
  /** Jobs it holds now (running, or claimed for its pool). */
  readonly running: number;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
}

const stateNumbers: Readonly<Record<JobState, number>> = State;

/** A queue file, for inspection and repair. */
export class Queue {
  readonly #store: QueueStore;
  #control: QueueControl | undefined;
  #schedules: QueueSchedules | undefined;

  /** @internal use {@link openQueue} */
  constructor(store: QueueStore) {
    this.#store = store;
  }

  /** The file's absolute path. */
  get file(): string {
    return this.#store.file;
  }

  /**
   * Per function: jobs queued and running, and the live runners that run it. A function with jobs and
   * `workers: 0` has no live runner that knows it: its jobs wait until one starts (a typo in a name
   * shows here).
   */
  functions(): FunctionStatus[] {
    const workers = new Map<string, number>();
    for (const runner of this.#liveRunners()) {
      for (const name of JSON.parse(runner.functions) as string[])
        workers.set(name, (workers.get(name) ?? 0) + 1);
    }
    const paused = new Set(this.#store.control.paused());
    const lines = new Map<string, FunctionStatus>();
    const line = (functionName: string, queued = 0, running = 0) =>
      lines.set(functionName, {
        functionName,
        queued,
        running,
        workers: workers.get(functionName) ?? 0,
        paused: paused.has(functionName),
      });
    for (const counts of this.#store.counts.active())
      line(counts.functionName, counts.queued, counts.running);
    for (const functionName of [...workers.keys(), ...paused])
      if (!lines.has(functionName)) line(functionName);
    return [...lines.values()].sort((a, b) => a.functionName.localeCompare(b.functionName));
  }

  /**
   * The runners working on the file now: those heard from within three beats (two seconds each, at
   * most), less those of this host whose process is gone.
   */
  runners(): RunnerStatus[] {
    const held = this.#store.runners.held();
    return this.#liveRunners().map((runner) => ({
      running: held.get(runner.id) ?? 0,
      id: runner.id,
      pid: runner.pid,
      host: runner.host,
      functions: JSON.parse(runner.functions) as string[],
      threads: runner.threads,
      startedAt: new Date(runner.startedAt),
      heartbeatAt: new Date(runner.heartbeatAt),
    }));
  }

  /** One job's status, or `known: false`. */
  job(handle: string): JobStatus {
    const id = this.#store.idOf(handle);
    const row = id === undefined ? undefined : this.#store.readJobs.byId(id);
    return row
      ? toStatus(handle, row)
      : { handle, known: false, running: false, numerator: 0, denominator: 0 };
  }

  /** The most recent jobs in a state, newest first (`dead` lists the dead-letter jobs). */
  jobs(state: JobState, limit = 100): JobStatus[] {
    const stored = stateNumbers[state];
    if (stored === undefined) {
      throw new InvalidOptionError('state', "'queued', 'running', 'completed', 'failed' or 'dead'", state);
    }
    return this.#store.readJobs
      .byState(stored, limit)
      .map((row) => toStatus(this.#store.handle(row.id), row));
  }

  /**
   * Puts a failed, dead or cancelled job back in the queue with a fresh set of attempts; false if it was
   * none of them. (`control.retry()` does the same for many jobs at once.)
   */
  requeue(handle: string): boolean {
    const id = this.#store.idOf(handle);
    if (id === undefined) return false;
    const store = this.#store;
    const requeued =
      store.transaction(() => store.control.retry({ ids: [id] }, Date.now()), 'immediate') === 1;
    if (requeued) store.changes.notify();
    return requeued;
  }

  /** Control of the file's jobs: cancel, retry, remove, purge, pause and resume, as a client's. */
  get control(): QueueControl {
    this.#control ??= new QueueControl(() => this.#store);
    return this.#control;
  }

  /** The file's schedules, as a client's (its jobs take the queue's default attempts and backoff). */
  get schedules(): QueueSchedules {
    this.#schedules ??= new QueueSchedules(
      () => this.#store,
      () => jobDefaults,
    );
    return this.#schedules;
  }

  /** Deletes finished jobs past their retention; returns how many rows went. */
  prune(retention: Retention): number {
    let total = 0;
    for (let pruned = -1; pruned !== 0; total += pruned) {
      pruned = this.#store.transaction(() => this.#store.prune(retention, Date.now()), 'immediate');
    }
    return total;
  }

  close(): void {
    this.#store.close();
  }

  #liveRunners(): RunnerRow[] {
    return this.#store.runners.alive(Date.now()).filter((runner) => !isGone(runner));
  }
}

/** How {@link openQueue} opens a file. */
export interface OpenQueueOptions {
  /** @default 'process' */
  readonly durability?: Durability;
  /** Whether a file that does not exist is created (empty); when not, it is a QueueFileError. @default true */
  readonly create?: boolean;
}

/** Opens a queue file for inspection and repair; no runner starts. */
export async function openQueue(
  path: string = defaultQueuePath(),
  options: OpenQueueOptions = {},
): Promise<Queue> {
  const { durability = 'process', create = true } = options;
  // The queue file's code (SQLite's, the SQL) loads here, on first use, not with the package.
  const { QueueStore } = await loadQueueCode();
  return new Queue(new QueueStore(path, { durability, pollMs: 1000, create }));
}
