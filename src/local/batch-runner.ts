/**
 * Runs batches of jobs one job after another, in a worker thread or inline. Jobs run in batch order so
 * that, after a crash, the first job without a result is the one that was running and the ones after it
 * never started (the scheduler re-queues those).
 */
import { UnknownFunctionError } from '../errors.js';
import type { FunctionSet } from '../functions/define.js';
import type { JobMessage } from './messages.js';
import { type JobOutcome, type ProgressReports, RunningJob, runJob } from './run-job.js';

/** Where a batch runner reports, job by job. */
export interface BatchReports extends ProgressReports {
  /** The job ran (or could not) and ended; `micros` is how long its handler took. */
  done(id: number, micros: number, outcome: JobOutcome): void;
  /** The job was aborted before its turn and did not run. */
  skipped(id: number): void;
  /**
   * The handler of a job whose function has a rate limit began, and has not ended yet: the start its
   * rate counts. Reported for those jobs only, and only when the handler returned a promise (one that
   * ends at once is reported by its `done`, which is as good and costs no message).
   */
  handlerBegan(id: number): void;
}

/**
 * Runs a job's code on behalf of the job: where a thread wants to know which job's code is running when
 * it dies, it marks the job here (see thread-entry.ts). Returns what `run` returns.
 */
export type RunOnBehalf = <T>(job: RunningJob, run: () => T) => T;

const runDirectly: RunOnBehalf = (_job, run) => run();

/** Runs batches and lets aborts reach the jobs of any batch it holds. */
export class BatchRunner {
  readonly #handlePrefix: string;
  readonly #reports: BatchReports;
  readonly #onBehalf: RunOnBehalf;
  /** Jobs of the batches held here that have not ended, so that an abort can find them. */
  readonly #pending = new Map<number, RunningJob>();

  constructor(handlePrefix: string, reports: BatchReports, onBehalf: RunOnBehalf = runDirectly) {
    this.#handlePrefix = handlePrefix;
    this.#reports = reports;
    this.#onBehalf = onBehalf;
  }

  /** Aborts a job of a held batch: before its turn it will be skipped, while running its signal fires. */
  abort(id: number, reason: unknown): void {
    this.#pending.get(id)?.abort(reason);
  }

  /**
   * Runs `jobs` in order once the functions module has loaded; if it will not load, every job fails
   * with that reason. Reports every job exactly once, as done or skipped, and never throws. Returns
   * nothing when every job finished synchronously.
   */
  run(functions: FunctionSet | Promise<FunctionSet>, jobs: readonly JobMessage[]): Promise<void> | undefined {
    if (functions instanceof Promise) {
      return functions.then(
        (loaded) => this.#runFrom(loaded, jobs, this.#prepareAll(loaded, jobs), 0),
        (thrown: unknown) => {
          for (const job of jobs) this.#reports.done(job.id, 0, { ok: false, origin: 'module', thrown });
        },
      );
    }
    return this.#runFrom(functions, jobs, this.#prepareAll(functions, jobs), 0);
  }

  #prepareAll(functions: FunctionSet, jobs: readonly JobMessage[]): (RunningJob | undefined)[] {
    return jobs.map((message) => {
      const fn = functions.get(message.functionName);
      if (!fn) return undefined;
      const handle = message.givenHandle ?? `${this.#handlePrefix}${message.id}`;
      const context = new RunningJob(fn, message.id, handle, message, this.#reports);
      this.#pending.set(message.id, context);
      return context;
    });
  }

  /** Runs the jobs from `first` on, synchronously for as long as their handlers are. */
  #runFrom(
    functions: FunctionSet,
    jobs: readonly JobMessage[],
    contexts: readonly (RunningJob | undefined)[],
    first: number,
  ): Promise<void> | undefined {
    for (let index = first; index < jobs.length; index++) {
      const waiting = this.#runOne(functions, jobs[index] as JobMessage, contexts[index]);
      if (waiting) return waiting.then(() => this.#runFrom(functions, jobs, contexts, index + 1));
    }
    return undefined;
  }

  #runOne(
    functions: FunctionSet,
    message: JobMessage,
    context: RunningJob | undefined,
  ): Promise<void> | undefined {
    const { id, functionName, input } = message;
    const fn = functions.get(functionName);
    if (!fn || !context) {
      // The client checks names against this same module, so this means two copies of it disagree.
      const thrown = new UnknownFunctionError(functionName, functions.names);
      this.#reports.done(id, 0, { ok: false, origin: 'unknown-function', thrown });
      return undefined;
    }
    if (context.aborted) {
      this.#pending.delete(id);
      this.#reports.skipped(id);
      return undefined;
    }
    const started = performance.now();
    const outcome = this.#onBehalf(context, () => runJob(fn, input, context));
    if (outcome instanceof Promise) {
      if (fn.limit?.rate) this.#reports.handlerBegan(id);
      return outcome.then((ended) => this.#ended(id, started, ended));
    }
    this.#ended(id, started, outcome);
    return undefined;
  }

  #ended(id: number, started: number, outcome: JobOutcome): void {
    this.#pending.delete(id);
    this.#reports.done(id, (performance.now() - started) * 1000, outcome);
  }
}
