/**
 * Where a worker's jobs come from and where their answers go: a queue file (QueueSource) or job servers
 * (GearmanSource). The host (WorkerHost) runs the jobs on the local pool and keeps what every source
 * needs once (timeouts, stop with grace, the run-time average, capacity); a source speaks its medium.
 */
import type { FunctionInfo, Priority } from '../backend.js';
import type { GearshiftError } from '../errors.js';
import type { LocalPool } from '../local/create-local-backend.js';
import type { HostedJob } from './hosted-job.js';
import type { WorkerEvents } from './worker-events.js';

/** What a source does with a job that failed only because another job took down its thread. */
export type InnocentFailure = 'run-again' | 'given-back' | 'fail';

/** What a source hands the host of a job it took. */
export interface JobToRun<O> {
  readonly handle: string;
  readonly info: FunctionInfo;
  readonly unique: string | undefined;
  /** The trace it was submitted in, when its caller traced it (a W3C traceparent). */
  readonly traceparent?: string | undefined;
  /**
   * Where it waits for a thread when the pool is full: a queue row's priority. A Gearman job has none
   * here (gearmand already assigned the jobs in their priority's order): normal.
   */
  readonly priority?: Priority | undefined;
  readonly origin: O;
}

/** What a source may ask of its host (WorkerHost). */
export interface JobHost<O> {
  readonly pool: LocalPool;
  readonly events: WorkerEvents;
  /** Jobs it holds now, running or waiting for a thread. */
  readonly running: number;
  /** Jobs the pool runs at once now (it grows while its jobs wait on I/O). */
  readonly capacity: number;
  /** The moving average of how long jobs' handlers run, in milliseconds, as the pool timed them; undefined before the first. */
  readonly averageRunMs: number | undefined;
  readonly stopping: boolean;
  /** Keeps a job the source took; `run` it once its input is decoded, or `refuse` it (from `source`). */
  accept(job: JobToRun<O>): HostedJob<O>;
  run(job: HostedJob<O>): void;
  refuse(job: HostedJob<O>, error: GearshiftError, source: string): void;
  /** Stops a job: `fail` tells the source it failed (final), `drop` ends it without a word. */
  abort(job: HostedJob<O>, error: GearshiftError, then: 'fail' | 'drop'): void;
  job(handle: string): HostedJob<O> | undefined;
  jobs(): HostedJob<O>[];
}

/** A source of jobs for a worker. `O` is what it keeps per job to answer for it. */
export interface JobSource<O> {
  /** What it says of itself once started: "runs f, g from var/jobs.db". */
  readonly description: string;
  /** Whether it keeps the functions' limits itself (a queue file does, in its claim; gearmand cannot). */
  readonly keepsLimits: boolean;
  /** Starts taking jobs for these functions and handing them to the host (`host.run`). */
  start(host: JobHost<O>, functions: readonly FunctionInfo[]): Promise<void>;
  /** The host has more room than before (a job ended, the pool grew): take more, if there are any. */
  roomChanged(): void;
  started(job: HostedJob<O>): void;
  status(job: HostedJob<O>, numerator: number, denominator: number): void;
  data(job: HostedJob<O>, chunk: unknown): void;
  warning(job: HostedJob<O>, message: string): void;
  /** The handler recorded a checkpoint: keep it where the job's next attempt will find it, if anywhere. */
  checkpoint(job: HostedJob<O>, state: unknown): void;
  completed(job: HostedJob<O>, result: unknown): void;
  /** The job failed; `final` when it must not be tried again (its caller cancelled it, say). */
  failed(job: HostedJob<O>, error: GearshiftError, final: boolean): void;
  /** Another job took down the thread this one ran on. */
  innocentFailure(job: HostedJob<O>): InnocentFailure;
  /** The worker stops while the job still runs: give it back to whoever hands it to another worker. */
  abandon(job: HostedJob<O>): void;
  /** Takes no more jobs. */
  stopTaking(): void;
  /** Releases what it holds (connections, timers, its registration). */
  close(): Promise<void>;
}
