/**
 * What `runAll()` returns: many jobs in parallel (Gearman's addTask + runTasks). Results come back in
 * input order, each settled on its own, so one failure never hides the others' results.
 */
import type { GearshiftError } from '../errors.js';
import { JobAbortedError } from '../errors.js';
import {
  dispatchEvent,
  EventChannel,
  type JobEvent,
  type JobEventHandlers,
  type TaskEvent,
} from './events.js';
import type { EventRelay, JobCall } from './job-call.js';

/** How one task of a set ended. */
export type TaskResult<R = unknown> =
  | { readonly ok: true; readonly result: R; readonly handle: string | undefined }
  | { readonly ok: false; readonly error: GearshiftError; readonly handle: string | undefined };

/** Starts the task at `index` with `relay` as its second audience. */
export type TaskStarter = (index: number, relay: EventRelay<unknown>) => JobCall<unknown>;

/** What a set needs besides its tasks. */
export interface TaskSetOptions<R> {
  readonly functionNames: readonly string[];
  /** At most this many tasks in flight at once. */
  readonly concurrency: number;
  /**
   * Tasks are started again once this many of the window's places are free (1: as each task ends), or
   * once there is room for every task still to start.
   */
  readonly refill: number;
  readonly signal: AbortSignal | undefined;
  readonly on: JobEventHandlers<TaskEvent<R>> | undefined;
}

/**
 * A running set of tasks. Await it for every task's {@link TaskResult}, in input order; iterate it for the
 * events of all its tasks as they happen, each carrying its task's `index`. `R` is the union of the
 * tasks' result types.
 */
export class TaskSet<T extends readonly TaskResult[], R = unknown>
  implements PromiseLike<T>, AsyncIterable<TaskEvent<R>>
{
  readonly #promise: Promise<T>;
  #resolve!: (results: T) => void;
  readonly #options: TaskSetOptions<R>;
  readonly #start: TaskStarter;
  readonly #onEnd: () => void;
  readonly #results: (TaskResult | undefined)[];
  readonly #active = new Map<number, JobCall<unknown>>();
  #next = 0;
  #remaining: number;
  #channels: Set<EventChannel<TaskEvent<R>>> | undefined;

  /** @internal made by the client */
  constructor(options: TaskSetOptions<R>, start: TaskStarter, onEnd: () => void) {
    this.#options = options;
    this.#start = start;
    this.#onEnd = onEnd;
    const count = options.functionNames.length;
    this.#results = new Array(count);
    this.#remaining = count;
    this.#promise = new Promise<T>((resolve) => {
      this.#resolve = resolve;
    });
    const { signal } = options;
    if (signal) {
      const onAbort = () => this.#abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#promise.finally(() => signal.removeEventListener('abort', onAbort));
    }
    if (count === 0) this.#finish();
    else if (signal?.aborted) this.#abort(signal.reason);
    else this.#launch();
  }

  // biome-ignore lint/suspicious/noThenProperty: a TaskSet is deliberately awaitable, like a promise.
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  /** The events of every task; the same as iterating the set itself. Tasks already ended show their end. */
  events(): AsyncIterableIterator<TaskEvent<R>> {
    const channel: EventChannel<TaskEvent<R>> = new EventChannel(() => this.#channels?.delete(channel));
    this.#results.forEach((result, index) => {
      if (result) channel.push(this.#finalEvent(index, result));
    });
    if (this.#remaining === 0) channel.end();
    else {
      this.#channels ??= new Set();
      this.#channels.add(channel);
    }
    return channel;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TaskEvent<R>> {
    return this.events();
  }

  #relay(index: number): EventRelay<unknown> {
    return {
      isListening: () => this.#options.on !== undefined || this.#channels !== undefined,
      push: (event: JobEvent) => this.#emit({ ...(event as JobEvent<R>), index }),
    };
  }

  #launch(): void {
    const count = this.#results.length;
    while (this.#active.size < this.#options.concurrency && this.#next < count) {
      const index = this.#next++;
      const call = this.#start(index, this.#relay(index));
      this.#active.set(index, call);
      call.promise.then(
        (result) => this.#settle(index, { ok: true, result, handle: call.handle }),
        (error: GearshiftError) => this.#settle(index, { ok: false, error, handle: call.handle }),
      );
    }
  }

  #settle(index: number, result: TaskResult): void {
    this.#results[index] = result;
    this.#active.delete(index);
    this.#remaining--;
    if (this.#remaining === 0) this.#finish();
    else {
      // Room for a whole step, or for every task still to start when fewer are left.
      const step = Math.min(this.#options.refill, this.#results.length - this.#next);
      if (this.#options.concurrency - this.#active.size >= step) this.#launch();
    }
  }

  #abort(reason: unknown): void {
    const names = this.#options.functionNames;
    // Tasks not started yet end here; started ones are abandoned and settle through their promises.
    while (this.#next < names.length) {
      const index = this.#next++;
      const error = new JobAbortedError(names[index] as string, undefined, reason);
      this.#emit(this.#finalEvent(index, { ok: false, error, handle: undefined }));
      this.#results[index] = { ok: false, error, handle: undefined };
      this.#remaining--;
    }
    for (const call of this.#active.values())
      call.abandon(new JobAbortedError(call.functionName, call.handle, reason));
    if (this.#remaining === 0) this.#finish();
  }

  #finalEvent(index: number, result: TaskResult): TaskEvent<R> {
    const functionName = this.#options.functionNames[index] as string;
    const { handle } = result;
    return result.ok
      ? { type: 'complete', handle, functionName, result: result.result as R, index }
      : { type: 'fail', handle, functionName, error: result.error, index };
  }

  #emit(event: TaskEvent<R>): void {
    dispatchEvent(this.#options.on, event);
    if (this.#channels) for (const channel of this.#channels) channel.push(event);
  }

  #finish(): void {
    if (this.#channels) for (const channel of this.#channels) channel.end();
    this.#channels = undefined;
    this.#resolve(this.#results as unknown as T);
    this.#onEnd();
  }
}
