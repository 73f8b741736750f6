/**
 * A runner: claims jobs from a queue file and runs them on a backend (the local thread pool), writing
 * back what they report. Any number of runners, in any number of processes, may share a file.
 *
 * At least once: a claimed job holds a lease that the runner renews while it runs; if the runner dies,
 * the lease expires and the job is claimed again (by then another attempt). Every write about a job is
 * fenced by its lease token, so a runner that lost a lease cannot complete or fail that job afterwards.
 */
import { hostname } from 'node:os';
import type { FunctionInfo, JobListener, JobTicket } from '../backend.js';
import { type GearshiftError, JobAbortedError, JobTimeoutError, tookDownByAnother } from '../errors.js';
import type { LocalPool } from '../local/create-local-backend.js';
import type { LocalBackend } from '../local/local-backend.js';
import { jobErrorToData } from '../payload/job-error.js';
import { randomId, randomToken } from '../random.js';
import { priorityNames } from './priority.js';
import type { QueueStore } from './queue-store.js';
import { EventKind, State } from './schema.js';
import type { ClaimedJob } from './sql/claim-jobs.js';
import type { Retention } from './sql/retention.js';
import { fromStored, toStored } from './stored-payload.js';

/** How a runner behaves. */
export interface RunnerOptions {
  /** How long a claim lasts without renewal, in milliseconds; a dead runner's jobs come back after it. */
  readonly leaseMs: number;
  readonly retention: Retention;
}

/** How often the progress of background jobs is written, at most (the first report goes at once). */
const progressEveryMs = 100;
/** How often finished jobs are pruned. */
const pruneEveryMs = 30_000;
/** Claim ahead enough to keep the slots busy for this long. */
const claimAheadMs = 50;
const maxClaimAhead = 512;

/** The runner's side of one claimed job. */
class RunnerJob implements JobListener {
  readonly row: ClaimedJob;
  readonly token: number;
  readonly handle: string;
  readonly info: FunctionInfo;
  ticket: JobTicket | undefined;
  startedAt = 0;
  timer: NodeJS.Timeout | undefined;
  /** Latest progress not yet written to the job's row (written at most every progressEveryMs). */
  progress: [number, number] | undefined;
  ended = false;
  readonly #runner: QueueRunner;

  constructor(runner: QueueRunner, row: ClaimedJob, token: number, handle: string, info: FunctionInfo) {
    this.#runner = runner;
    this.row = row;
    this.token = token;
    this.handle = handle;
    this.info = info;
  }

  created(): void {}

  started(): void {
    this.#runner.jobStarted(this);
  }

  status(numerator: number, denominator: number): void {
    // The row keeps the latest progress, for status(): a background job's is written at most every
    // progressEveryMs; a foreground job's with each report, which its caller reads in order anyway.
    if (this.row.foreground) this.#runner.jobStatusEvent(this, numerator, denominator);
    else this.#runner.jobProgress(this, numerator, denominator);
  }

  data(chunk: unknown): void {
    // Background jobs have nobody to hear partial results; foreground callers read them in order.
    if (this.row.foreground) this.#runner.jobEvent(this, EventKind.data, toStored(chunk, this.info.payload));
  }

  warning(message: string): void {
    if (this.row.foreground) this.#runner.jobEvent(this, EventKind.warning, JSON.stringify(message));
  }

  complete(result: unknown): void {
    this.#runner.jobCompleted(this, result);
  }

  fail(error: GearshiftError): void {
    if (tookDownByAnother(error)) this.#runner.jobReleased(this);
    else this.#runner.jobFailed(this, error, false);
  }
}

