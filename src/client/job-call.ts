/**
 * One caller's wait for one job: the state behind a {@link JobRun}. It is the {@link JobListener} the
 * backend reports to, and it owns what only the caller has: the promise, the events, the timeout (armed
 * when the job starts) and the abort signal.
 */
import type { JobListener, JobTicket } from '../backend.js';
import { type GearshiftError, JobAbortedError, JobFailedError, JobTimeoutError } from '../errors.js';
import { after, cancel, type Timer } from '../shared/timers.js';
import type { JobSpan } from '../telemetry/tracing.js';
import { dispatchEvent, EventChannel, type JobEvent, type JobEventHandlers } from './events.js';

/** A second audience for a job's events. */
export interface EventRelay<R> {
  /** Whether events are wanted now; while not, they are not even built. */
  isListening(): boolean;
  push(event: JobEvent<R>): void;
}

const noop = () => {};

/** The state of one caller's job, from submission to its single outcome. */
export class JobCall<R> implements JobListener {
  readonly functionName: string;
  readonly promise: Promise<R>;
  /** Milliseconds the job may run, counted from when it starts; set before the job is submitted. */
  timeout: number | undefined;
  /** The call's span, when traced: ended with the call. */
  span: JobSpan | undefined;
  #handle: string | undefined;
  #resolve!: (value: R) => void;
  #reject!: (error: GearshiftError) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #on: JobEventHandlers<JobEvent<R>> | undefined;
  readonly #relay: EventRelay<R> | undefined;
  readonly #onEnd: (call: JobCall<R>) => void;
  #ticket: JobTicket | undefined;
  #timer: Timer | undefined;
  #abortListener: (() => void) | undefined;
  #channels: Set<EventChannel<JobEvent<R>>> | undefined;
  #ended = false;
  /** Once ended: the result, or why there is none. */
  #result: R | undefined;
  #error: GearshiftError | undefined;

  /**
   * @param on the caller's callbacks per event type
   * @param relay a second audience for every event (a runAll set)
   * @param onEnd told once, when the job has ended
   */
  constructor(
    functionName: string,
    signal: AbortSignal | undefined,
    on: JobEventHandlers<JobEvent<R>> | undefined,
    relay: EventRelay<R> | undefined,
    onEnd: (call: JobCall<R>) => void,
  ) {
    this.functionName = functionName;
    this.#signal = signal;
    this.#on = on;
    this.#relay = relay;
    this.#onEnd = onEnd;
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller who listens for failures has handled them; do not also report an unhandled rejection.
    if (on?.fail || relay) this.promise.catch(noop);
    if (signal) {
      // Watched from the start: the job may still wait for the backend (loading its functions, say).
      this.#abortListener = () =>
        this.abandon(new JobAbortedError(this.functionName, this.#handle, signal.reason));
      signal.addEventListener('abort', this.#abortListener, { once: true });
    }
  }

  get handle(): string | undefined {
    return this.#handle;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Binds the backend's ticket, through which the job is stopped if the caller stops waiting. */
  attach(ticket: JobTicket): void {
    this.#ticket = ticket;
  }

  /** Stops waiting: the backend is told to drop or abort the job, and the caller gets `error`. */
  abandon(error: GearshiftError): void {
    if (this.#ended) return;
    this.#ticket?.detach(error);
    this.fail(error);
  }

  /** An async iterator over this job's events from now on, after `created` and the end if they are past. */
  events(): AsyncIterableIterator<JobEvent<R>> {
    this.promise.catch(noop);
    const channel: EventChannel<JobEvent<R>> = new EventChannel(() => this.#channels?.delete(channel));
    if (this.#handle !== undefined) {
      channel.push({ type: 'created', handle: this.#handle, functionName: this.functionName });
    }
    if (this.#ended) {
      channel.push(this.#finalEvent());
      channel.end();
    } else {
      this.#channels ??= new Set();
      this.#channels.add(channel);
    }
    return channel;
  }

  created(handle: string): void {
    if (this.#ended) return;
    this.#handle = handle;
    this.span?.handle(handle);
    if (this.#listened()) this.#emit({ type: 'created', handle, functionName: this.functionName });
  }

  started(): void {
    const { timeout } = this;
    if (this.#ended || timeout === undefined || this.#timer) return;
    this.#timer = after(timeout, () =>
      this.abandon(new JobTimeoutError(this.functionName, this.#handle, timeout)),
    );
  }

  status(numerator: number, denominator: number): void {
    if (this.#ended || !this.#listened()) return;
    this.#emit({
      type: 'status',
      handle: this.#handle,
      functionName: this.functionName,
      numerator,
      denominator,
    });
  }

  data(data: unknown): void {
    if (this.#ended || !this.#listened()) return;
    this.#emit({ type: 'data', handle: this.#handle, functionName: this.functionName, data });
  }

  warning(message: string): void {
    if (this.#ended || !this.#listened()) return;
    this.#emit({ type: 'warning', handle: this.#handle, functionName: this.functionName, message });
  }

  complete(result: unknown): void {
    if (this.#ended) return;
    this.#result = result as R;
    this.#end();
    this.#resolve(result as R);
  }

  fail(error: GearshiftError): void {
    if (this.#ended) return;
    if (error instanceof JobFailedError && error.cause instanceof Error && this.#listened()) {
      this.#emit({
        type: 'exception',
        handle: this.#handle,
        functionName: this.functionName,
        error: error.cause,
      });
    }
    this.#error = error;
    this.#end();
    this.#reject(error);
  }

  #listened(): boolean {
    return this.#on !== undefined || this.#channels !== undefined || this.#relay?.isListening() === true;
  }

  #emit(event: JobEvent<R>): void {
    dispatchEvent(this.#on, event);
    if (this.#relay?.isListening()) this.#relay.push(event);
    if (this.#channels) for (const channel of this.#channels) channel.push(event);
  }

  /** The last event: `complete` or `fail`. Built only for someone who listens. */
  #finalEvent(): JobEvent<R> {
    const { functionName } = this;
    const handle = this.#handle;
    return this.#error
      ? { type: 'fail', handle, functionName, error: this.#error }
      : { type: 'complete', handle, functionName, result: this.#result as R };
  }

  #end(): void {
    this.#ended = true;
    cancel(this.#timer);
    this.span?.end(this.#error);
    if (this.#abortListener) this.#signal?.removeEventListener('abort', this.#abortListener);
    if (this.#listened()) this.#emit(this.#finalEvent());
    if (this.#channels) for (const channel of this.#channels) channel.end();
    this.#channels = undefined;
    this.#onEnd(this);
  }
}
