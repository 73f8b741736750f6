/**
 * The job functions: named handlers that gearshift runs in worker threads, inline, or on Gearman
 * workers. A functions module default-exports `defineFunctions({ ... })`, and the same module serves
 * every backend.
 */
import type { FunctionInfo, PayloadMode } from '../backend.js';
import { checkMilliseconds } from '../shared/validate.js';
import type { FlowOutcome } from './flow-outcome.js';
import { checkLimit, type FunctionLimit } from './limit.js';

/** What a running job can see and do, passed to every handler as its second argument. */
export interface JobContext {
  /** The job's handle, as the caller sees it. */
  readonly handle: string;
  /** The caller's `unique` key, when one was given. */
  readonly unique: string | undefined;
  /** The name the job was submitted under. */
  readonly functionName: string;
  /**
   * Aborts when the caller no longer waits for this job: its timeout elapsed, its signal fired, or the
   * client was destroyed. A handler that honours it stops early; one that ignores it is stopped when
   * the grace period ends (its thread is terminated and replaced).
   */
  readonly signal: AbortSignal;
  /** Reports progress, as Gearman's WORK_STATUS: `numerator` of `denominator` done. */
  status(numerator: number, denominator: number): void;
  /**
   * Sends a partial result to the caller ahead of the final one (Gearman's WORK_DATA): a JSON value, or
   * bytes (`Buffer` or string) for a function declared with `{ bytes: handler }`.
   */
  data(chunk: unknown): void;
  /** Sends a warning to the caller without failing the job (Gearman's WORK_WARNING). */
  warning(message: string): void;
  /**
   * Records where the job is (a JSON value), so that a later attempt of the same job resumes from there
   * instead of from the start: on a queue file it is kept with the job, fenced by its lease like every
   * write, and the attempt after a crash, a failure or a retry sees it as {@link JobContext.resumeFrom}.
   * It is written with the runner's next commit, within about a millisecond; a crash in that window
   * loses only the latest one. On a Gearman worker it lives as long as the worker (a job run again after
   * its thread crashed sees it); on the local pool it is kept by nobody (nothing there retries).
   * @example `job.checkpoint({ sentUpTo: i })`
   */
  checkpoint(state: unknown): void;
  /**
   * The last checkpoint an earlier attempt of this job recorded, or undefined when there is none (its
   * first attempt, or a backend that keeps none).
   */
  readonly resumeFrom: unknown;
  /**
   * A flow's continuation (`client.flow({ children, continuation })`): how each child ended, in the order they
   * were given, results and failures alike. Undefined for any other job.
   */
  readonly children: readonly FlowOutcome[] | undefined;
  /**
   * With `telemetry: true` where the job runs: the W3C traceparent of this run's span, whose context
   * the handler also runs in (where `@opentelemetry/api` is installed); spans the handler starts are
   * its children. Undefined when runs are not traced.
   */
  readonly traceparent: string | undefined;
}

/** A handler that takes and returns JSON values. */
export type JsonHandler<I = never, R = unknown> = (input: I, job: JobContext) => R | Promise<R>;

/** A handler declared with `{ bytes: handler }`: it gets the caller's exact bytes and returns bytes or text. */
export type BytesHandler = (
  input: Buffer,
  job: JobContext,
) => Buffer | Uint8Array | string | Promise<Buffer | Uint8Array | string>;

/** Options every function may declare. */
interface FunctionOptions {
  /**
   * The longest a job of this function may run, in milliseconds, counted from when it starts. A caller's
   * own `timeout` takes precedence. On Gearman it is announced with CAN_DO_TIMEOUT.
   */
  readonly timeout?: number;
  /**
   * How many of its jobs may run at once (`concurrency`) and start per window (`rate`), for the whole
   * function or per `key` (a path into the input). A queue file holds it across every runner of the file;
   * the local pool and a Gearman worker hold it per process. See docs/limits.md.
   * @example `limit: { concurrency: 2, rate: { max: 10, perMs: 1000 }, key: 'tenant' }`
   */
  readonly limit?: FunctionLimit;
}

/** A JSON function declared with options. */
export interface JsonFunctionSpec<H extends JsonHandler = JsonHandler> extends FunctionOptions {
  readonly handler: H;
}

/**
 * A function that takes the caller's raw bytes as a `Buffer` and sends its `Buffer`/string result back as
 * bytes, for callers that do not speak JSON (a PHP client sending plain text, for instance). The key
 * `bytes` (instead of `handler`) is what declares it.
 */