/** Claims jobs from a queue and runs them on a local pool. */
export class QueueRunner {
  readonly id = randomId();
  readonly #store: QueueStore;
  readonly #backend: LocalBackend;
  readonly #threads: number;
  readonly #options: RunnerOptions;
  #functions = new Map<string, FunctionInfo>();
  /** The function names as a JSON array, as the claim query takes them. */
  #functionList = '[]';
  readonly #running = new Map<number, RunnerJob>();
  /** How many jobs to hold claimed, per job the pool runs at once (at least 2: one running, one next). */
  #claimAheadFactor = 2;
  /** Moving average of how long a job runs, in milliseconds. */
  #averageRunMs: number | undefined;
  #claiming = false;
  #stopping = false;
  #started = false;
  #unsubscribe: (() => void) | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #progressTimer: NodeJS.Timeout | undefined;
  #lastProgressFlush = 0;
  #lastPrune = 0;
  #lastReap = 0;
  #stopped: Promise<void> | undefined;

  constructor(store: QueueStore, pool: LocalPool, options: RunnerOptions) {
    this.#store = store;
    this.#backend = pool.backend;
    this.#threads = pool.threads;
    this.#options = options;
  }

  /**
   * How many jobs to hold claimed: enough for the pool's threads for about claimAheadMs, and at least
   * two per job it runs at once. The pool's capacity grows while its jobs wait on I/O, and so does this.
   */
  get #claimAhead(): number {
    return Math.min(maxClaimAhead, Math.ceil(this.#backend.capacity * this.#claimAheadFactor));
  }

  /** Registers the runner for the functions the backend knows, and starts claiming. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const functions = (await this.#backend.manifest()) ?? [];
    if (this.#stopping) return;
    this.#functions = new Map(functions.map((fn) => [fn.name, fn]));
    this.#functionList = JSON.stringify([...this.#functions.keys()]);
    const now = Date.now();
    await this.#write(() =>
      this.#store.runners.register({
        id: this.id,
        pid: process.pid,
        host: hostname(),
        functions: this.#functionList,
        threads: this.#threads,
        leaseMs: this.#options.leaseMs,
        startedAt: now,
        heartbeatAt: now,
      }),
    );
    const unsubscribeChanges = this.#store.changes.subscribe(() => this.#onChange());
    // The pool found its threads waiting on their jobs: it can run more at once, so claim more.
    const unsubscribeCapacity = this.#backend.onCapacityGrew(() => this.#fill());
    this.#unsubscribe = () => {
      unsubscribeChanges();
      unsubscribeCapacity();
    };
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(50, Math.floor(this.#options.leaseMs / 3)));
    this.#renewTimer.unref();
    this.#fill();
  }

  /**
   * Stops: claims nothing more, lets running jobs finish for up to `graceMs`, then aborts and releases
   * the rest (their attempt does not count) and unregisters.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    clearTimeout(this.#readyTimer);
    if (this.#running.size > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const now = Date.now();
    for (const job of [...this.#running.values()]) {
      job.ended = true;
      clearTimeout(job.timer);
      job.ticket?.detach(
        new JobAbortedError(job.row.functionName, job.handle, 'its runner is shutting down'),
      );
      this.#running.delete(job.row.id);
      void this.#write(() => this.#store.settle.release(job.row.id, job.token, now));
    }
    this.#flushProgress();
    clearInterval(this.#renewTimer);
    clearTimeout(this.#progressTimer);
    if (this.#started) await this.#write(() => this.#store.runners.remove(this.id));
  }

  #onIdle: (() => void) | undefined;

  jobStarted(job: RunnerJob): void {
    if (job.ended) return;
    job.startedAt = Date.now();
    const timeout = job.info.timeout;
    if (timeout !== undefined) {
      job.timer = setTimeout(() => {
        job.ticket?.detach(new JobTimeoutError(job.row.functionName, job.handle, timeout));
        this.jobFailed(job, new JobTimeoutError(job.row.functionName, job.handle, timeout), false);
      }, timeout);
    }
    const { id } = job.row;
    void this.#write(() => this.#store.settle.started(id, job.token, job.startedAt));
  }

  jobEvent(job: RunnerJob, kind: number, body: string | Uint8Array | null): void {
    if (job.ended) return;
    void this.#write(() => this.#store.events.append(job.row.id, kind, body));
  }

  jobStatusEvent(job: RunnerJob, numerator: number, denominator: number): void {
    if (job.ended) return;
    const body = JSON.stringify([numerator, denominator]);
    void this.#write(() => {
      this.#store.settle.progress(job.row.id, job.token, numerator, denominator);
      this.#store.events.append(job.row.id, EventKind.status, body);
    });
  }

  jobProgress(job: RunnerJob, numerator: number, denominator: number): void {
    if (job.ended) return;
    job.progress = [numerator, denominator];
    if (this.#progressTimer) return;
    const wait = this.#lastProgressFlush + progressEveryMs - Date.now();
    if (wait <= 0) this.#flushProgress();
    else this.#progressTimer = setTimeout(() => this.#flushProgress(), wait);
  }

  jobCompleted(job: RunnerJob, result: unknown): void {
    if (!this.#end(job)) return;
    const stored = toStored(result, job.info.payload);
    const { id } = job.row;
    void this.#write(() => {
      if (job.progress) this.#store.settle.progress(id, job.token, ...job.progress);
      this.#store.settle.complete(id, job.token, stored, Date.now());
    });
  }

  /** A failed attempt: retried after a backoff while attempts remain, unless `final`; else the job ends. */
  jobFailed(job: RunnerJob, error: GearshiftError, final: boolean): void {
    if (!this.#end(job)) return;
    const { id, attempts, maxAttempts, backoff, foreground, runAt } = job.row;
    const retry = !final && attempts < maxAttempts;
    const state = retry ? State.queued : foreground ? State.failed : State.dead;
    const now = Date.now();
    const stored = JSON.stringify(jobErrorToData(error));
    void this.#write(() =>
      this.#store.settle.fail(
        id,
        job.token,
        state,
        retry ? now + backoffDelay(backoff, attempts) : runAt,
        stored,
        now,
      ),
    );
  }

