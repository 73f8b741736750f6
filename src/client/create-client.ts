/** createClient: picks the backend from the options. */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import type { Backend } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { FunctionSet } from '../functions/define.js';
import { toModuleUrl } from '../functions/load-module.js';
import type { AnyFunctionSet } from '../functions/types.js';
import { InlineExecutor } from '../local/inline-executor.js';
import { type ExecutorFactory, LocalBackend } from '../local/local-backend.js';
import { ThreadExecutor } from '../local/thread-executor.js';
import { Client } from './client.js';
import { checkCount, checkMilliseconds, checkObject } from './options.js';

/** Options of the local backend: the functions run in worker threads of this process, or inline. */
export interface LocalClientOptions<S extends AnyFunctionSet = AnyFunctionSet> {
  /**
   * The functions module: its URL or path (threads load it themselves), or with `threads: 0` the
   * FunctionSet itself.
   * @example new URL('./functions.js', import.meta.url)
   */
  readonly functions: URL | string | S;
  /**
   * Worker threads in the pool. `0` runs every job inline, in the caller's own thread, through the same
   * API: for breakpoints and stack traces while the logic is being got right.
   * @default os.availableParallelism()
   */
  readonly threads?: number;
  /**
   * Jobs one thread (or the inline mode) runs at once. Raise it for functions that mostly wait on I/O;
   * CPU-bound functions gain nothing from more than 1.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * Milliseconds a running job may ignore its aborted `signal` (after a timeout or abort) before its
   * thread is terminated and replaced.
   * @default 1000
   */
  readonly abortGrace?: number;
  /** Memory limits of each worker thread; a job that exceeds them fails with WorkerCrashedError. */
  readonly resourceLimits?: ResourceLimits;
}

/** Options that plug in a backend of your own (see the `Backend` interface). */
export interface CustomBackendOptions {
  readonly backend: Backend;
}

/** The options of {@link createClient}. */
export type ClientOptions<S extends AnyFunctionSet = AnyFunctionSet> =
  | LocalClientOptions<S>
  | CustomBackendOptions;

/**
 * Makes a client. Constructing one does no I/O: threads start and the functions module loads on first use.
 *
 * @example
 * ```ts
 * import type functions from './functions.js';
 * const gs = createClient<typeof functions>({ functions: new URL('./functions.js', import.meta.url) });
 * ```
 */
export function createClient<S extends AnyFunctionSet = AnyFunctionSet>(
  options: ClientOptions<S>,
): Client<S> {
  checkObject('options', options);
  if ('backend' in options) {
    const { backend } = options;
    if (typeof backend !== 'object' || backend === null || typeof backend.submit !== 'function') {
      throw new InvalidOptionError('backend', 'an object implementing the Backend interface', backend);
    }
    return new Client<S>(backend);
  }
  return new Client<S>(localBackend(options));
}

function localBackend(options: LocalClientOptions<AnyFunctionSet>): Backend {
  const threads = checkCount('threads', options.threads ?? availableParallelism(), 0);
  const concurrency = checkCount('concurrency', options.concurrency ?? 1, 1);
  const abortGrace = checkMilliseconds('abortGrace', options.abortGrace ?? 1000, 0);
  const { functions, resourceLimits } = options;
  if (resourceLimits !== undefined) checkObject('resourceLimits', resourceLimits);
  let createExecutor: ExecutorFactory;
  if (FunctionSet.is(functions)) {
    if (threads > 0) {
      throw new InvalidOptionError(
        'functions',
        "the functions module's URL or path when threads > 0 (each thread loads the module itself; " +
          "pass new URL('./functions.js', import.meta.url), or threads: 0 to run inline)",
        functions,
      );
    }
    createExecutor = (reports, prefix) => new InlineExecutor({ functions, concurrency }, reports, prefix);
  } else {
    if (!(functions instanceof URL) && (typeof functions !== 'string' || functions.length === 0)) {
      throw new InvalidOptionError(
        'functions',
        'a URL or path of the functions module, or a FunctionSet',
        functions,
      );
    }
    const functionsModule = toModuleUrl(functions);
    createExecutor =
      threads === 0
        ? (reports, prefix) =>
            new InlineExecutor({ functions: functionsModule, concurrency }, reports, prefix)
        : (reports, prefix) =>
            new ThreadExecutor({ functionsModule, threads, concurrency, resourceLimits }, reports, prefix);
  }
  return new LocalBackend(createExecutor, { abortGrace });
}