export interface BytesFunctionSpec extends FunctionOptions {
  readonly bytes: BytesHandler;
}

/** One entry of {@link defineFunctions}: a handler, or a handler with options. */
export type FunctionEntry = JsonHandler | JsonFunctionSpec | BytesFunctionSpec;

/** The map given to {@link defineFunctions}. */
export type FunctionMap = { readonly [name: string]: FunctionEntry };

/** A function entry with its options filled in, as gearshift runs it. */
export interface ResolvedFunction {
  readonly name: string;
  readonly handler: (input: unknown, job: JobContext) => unknown;
  readonly payload: PayloadMode;
  readonly timeout: number | undefined;
  readonly limit: FunctionLimit | undefined;
}

const functionSetBrand = Symbol.for('gearshift.FunctionSet');

/**
 * The value a functions module default-exports. Pass its type to `createClient<typeof functions>()`
 * so that function names, inputs and results are checked at compile time.
 */
export class FunctionSet<F extends FunctionMap = FunctionMap> {
  /** The functions as they were declared. */
  readonly definitions: F;
  readonly #resolved: ReadonlyMap<string, ResolvedFunction>;

  constructor(definitions: F) {
    this.definitions = definitions;
    this.#resolved = new Map(
      Object.entries(definitions).map(([name, entry]) => [name, resolveEntry(name, entry)]),
    );
    Object.defineProperty(this, functionSetBrand, { value: true });
  }

  /** The names of the functions, in declaration order. */
  get names(): string[] {
    return [...this.#resolved.keys()];
  }

  /** What a backend reports of these functions: names, payload modes, timeouts and limits. */
  describe(): FunctionInfo[] {
    return [...this.#resolved.values()].map(({ name, payload, timeout, limit }) =>
      limit === undefined ? { name, payload, timeout } : { name, payload, timeout, limit },
    );
  }

  /** One function with its options filled in, or undefined when there is none of that name. */
  get(name: string): ResolvedFunction | undefined {
    return this.#resolved.get(name);
  }

  /**
   * Whether `value` is a FunctionSet. Checked by a registered symbol rather than `instanceof`, so that a
   * module resolved to a second copy of gearshift (a worker loading it from elsewhere) is still accepted.
   */
  static is(value: unknown): value is FunctionSet {
    return typeof value === 'object' && value !== null && functionSetBrand in value;
  }
}

/**
 * Declares the job functions of a module. Default-export the result:
 *
 * @example
 * ```ts
 * export default defineFunctions({
 *   async salesTotal(input: { dbPath: string }, job) {
 *     job.status(1, 2);
 *     return { total: 50000 };
 *   },
 *   thumbnail: { bytes: (image) => resize(image), timeout: 5000 },
 * });
 * ```
 */
export function defineFunctions<const F extends FunctionMap>(definitions: F): FunctionSet<F> {
  if (typeof definitions !== 'object' || definitions === null || Array.isArray(definitions)) {
    throw new TypeError('defineFunctions() expects an object mapping function names to handlers');
  }
  return new FunctionSet(definitions);
}

function resolveEntry(name: string, entry: FunctionEntry): ResolvedFunction {
  if (name.length === 0) throw new TypeError('defineFunctions(): a function name cannot be empty');
  if (typeof entry === 'function') {
    return {
      name,
      handler: entry as ResolvedFunction['handler'],
      payload: 'json',
      timeout: undefined,
      limit: undefined,
    };
  }
  if (typeof entry !== 'object' || entry === null) {
    throw new TypeError(
      `defineFunctions(): '${name}' must be a handler function, { handler, timeout?, limit? } or { bytes, timeout?, limit? }`,
    );
  }
  const handler = 'bytes' in entry ? entry.bytes : entry.handler;
  if (typeof handler !== 'function' || ('bytes' in entry && 'handler' in entry)) {
    throw new TypeError(
      `defineFunctions(): '${name}' needs exactly one of handler (JSON) or bytes (raw bytes), as a function`,
    );
  }
  const { timeout } = entry;
  if (timeout !== undefined) checkMilliseconds(`defineFunctions(): '${name}'.timeout`, timeout, 0, true);
  const payload: PayloadMode = 'bytes' in entry ? 'bytes' : 'json';
  const limit =
    entry.limit === undefined
      ? undefined
      : checkLimit(`defineFunctions(): '${name}'.limit`, entry.limit, payload);
  return { name, handler: handler as ResolvedFunction['handler'], payload, timeout, limit };
}
