/**
 * Job events, Gearman's callback set (created, status, data, warning, exception, complete, fail),
 * offered both as callbacks and as async iterators.
 */
import type { GearshiftError } from '../errors.js';

interface EventBase {
  /** The job's handle; undefined only for a `fail` that came before the job was created. */
  readonly handle: string | undefined;
  readonly functionName: string;
}

/** One event of one job. `R` is the job's result type. */
export type JobEvent<R = unknown> =
  /** The backend accepted the job (Gearman's JOB_CREATED). */
  | (EventBase & { readonly type: 'created'; readonly handle: string })
  /** Progress (WORK_STATUS): `numerator` of `denominator` done. */
  | (EventBase & { readonly type: 'status'; readonly numerator: number; readonly denominator: number })
  /** A partial result (WORK_DATA). */
  | (EventBase & { readonly type: 'data'; readonly data: unknown })
  /** A warning that does not fail the job (WORK_WARNING). */
  | (EventBase & { readonly type: 'warning'; readonly message: string })
  /** The handler threw this error (WORK_EXCEPTION); a `fail` follows. */
  | (EventBase & { readonly type: 'exception'; readonly error: Error })
  /** The job's result (WORK_COMPLETE). Always the last event of a job that succeeded. */
  | (EventBase & { readonly type: 'complete'; readonly result: R })
  /** Why the job ended without a result (WORK_FAIL, a crash, a timeout...). Always the last event. */
  | (EventBase & { readonly type: 'fail'; readonly error: GearshiftError });

/** The kinds of job event. */
export type JobEventType = JobEvent['type'];

/** A job event of a `runAll` set, with the task's position in the list. */
export type TaskEvent<R = unknown> = JobEvent<R> & { readonly index: number };

/** Callbacks per event type, as PHP's GearmanClient setStatusCallback() and friends. */
export type JobEventHandlers<E extends { readonly type: JobEventType }> = {
  readonly [K in JobEventType]?: (event: Extract<E, { readonly type: K }>) => void;
};

/**
 * Calls the handler for an event's type. A handler that throws does not disturb gearshift's bookkeeping:
 * its error is rethrown on a later turn, where it surfaces as an uncaught exception, as an EventEmitter
 * listener's would.
 */
export function dispatchEvent<E extends { readonly type: JobEventType }>(
  handlers: JobEventHandlers<E> | undefined,
  event: E,
): void {
  const handler = handlers?.[event.type] as ((event: E) => void) | undefined;
  if (!handler) return;
  try {
    handler(event);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** An async iterator fed by pushes, that ends when told to or when its reader stops early. */
export class EventChannel<E> implements AsyncIterableIterator<E> {
  #buffer: E[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<E, undefined>) => void) | undefined;
  #ended = false;
  readonly #onReturn: () => void;

  /** @param onReturn called once if the reader stops before the end (a `break` out of `for await`). */
  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  push(event: E): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: event, done: false });
    } else {
      this.#buffer.push(event);
    }
  }

  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<E, undefined>> {
    if (this.#head < this.#buffer.length) {
      const value = this.#buffer[this.#head++] as E;
      if (this.#head === this.#buffer.length) {
        this.#buffer = [];
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<E, undefined>> {
    if (!this.#ended) this.#onReturn();
    this.#buffer = [];
    this.#head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
