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
import { QueueBackend } from '../queue/queue-backend.js';
import { fillQueueOptions, type QueueOptions } from '../queue/queue-options.js';
import { Client } from './client.js';
import { checkCount, checkMilliseconds, checkObject } from './options.js';

/** Options of a client: the functions it runs here, and where background jobs are kept. */
export interface LocalClientOptions<S extends AnyFunctionSet = AnyFunctionSet> {
  /**
   * The functions module: its URL or path (threads load it themselves), or with `threads: 0` the
   * FunctionSet itself. Leave it out for a client that only submits jobs to a queue file that other
   * processes (`gearshift work`) run.
   * @example new URL('./functions.js', import.meta.url)
   */
  readonly functions?: URL | string | S;
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
  /**
   * Where background jobs are kept: a queue file (its path, or options), or `false` for none. The file
   * opens on the first background job, status() or start(); with `functions`, this process also runs
   * the file's jobs (the embedded runner).
   * @default the default queue file, `.gearshift/queue.db` under the working directory
   */
  readonly queue?: string | QueueOptions | false;
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
 * Makes a client. Constructing one does no I/O: threads start and files open on first use.
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
  const local = options.functions === undefined ? undefined : localBackend(options);
  const queue = queueBackend(options, local);
  const foreground = local && !queue?.foreground ? local.backend : queue?.backend;
  if (!foreground) {
    throw new InvalidOptionError(
      'functions',
      'given (or a queue given), so that jobs can run somewhere',
      undefined,
    );
  }
  return new Client<S>(foreground, queue?.backend);
}

function queueBackend(
  options: LocalClientOptions<AnyFunctionSet>,
  local: { backend: Backend; slots: number; threads: number } | undefined,
): { backend: QueueBackend; foreground: boolean } | undefined {
  if (options.queue === false) return undefined;
  const queue = fillQueueOptions(options.queue ?? {}, local !== undefined);
  const runner = queue.runner && local ? { ...local, ownsBackend: false } : undefined;
  return { backend: new QueueBackend({ ...queue, runner }), foreground: queue.foreground };
}

function localBackend(options: LocalClientOptions<AnyFunctionSet>): {
  backend: Backend;
  slots: number;
  threads: number;
} {
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
  const backend = new LocalBackend(createExecutor, { abortGrace });
  return { backend, slots: Math.max(1, threads) * concurrency, threads };
}
