/** The value `run()` returns: a promise of the result that can also be iterated for the job's events. */
import type { JobEvent } from './events.js';
import type { JobCall } from './job-call.js';

/**
 * One foreground job. Await it for the result; iterate it (`for await (const event of job)`) for its
 * events as they happen. Start iterating in the same turn as the call to see every event: an iterator
 * started later sees `created`, the events from then on, and the end.
 */
export class JobRun<R> implements PromiseLike<R>, AsyncIterable<JobEvent<R>> {
  readonly #call: JobCall<R>;

  /** @internal made by the client */
  constructor(call: JobCall<R>) {
    this.#call = call;
  }

  /** The job's handle, once the backend has created it. */
  get handle(): string | undefined {
    return this.#call.handle;
  }

  /** The function this job runs. */
  get functionName(): string {
    return this.#call.functionName;
  }

  // biome-ignore lint/suspicious/noThenProperty: a JobRun is deliberately awaitable, like a promise.
  then<A = R, B = never>(
    onFulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#call.promise.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<R | B> {
    return this.#call.promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<R> {
    return this.#call.promise.finally(onFinally);
  }

  /** The job's events; the same as iterating the JobRun itself. */
  events(): AsyncIterableIterator<JobEvent<R>> {
    return this.#call.events();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<JobEvent<R>> {
    return this.#call.events();
  }
}
