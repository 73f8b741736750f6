/**
 * Runs one job's handler: the part shared by worker threads and the inline mode, so that both give a
 * handler the same context and turn its result into the same payload.
 */
import { InvalidOptionError } from '../errors.js';
import type { JobContext, ResolvedFunction } from '../functions/define.js';
import type { FlowOutcome } from '../functions/flow-outcome.js';
import { toBuffer } from '../payload/bytes.js';
import type { FailureOrigin } from '../payload/job-error.js';
import { toJsonPayload } from '../payload/json.js';
import { withTraceparent } from '../telemetry/tracing.js';

/** Where a running job's progress reports go, by job id. */
export interface ProgressReports {
  status(id: number, numerator: number, denominator: number): void;
  data(id: number, chunk: unknown): void;
  warning(id: number, message: string): void;
  /** A checkpoint, already checked as JSON. */
  checkpoint(id: number, state: unknown): void;
}

/** How a job ended: its result as a payload, or what was thrown and where. */
export type JobOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly origin: FailureOrigin; readonly thrown: unknown };

/** The {@link JobContext} a handler receives. Reports made after the job ended are ignored. */
export class RunningJob implements JobContext {
  readonly unique: string | undefined;
  readonly resumeFrom: unknown;
  readonly children: readonly FlowOutcome[] | undefined;
  readonly traceparent: string | undefined;
  readonly #function: ResolvedFunction;
  /** The job's id in the pool (not its handle). */
  readonly id: number;
  readonly handle: string;
  readonly #reports: ProgressReports;
  // Most jobs never look at their signal, so the controller is made on first use.
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;
  #finished = false;

  constructor(
    fn: ResolvedFunction,
    id: number,
    handle: string,
    message: {
      unique?: string | undefined;
      resumeFrom?: unknown;
      traceparent?: string | undefined;
      children?: readonly FlowOutcome[] | undefined;
    },
    reports: ProgressReports,
  ) {
    this.#function = fn;
    this.id = id;
    this.handle = handle;
    this.unique = message.unique;
    this.resumeFrom = message.resumeFrom;
    this.children = message.children;
    this.traceparent = message.traceparent;
    this.#reports = reports;
  }

  get functionName(): string {
    return this.#function.name;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Whether the caller gave up on this job (before or while it ran). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the job's signal with `reason`, once. */
  abort(reason: unknown): void {
    if (this.#aborted || this.#finished) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  status(numerator: number, denominator: number): void {
    if (this.#finished) return;
    if (!Number.isFinite(numerator))
      throw new InvalidOptionError('job.status(numerator)', 'a finite number', numerator);
    if (!Number.isFinite(denominator)) {
      throw new InvalidOptionError('job.status(_, denominator)', 'a finite number', denominator);
    }
    this.#reports.status(this.id, numerator, denominator);
  }

  data(chunk: unknown): void {
    if (this.#finished) return;
    this.#reports.data(this.id, toPayload(this.#function, 'data chunk', chunk));
  }

  warning(message: string): void {
    if (this.#finished) return;
    this.#reports.warning(this.id, String(message));
  }

  checkpoint(state: unknown): void {
    if (this.#finished) return;
    this.#reports.checkpoint(this.id, toJsonPayload(this.#function.name, 'checkpoint', state));
  }

  /** Marks the job ended: later reports from code it left running are dropped. */
  finish(): void {
    this.#finished = true;
  }
}

function toPayload(fn: ResolvedFunction, what: string, value: unknown): unknown {
  return fn.payload === 'bytes' ? toBuffer(fn.name, what, value) : toJsonPayload(fn.name, what, value);
}

/**
 * Runs `fn` on `input` with `job` as its context and reports how it ended; never throws. A handler that
 * returns a plain value is finished synchronously, without a turn of the microtask queue.
 */
export function runJob(
  fn: ResolvedFunction,
  input: unknown,
  job: RunningJob,
): JobOutcome | Promise<JobOutcome> {
  let value: unknown;
  try {
    const argument = fn.payload === 'bytes' ? toBuffer(fn.name, 'input', input) : input;
    value =
      job.traceparent === undefined
        ? fn.handler(argument, job)
        : withTraceparent(job.traceparent, () => fn.handler(argument, job));
  } catch (thrown) {
    return failed(job, thrown);
  }
  if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
    return Promise.resolve(value).then(
      (settled) => finished(fn, job, settled),
      (thrown: unknown) => failed(job, thrown),
    );
  }
  return finished(fn, job, value);
}

function finished(fn: ResolvedFunction, job: RunningJob, value: unknown): JobOutcome {
  job.finish();
  try {
    return { ok: true, value: toPayload(fn, 'result', value) };
  } catch (thrown) {
    return { ok: false, origin: 'payload', thrown };
  }
}

function failed(job: RunningJob, thrown: unknown): JobOutcome {
  job.finish();
  return { ok: false, origin: 'handler', thrown };
}
