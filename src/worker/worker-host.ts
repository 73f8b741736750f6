/**
 * The host of the local pool for remote callers, written once for every source of jobs: it runs what a
 * source hands it (a claimed row of a queue file, a job a server assigned) on the pool, times each job
 * against its function's timeout, measures run times, knows how much more the pool can take, and stops
 * with a grace period. What is said back, and how, is the source's (JobSource).
 */
import type { FunctionInfo, JobStatus } from '../backend.js';
import { type GearshiftError, JobAbortedError, JobTimeoutError, tookDownByAnother } from '../errors.js';
import type { LocalPool } from '../local/create-local-backend.js';
import { IdleLatch } from '../shared/idle-latch.js';
import { after, cancel, type Timer } from '../shared/timers.js';
import { HostedJob, type HostedJobReports } from './hosted-job.js';
import type { JobHost, JobSource, JobToRun } from './job-source.js';
import type { WorkerEvents } from './worker-events.js';

/** Runs a source's jobs on a local pool. */
export class WorkerHost<O> implements JobHost<O> {
  readonly pool: LocalPool;
  readonly #loadSource: () => Promise<JobSource<O>>;
  #loaded: JobSource<O> | undefined;
  readonly #events: WorkerEvents;
  /** Whether stopping the host closes the pool (false when a client shares it). */
  readonly #ownsPool: boolean;
  readonly #running = new Map<string, HostedJob<O>>();
  readonly #idle = new IdleLatch();
  #stopping = false;
  readonly #reports: HostedJobReports<O> = {
    started: (job) => this.#started(job),
    status: (job, numerator, denominator) => this.#source.status(job, numerator, denominator),
    data: (job, chunk) => this.#source.data(job, chunk),
    warning: (job, message) => this.#source.warning(job, message),
    checkpoint: (job, state) => this.#source.checkpoint(job, state),
    complete: (job, result) => {
      // The answer goes before the end frees the room (which may ask for the next job).
      this.#source.completed(job, result);
      this.#end(job, 'completed', undefined, true);
    },
    fail: (job, error) => this.#failed(job, error, false),
  };

  /**
   * @param source loads the source of jobs (its code is loaded on first use: a process that never starts
   * a worker does not compile it)
   */
  constructor(pool: LocalPool, source: () => Promise<JobSource<O>>, events: WorkerEvents, ownsPool: boolean) {
    this.pool = pool;
    this.#loadSource = source;
    this.#events = events;
    this.#ownsPool = ownsPool;
  }

  /** Jobs it holds now, running or waiting for a thread. */
  get running(): number {
    return this.#running.size;
  }

  /** Jobs the pool runs at once now (it grows while its jobs wait on I/O). */
  get capacity(): number {
    return this.pool.backend.capacity;
  }

  /**
   * The moving average of how long jobs' handlers run, in milliseconds, as the pool timed them where they
   * ran; undefined before the first. Not the time from start to end here: for a job of microseconds on
   * a thread that is mostly the trip between threads, and sizing prefetch by it starves the thread.
   */
  get averageRunMs(): number | undefined {
    return this.pool.backend.averageRunMs;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** The events it emits (a source reports its connections through them). */
  get events(): WorkerEvents {
    return this.#events;
  }

  /** The source, once start() has loaded it. */
  get source(): JobSource<O> | undefined {
    return this.#loaded;
  }

  /** The source, where only start() can have led: to a job, and so to every report about one. */
  get #source(): JobSource<O> {
    return this.#loaded as JobSource<O>;
  }

  /** Loads the functions module and the source, then starts the source. */
  async start(): Promise<readonly FunctionInfo[]> {
    const [manifest, source] = await Promise.all([this.pool.backend.manifest(), this.#loadSource()]);
    const functions = manifest ?? [];
    this.#loaded = source;
    // Stopped while it loaded (a client closed right after its first status call, say): stop() could not
    // reach the source then, and it must not start now.
    if (this.#stopping) {
      await source.close();
      return functions;
    }
    // The pool grew (a thread found waiting on its jobs): the source may take more.
    this.pool.backend.onCapacityGrew(() => source.roomChanged());
    await source.start(this, functions);
    return functions;
  }

  /** A job the source took: kept here, and run once its input is decoded (`run`). */
  accept(job: JobToRun<O>): HostedJob<O> {
    const hosted = new HostedJob(job, this.#reports);
    this.#running.set(job.handle, hosted);
    return hosted;
  }

  /** Runs an accepted job on the pool (again, after another job took down the thread it ran on). */
  run(job: HostedJob<O>): void {
    const { handle, unique, input, info, resumeFrom, traceparent, priority, children } = job;
    job.ticket = this.pool.backend.submit(
      {
        functionName: info.name,
        input,
        payload: info.payload,
        priority,
        unique,
        handle,
        resumeFrom,
        traceparent,
        limitKept: this.#source.keepsLimits,
        children,
      },
      job,
    );
  }

  /** The job of this handle, while it is here. */
  job(handle: string): HostedJob<O> | undefined {
    return this.#running.get(handle);
  }

  /** Every job here now. */
  jobs(): HostedJob<O>[] {
    return [...this.#running.values()];
  }

  /**
   * Stops a job here: its signal aborts with `error`; `fail` tells the source it failed (final), `drop`
   * ends it without a word (its lease was lost, its server went away: someone else answers for it).
   */
  abort(job: HostedJob<O>, error: GearshiftError, then: 'fail' | 'drop'): void {
    if (job.ended) return;
    job.ticket?.detach(error);
    if (then === 'fail') this.#failed(job, error, true);
    else this.#end(job, 'abandoned', error);
  }

  /**
   * Fails a job that never reached the pool (its input could not be decoded, say), and says so: its
   * caller is told through the source, the worker's listeners (and log) through a `refused` event.
   */
  refuse(job: HostedJob<O>, error: GearshiftError, source: string): void {
    this.#events.emit('refused', { handle: job.handle, functionName: job.info.name, source, error });
    this.#failed(job, error, true);
  }

  /** The status of a job by handle as the pool sees it (for a source that is asked). */
  status(handle: string): Promise<JobStatus> {
    return this.pool.backend.status(handle);
  }

  /**
   * Stops: takes no more jobs, lets running ones finish for up to `graceMs`, then aborts the rest and
   * gives them back through the source (another worker takes them), and releases everything.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.pool.backend.setHostDemand(false);
    this.#loaded?.stopTaking();
    if (this.#running.size > 0 && graceMs > 0) {
      let timer: Timer | undefined;
      await Promise.race([
        this.#idle.wait(),
        new Promise<void>((resolve) => {
          timer = after(graceMs, resolve);
        }),
      ]);
      cancel(timer);
    }
    for (const job of [...this.#running.values()]) {
      if (job.ended) continue;
      job.ticket?.detach(new JobAbortedError(job.info.name, job.handle, 'its worker is shutting down'));
      this.#source.abandon(job);
      this.#end(job, 'abandoned');
    }
    await this.#loaded?.close();
    if (this.#ownsPool) await this.pool.backend.close();
  }

  #started(job: HostedJob<O>): void {
    job.startedAt = performance.now();
    this.#events.emit('jobStarted', { handle: job.handle, functionName: job.info.name });
    const { timeout, name } = job.info;
    if (timeout !== undefined) {
      job.timer = after(timeout, () => {
        const error = new JobTimeoutError(name, job.handle, timeout);
        job.ticket?.detach(error);
        this.#failed(job, error, false);
      });
    }
    this.#source.started(job);
  }

  #failed(job: HostedJob<O>, error: GearshiftError, final: boolean): void {
    if (job.ended) return;
    if (!final && tookDownByAnother(error)) {
      const taken = this.#source.innocentFailure(job);
      if (taken === 'run-again') {
        job.runsAgain++;
        cancel(job.timer);
        job.startedAt = undefined;
        this.run(job);
        return;
      }
      if (taken === 'given-back') {
        this.#end(job, 'abandoned', error);
        return;
      }
    }
    this.#source.failed(job, error, final);
    // Not final: the pool reported it, so it was taken up there (a final failure is a refusal or an abort).
    this.#end(job, 'failed', error, !final);
  }

  /** `endedByPool`: the pool reported the end, so the job was taken up there, whether or not its start was seen. */
  #end(
    job: HostedJob<O>,
    outcome: 'completed' | 'failed' | 'abandoned',
    error?: Error,
    endedByPool = false,
  ): void {
    if (job.ended) return;
    job.ended = true;
    cancel(job.timer);
    this.#running.delete(job.handle);
    const ms = job.startedAt === undefined ? undefined : performance.now() - job.startedAt;
    // A job measured tiny runs in a batch with others, and its end can overtake the report that it
    // began: it is announced as started now, so that every job the pool ended has both events (and no
    // time). One refused or stopped before it reached the pool has only its end.
    if (job.startedAt === undefined && endedByPool)
      this.#events.emit('jobStarted', { handle: job.handle, functionName: job.info.name });
    this.#events.emit('jobEnded', {
      handle: job.handle,
      functionName: job.info.name,
      outcome,
      ...(error ? { error } : {}),
      ...(ms === undefined ? {} : { ms }),
    });
    if (this.#running.size === 0) this.#idle.open();
    if (!this.#stopping) this.#source.roomChanged();
  }
}
