/**
 * One job a worker runs for a remote caller (a queue file's, a job server's): what the host keeps of
 * it, and the listener the local pool reports it to. Its source (QueueSource, GearmanSource) keeps what
 * it needs to answer for the job in `origin`.
 */
import type { FunctionInfo, JobListener, JobTicket, Priority } from '../backend.js';
import type { GearshiftError } from '../errors.js';
import type { FlowOutcome } from '../functions/flow-outcome.js';
import type { Timer } from '../shared/timers.js';
import type { JobToRun } from './job-source.js';

/** Where a hosted job's reports go: its host, which passes them to the source after its own bookkeeping. */
export interface HostedJobReports<O> {
  started(job: HostedJob<O>): void;
  status(job: HostedJob<O>, numerator: number, denominator: number): void;
  data(job: HostedJob<O>, chunk: unknown): void;
  warning(job: HostedJob<O>, message: string): void;
  checkpoint(job: HostedJob<O>, state: unknown): void;
  complete(job: HostedJob<O>, result: unknown): void;
  fail(job: HostedJob<O>, error: GearshiftError): void;
}

/** A job of a remote caller, run on the local pool. */
export class HostedJob<O> implements JobListener {
  readonly handle: string;
  readonly info: FunctionInfo;
  readonly unique: string | undefined;
  /** The trace it was submitted in, if any: each of its runs on the pool continues it. */
  readonly traceparent: string | undefined;
  readonly priority: Priority;
  /** What the source needs to answer for the job (a claimed row and its lease token, a connection). */
  readonly origin: O;
  /** The decoded input; undefined until decoded (a job whose input cannot be decoded never runs). */
  input: unknown;
  /** The latest checkpoint: the one its source brought, then each its handler records (a run again sees it). */
  resumeFrom: unknown;
  /** A flow's continuation: how each of its children ended. */
  children: readonly FlowOutcome[] | undefined;
  ticket: JobTicket | undefined;
  /** When it started on a thread (performance.now()), if it has. */
  startedAt: number | undefined;
  timer: Timer | undefined;
  /** Once ended, nothing more is reported or written for it. */
  ended = false;
  /** How many times it was run again after another job took down the thread it ran on. */
  runsAgain = 0;
  readonly #reports: HostedJobReports<O>;

  constructor(job: JobToRun<O>, reports: HostedJobReports<O>) {
    this.handle = job.handle;
    this.info = job.info;
    this.unique = job.unique;
    this.traceparent = job.traceparent;
    this.priority = job.priority ?? 'normal';
    this.origin = job.origin;
    this.#reports = reports;
  }

  created(): void {}

  started(): void {
    if (!this.ended) this.#reports.started(this);
  }

  status(numerator: number, denominator: number): void {
    if (!this.ended) this.#reports.status(this, numerator, denominator);
  }

  data(chunk: unknown): void {
    if (!this.ended) this.#reports.data(this, chunk);
  }

  warning(message: string): void {
    if (!this.ended) this.#reports.warning(this, message);
  }

  checkpoint(state: unknown): void {
    if (this.ended) return;
    this.resumeFrom = state;
    this.#reports.checkpoint(this, state);
  }

  complete(result: unknown): void {
    if (!this.ended) this.#reports.complete(this, result);
  }

  fail(error: GearshiftError): void {
    if (!this.ended) this.#reports.fail(this, error);
  }
}
