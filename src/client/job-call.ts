/**
 * One caller's wait for one job: the state behind a {@link JobRun}. It is the {@link JobListener} the
 * backend reports to, and it owns what only the caller has: the promise, the events, the timeout (armed
 * when the job starts) and the abort signal.
 */
import type { JobListener, JobTicket } from '../backend.js';
import { type GearshiftError, JobAbortedError, JobFailedError, JobTimeoutError } from '../errors.js';
import { dispatchEvent, EventChannel, type JobEvent, type JobEventHandlers } from './events.js';

/** What a caller may ask of one job's wait. */
export interface CallOptions<R> {
  readonly signal: AbortSignal | undefined;
  readonly on: JobEventHandlers<JobEvent<R>> | undefined;
  /** Also receives every event while it listens (a runAll set, for its tasks). */
  readonly relay: EventRelay<R> | undefined;
}

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
  #handle: string | undefined;
  #resolve!: (value: R) => void;
  #reject!: (error: GearshiftError) => void;
  readonly #options: CallOptions<R>;
  readonly #onEnd: (call: JobCall<R>) => void;
  #ticket: JobTicket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #abortListener: (() => void) | undefined;
  #channels: Set<EventChannel<JobEvent<R>>> | undefined;
  /** The last event, once the job has ended. */
  #final: JobEvent<R> | undefined;

  constructor(functionName: string, options: CallOptions<R>, onEnd: (call: JobCall<R>) => void) {
    this.functionName = functionName;
    this.#options = options;
    this.#onEnd = onEnd;
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller who listens for failures has handled them; do not also report an unhandled rejection.
    if (options.on?.fail || options.relay) this.promise.catch(noop);
    const { signal } = options;
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
    return this.#final !== undefined;
  }

  /** Binds the backend's ticket and starts watching the caller's signal. */
  attach(ticket: JobTicket): void {
    this.#ticket = ticket;
    const { signal } = this.#options;
    if (signal && !this.ended) {
      this.#abortListener = () =>
        this.abandon(new JobAbortedError(this.functionName, this.#handle, signal.reason));
      signal.addEventListener('abort', this.#abortListener, { once: true });
    }
  }

  /** Stops waiting: the backend is told to drop or abort the job, and the caller gets `error`. */
  abandon(error: GearshiftError): void {
    if (this.ended) return;
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
    if (this.#final) {
      channel.push(this.#final);
      channel.end();
    } else {
      this.#channels ??= new Set();
      this.#channels.add(channel);
    }
    return channel;
  }

  created(handle: string): void {
    if (this.ended) return;
    this.#handle = handle;
    if (this.#listened()) this.#emit({ type: 'created', handle, functionName: this.functionName });
  }

  started(): void {
    const { timeout } = this;
    if (this.ended || timeout === undefined || this.#timer) return;
    this.#timer = setTimeout(
      () => this.abandon(new JobTimeoutError(this.functionName, this.#handle, timeout)),
      timeout,
    );
  }

  status(numerator: number, denominator: number): void {
    if (this.ended || !this.#listened()) return;
    this.#emit({
      type: 'status',
      handle: this.#handle,
      functionName: this.functionName,
      numerator,
      denominator,
    });
  }

  data(data: unknown): void {
    if (this.ended || !this.#listened()) return;
    this.#emit({ type: 'data', handle: this.#handle, functionName: this.functionName, data });
  }

  warning(message: string): void {
    if (this.ended || !this.#listened()) return;
    this.#emit({ type: 'warning', handle: this.#handle, functionName: this.functionName, message });
  }

  complete(result: unknown): void {
    if (this.ended) return;
    this.#end({
      type: 'complete',
      handle: this.#handle,
      functionName: this.functionName,
      result: result as R,
    });
    this.#resolve(result as R);
  }

  fail(error: GearshiftError): void {
    if (this.ended) return;
    const { functionName } = this;
    if (error instanceof JobFailedError && error.cause instanceof Error && this.#listened()) {
      this.#emit({ type: 'exception', handle: this.#handle, functionName, error: error.cause });
    }
    this.#end({ type: 'fail', handle: this.#handle, functionName, error });
    this.#reject(error);
  }

  #listened(): boolean {
    return (
      this.#options.on !== undefined ||
      this.#channels !== undefined ||
      this.#options.relay?.isListening() === true
    );
  }

  #emit(event: JobEvent<R>): void {
    dispatchEvent(this.#options.on, event);
    if (this.#options.relay?.isListening()) this.#options.relay.push(event);
    if (this.#channels) for (const channel of this.#channels) channel.push(event);
  }

  #end(event: JobEvent<R>): void {
    this.#final = event;
    clearTimeout(this.#timer);
    if (this.#abortListener) this.#options.signal?.removeEventListener('abort', this.#abortListener);
    this.#emit(event);
    if (this.#channels) for (const channel of this.#channels) channel.end();
    this.#channels = undefined;
    this.#onEnd(this);
  }
}