  /** An attempt that was not the job's fault: the job goes back to the queue, its attempt given back. */
  jobReleased(job: RunnerJob): void {
    if (!this.#end(job)) return;
    const { id } = job.row;
    const now = Date.now();
    void this.#write(() => this.#store.settle.release(id, job.token, now));
  }

  /** Marks a job ended; false when it already was (a timeout racing its result, say). */
  #end(job: RunnerJob): boolean {
    if (job.ended) return false;
    job.ended = true;
    clearTimeout(job.timer);
    this.#running.delete(job.row.id);
    if (job.startedAt > 0) {
      const ran = Date.now() - job.startedAt;
      this.#averageRunMs = this.#averageRunMs === undefined ? ran : this.#averageRunMs * 0.8 + ran * 0.2;
      this.#claimAheadFactor = Math.max(2, claimAheadMs / Math.max(this.#averageRunMs, 0.01));
    }
    if (this.#running.size === 0) this.#onIdle?.();
    // A slot is free: look for more work on the next turn (after this write is queued).
    setImmediate(() => this.#fill());
    return true;
  }

  #onChange(): void {
    this.#checkCancellations();
    this.#fill();
  }

  /** Claims more jobs when enough slots are free, in one write with whatever else is pending. */
  #fill(): void {
    if (this.#stopping || this.#claiming || this.#functions.size === 0) return;
    const wanted = this.#claimAhead - this.#running.size;
    if (wanted < Math.max(1, Math.floor(this.#claimAhead / 4))) return;
    this.#claiming = true;
    const token = randomToken();
    const { leaseMs } = this.#options;
    this.#write(() => {
      const now = Date.now();
      if (now - this.#lastReap >= Math.min(1000, leaseMs)) {
        this.#lastReap = now;
        this.#store.claimJobs.reapExpired(now);
      }
      return this.#store.claimJobs.claim(this.id, token, this.#functionList, now, leaseMs, wanted);
    }).then(
      (claimed) => {
        this.#claiming = false;
        if (claimed === undefined) return;
        for (const row of claimed) this.#run(row, token);
        if (claimed.length === wanted) this.#fill();
        else this.#scheduleNextReady();
      },
      () => {
        this.#claiming = false;
      },
    );
  }

  #run(row: ClaimedJob, token: number): void {
    const info = this.#functions.get(row.functionName) as FunctionInfo;
    const handle = this.#store.handle(row.id);
    const job = new RunnerJob(this, row, token, handle, info);
    this.#running.set(row.id, job);
    if (this.#stopping) return;
    let input: unknown;
    try {
      input = fromStored(row.input);
    } catch (error) {
      this.jobFailed(
        job,
        new JobAbortedError(row.functionName, handle, `its stored input is not JSON: ${String(error)}`),
        true,
      );
      return;
    }
    job.ticket = this.#backend.submit(
      {
        functionName: row.functionName,
        input,
        payload: info.payload,
        priority: priorityNames[row.priority] ?? 'normal',
        unique: row.unique ?? undefined,
        handle,
      },
      job,
    );
  }

  /** Wakes up when the next scheduled job becomes ready (the change signal covers the rest). */
  #scheduleNextReady(): void {
    clearTimeout(this.#readyTimer);
    const now = Date.now();
    const next = this.#store.claimJobs.nextReadyAt(this.#functionList, now);
    if (next === null) return;
    this.#readyTimer = setTimeout(() => this.#fill(), Math.max(0, next - now));
    this.#readyTimer.unref();
  }

  /** Aborts the jobs whose callers stopped waiting (a foreground job's timeout or abort). */
  #checkCancellations(): void {
    if (this.#running.size === 0 || this.#store.closed) return;
    for (const id of this.#store.leases.cancelled(this.id)) {
      const job = this.#running.get(id);
      if (!job) continue;
      const error = new JobAbortedError(job.row.functionName, job.handle, 'its caller stopped waiting');
      job.ticket?.detach(error);
      this.jobFailed(job, error, true);
    }
  }

  #renew(): void {
    const now = Date.now();
    const { leaseMs } = this.#options;
    void this.#write(() => {
      this.#store.runners.heartbeat(this.id, now);
      if (this.#running.size > 0) this.#store.leases.renew(this.id, now + leaseMs);
      // Runners silent for three leases are gone; their jobs come back through lease expiry.
      this.#store.runners.prune(now);
      if (now - this.#lastPrune >= pruneEveryMs) {
        this.#lastPrune = now;
        this.#store.prune(this.#options.retention, now);
      }
    });
    this.#checkCancellations();
  }

  #flushProgress(): void {
    this.#progressTimer = undefined;
    this.#lastProgressFlush = Date.now();
    const dirty = [...this.#running.values()].filter((job) => job.progress);
    if (dirty.length === 0) return;
    const writes = dirty.map((job) => ({
      id: job.row.id,
      token: job.token,
      progress: job.progress as [number, number],
    }));
    for (const job of dirty) job.progress = undefined;
    void this.#write(() => {
      for (const { id, token, progress } of writes) this.#store.settle.progress(id, token, ...progress);
    });
  }

  /** Queues a write; a failed write is reported as a warning and left to the lease to repair. */
  #write<T>(operation: () => T): Promise<T | undefined> {
    if (this.#store.closed) return Promise.resolve(undefined);
    return this.#store.runnerWrites.write(operation).catch((error: unknown) => {
      process.emitWarning(
        `queue runner ${this.id}: a write to ${this.#store.file} failed: ${String(error)}`,
        'GearshiftWarning',
      );
      return undefined;
    });
  }
}

/** Exponential backoff with jitter: around `base` x 2^(attempt - 1), between half of it and all of it. */
export function backoffDelay(base: number, attempt: number): number {
  const full = base * 2 ** Math.min(attempt - 1, 20);
  return Math.round(full / 2 + Math.random() * (full / 2));
}
