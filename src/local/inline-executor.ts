/**
 * Inline mode: the same functions, run in the caller's own thread through the same scheduler, so that
 * breakpoints and stack traces work while the logic is being got right (a handler's error reaches the
 * caller as the very object it threw). Moving to threads is then one option.
 *
 * What inline mode cannot do: stop a handler that ignores its abort (the caller's thread cannot be
 * terminated), or survive a handler that calls process.exit.
 */
import { threadId } from 'node:worker_threads';
import type { FunctionInfo } from '../backend.js';
import type { FunctionSet } from '../functions/define.js';
import { loadFunctionsModule } from '../functions/load-module.js';
import { BatchRunner } from './batch-runner.js';
import type { Executor, ExecutorReports } from './executor.js';
import { Lanes } from './lanes.js';
import type { JobMessage } from './messages.js';

/** Options of the inline executor. */
export interface InlineExecutorOptions {
  /** The functions, or the module that default-exports them. */
  readonly functions: FunctionSet | URL;
  /** Batches in progress at once (only functions that wait on I/O overlap); undefined for the adaptive default. */
  readonly concurrency: number | undefined;
  /** With the adaptive default, the most batches in progress at once. */
  readonly maxConcurrency: number;
}

/** Batches started on a microtask in one turn of the event loop; the rest wait for the next turn. */
const batchesPerTurn = 8;
/** A resolved promise: its then() is a microtask without the AsyncResource that queueMicrotask() makes. */
const settled = Promise.resolve();

/** Runs batches in the caller's thread. */
export class InlineExecutor implements Executor {
  readonly #lanes: Lanes;
  /** Batches started on a microtask since the event loop last turned. */
  #startedThisTurn = 0;
  /** Batches in progress across turns of this thread's event loop (their jobs await something). */
  #awaiting = 0;
  readonly #functions: FunctionSet | URL;
  readonly #reports: ExecutorReports;
  readonly #runner: BatchRunner;

  constructor(options: InlineExecutorOptions, reports: ExecutorReports, handlePrefix: string) {
    // One lane: this thread, whose event loop the jobs share with the caller's own work.
    this.#lanes = new Lanes({
      fixed: options.concurrency,
      cap: options.maxConcurrency,
      roomGrew: () => reports.roomGrew(),
    });
    this.#lanes.add(threadId, {
      loop: () => performance.eventLoopUtilization(),
      awaiting: () => this.#awaiting,
    });
    // Idle while it loads the module is not idle because of its jobs: judged only once it has loaded.
    const ready = () => this.#lanes.ready(threadId);
    if (options.functions instanceof URL) loadFunctionsModule(options.functions).then(ready, ready);
    else ready();
    this.#functions = options.functions;
    this.#reports = reports;
    // Results and chunks are copied too: a caller must not share objects with a handler's module state.
    this.#runner = new BatchRunner(handlePrefix, {
      status: (id, numerator, denominator) => reports.status(id, numerator, denominator),
      data: (id, chunk) => reports.data(id, copied(chunk)),
      warning: (id, message) => reports.warning(id, message),
      checkpoint: (id, state) => reports.checkpoint(id, copied(state)),
      skipped: (id) => reports.skipped(id),
      handlerBegan: (id) => reports.handlerBegan(id),
      done: (id, micros, outcome) =>
        reports.done(id, micros, outcome.ok ? { ok: true, value: copied(outcome.value) } : outcome),
    });
  }

  room(): number {
    return this.#lanes.room();
  }

  get capacity(): number {
    return this.#lanes.capacity;
  }

  setDemand(wanted: boolean): void {
    this.#lanes.setDemand(wanted);
  }

  async warm(): Promise<void> {
    await this.#load().catch(() => {});
  }

  async manifest(): Promise<FunctionInfo[]> {
    return (await this.#load()).describe();
  }

  run(batch: number, jobs: readonly JobMessage[]): void {
    // Started later, as in a thread: the caller's synchronous code runs first. The inputs are already
    // private copies (the client takes one at submit), as a thread's would be.
    this.#lanes.take([threadId]);
    const start = () => void this.#start(batch, jobs);
    // On a microtask while few have started this turn of the event loop: a job that came in a socket's
    // read then answers in the same turn, where a setImmediate would have cost the loop a second pass
    // per job (a classic Gearman worker did 20,000 jobs in 2,654 to 2,827 ms against 2,757 to 2,925).
    // Past that, on a later turn: a long run of synchronous jobs must still let timers and I/O in.
    if (this.#startedThisTurn < batchesPerTurn) {
      if (this.#startedThisTurn++ === 0) setImmediate(this.#turned);
      settled.then(start);
    } else setImmediate(start);
  }

  readonly #turned = () => {
    this.#startedThisTurn = 0;
  };

  async #start(batch: number, jobs: readonly JobMessage[]): Promise<void> {
    this.#reports.begun(batch, threadId);
    const running = this.#runner.run(this.#load(), jobs);
    if (running) {
      this.#awaiting++;
      await running;
      this.#awaiting--;
    }
    this.#lanes.release(threadId);
    this.#reports.ended(batch, undefined);
  }

  keepAlive(): void {
    // Inline batches are timers and promises of this thread: they keep the process alive themselves.
  }

  abort(id: number, reason: Error): void {
    this.#runner.abort(id, reason);
  }

  terminate(): boolean {
    return false;
  }

  async close(): Promise<void> {
    this.#lanes.close();
  }

  async destroy(): Promise<void> {
    this.#lanes.close();
  }

  #load(): Promise<FunctionSet> {
    const functions = this.#functions;
    return functions instanceof URL ? loadFunctionsModule(functions) : Promise.resolve(functions);
  }
}

/**
 * A value as a thread would send it: a copy, made by structured clone. A string, number, boolean, bigint,
 * undefined or null is its own copy, and is handed on as it is (a clone per tiny job cost about 2.5 us).
 */
function copied<T>(value: T): T {
  const kind = typeof value;
  // A function or a symbol goes to structuredClone too, which refuses it as a thread's message would.
  const immutable = value === null || (kind !== 'object' && kind !== 'function' && kind !== 'symbol');
  return immutable ? value : structuredClone(value);
}
