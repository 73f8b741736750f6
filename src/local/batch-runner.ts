/**
 * Runs batches of jobs one job after another, in a worker thread or inline. Jobs run in batch order so
 * that, after a crash, the first job without a result is the one that was running and the ones after it
 * never started (the scheduler re-queues those).
 */
import { UnknownFunctionError } from '../errors.js';
import type { FunctionSet } from '../functions/define.js';
import type { JobMessage } from './messages.js';
import { type JobOutcome, RunningJob, runJob } from './run-job.js';

/** Where a batch runner reports, job by job. */
export interface BatchReports {
  status(id: number, numerator: number, denominator: number): void;
  data(id: number, chunk: unknown): void;
  warning(id: number, message: string): void;
  /** The job ran (or could not) and ended; `micros` is how long its handler took. */
  done(id: number, micros: number, outcome: JobOutcome): void;
  /** The job was aborted before its turn and did not run. */
  skipped(id: number): void;
}

/** Runs batches and lets aborts reach the jobs of any batch it holds. */
export class BatchRunner {
  readonly #handlePrefix: string;
  readonly #reports: BatchReports;
  /** Jobs of the batches held here that have not ended, so that an abort can find them. */
  readonly #pending = new Map<number, RunningJob>();

  constructor(handlePrefix: string, reports: BatchReports) {
    this.#handlePrefix = handlePrefix;
    this.#reports = reports;
  }

  /** Aborts a job of a held batch: before its turn it will be skipped, while running its signal fires. */
  abort(id: number, reason: unknown): void {
    this.#pending.get(id)?.abort(reason);
  }

  /**
   * Runs `jobs` in order once the functions module has loaded; if it will not load, every job fails
   * with that reason. Reports every job exactly once, as done or skipped, and never throws.
   */
  async run(loading: Promise<FunctionSet>, jobs: readonly JobMessage[]): Promise<void> {
    let functions: FunctionSet;
    try {
      functions = await loading;
    } catch (thrown) {
      for (const job of jobs) this.#reports.done(job.id, 0, { ok: false, origin: 'module', thrown });
      return;
    }
    const contexts = jobs.map((message) => this.#prepare(functions, message));
    for (let index = 0; index < jobs.length; index++) {
      await this.#runOne(functions, jobs[index] as JobMessage, contexts[index]);
    }
  }

  #prepare(functions: FunctionSet, message: JobMessage): RunningJob | undefined {
    const fn = functions.get(message.functionName);
    if (!fn) return undefined;
    const { id } = message;
    const reports = this.#reports;
    const context = new RunningJob(fn, `${this.#handlePrefix}${id}`, message.unique, {
      status: (numerator, denominator) => reports.status(id, numerator, denominator),
      data: (chunk) => reports.data(id, chunk),
      warning: (text) => reports.warning(id, text),
    });
    this.#pending.set(id, context);
    return context;
  }

  async #runOne(functions: FunctionSet, message: JobMessage, context: RunningJob | undefined): Promise<void> {
    const { id, functionName, input } = message;
    const fn = functions.get(functionName);
    if (!fn || !context) {
      // The client checks names against this same module, so this means two copies of it disagree.
      const thrown = new UnknownFunctionError(functionName, functions.names);
      this.#reports.done(id, 0, { ok: false, origin: 'unknown-function', thrown });
      return;
    }
    if (context.aborted) {
      this.#pending.delete(id);
      this.#reports.skipped(id);
      return;
    }
    const started = performance.now();
    const outcome = await runJob(fn, input, context);
    this.#pending.delete(id);
    this.#reports.done(id, (performance.now() - started) * 1000, outcome);
  }
}
