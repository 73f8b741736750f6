/**
 * createClient: picks the backends from the options and composes them into the one the client holds: the
 * local pool, a queue file, both (routed), a Gearman cluster, or a backend of your own.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { Backend } from '../backend.js';
import { Client } from '../client/client.js';
import { InvalidOptionError } from '../errors.js';
import { FunctionSet } from '../functions/define.js';
import { describeFunctions, toModuleUrl } from '../functions/load-module.js';
import type { AnyFunctionSet } from '../functions/types.js';
import { fillGearmanOptions, type GearmanOptions } from '../gearman/gearman-options.js';
import { loadGearmanCode } from '../gearman/load-gearman-code.js';
import { createLocalBackend, type LocalPool } from '../local/create-local-backend.js';
import { loadQueueCode } from '../queue/load-queue-code.js';
import { fillQueueOptions, type QueueOptions } from '../queue/queue-options.js';
import { checkObject } from '../shared/validate.js';
import type { TelemetryOptions } from '../telemetry/telemetry-options.js';
import { type BackendAbilities, DeferredBackend } from './deferred-backend.js';
import { type QueueSide, RoutingBackend } from './routing-backend.js';

/** Options of a client: the functions it runs here, and where background jobs are kept. */
export interface LocalClientOptions<S extends AnyFunctionSet = AnyFunctionSet> extends TelemetryOptions {
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
   * Jobs one thread (or the inline mode) runs at once. `'auto'`: one, and more while the jobs a thread
   * runs leave its event loop idle (they wait on I/O), doubling up to `maxConcurrency`; so jobs that
   * wait fan out wide and CPU-bound jobs run one per thread. A number fixes it.
   * @default 'auto'
   */
  readonly concurrency?: number | 'auto';
  /**
   * With `concurrency: 'auto'`, the most jobs one thread runs at once: a bound on how hard jobs that
   * wait may press what they wait on (a database, an API).
   * @default 32
   */
  readonly maxConcurrency?: number;
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

/**
 * Options of a client of a Gearman cluster: jobs (foreground and background) go to the job servers,
 * where workers (`gearshift work --gearman`, or PHP, C, Perl workers) run them.
 */
export interface GearmanClientOptions<S extends AnyFunctionSet = AnyFunctionSet> extends TelemetryOptions {
  readonly gearman: GearmanOptions;
  /**
   * The functions the workers run, when this process has the module: names are then refused before
   * sending when unknown, and bytes functions are known as such. Nothing runs here.
   */
  readonly functions?: URL | string | S;
}

/** Options that plug in a backend of your own (see the `Backend` interface). */
export interface CustomBackendOptions extends TelemetryOptions {
  readonly backend: Backend;
}

/** The options of {@link createClient}. */
export type ClientOptions<S extends AnyFunctionSet = AnyFunctionSet> =
  | LocalClientOptions<S>
  | GearmanClientOptions<S>
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
    return new Client<S>(backend, options);
  }
  if ('gearman' in options) {
    if ('queue' in options || 'threads' in options) {
      throw new InvalidOptionError(
        'gearman',
        'alone: with gearman, jobs run on the cluster (no queue, no threads here)',
        options,
      );
    }
    const { functions, gearman } = options as GearmanClientOptions<S>;
    const set = functions === undefined || FunctionSet.is(functions) ? functions : undefined;
    const url = functions === undefined || FunctionSet.is(functions) ? undefined : toModuleUrl(functions);
    const filled = fillGearmanOptions(gearman);
    const backend = new DeferredBackend(async () => {
      const { GearmanBackend } = await loadGearmanCode();
      return new GearmanBackend(filled, url ?? set);
    }, gearmanAbilities);
    return new Client<S>(backend, options);
  }
  const local = options.functions === undefined ? undefined : createLocalBackend(options);
  const queue = queueBackend(options, local);
  if (local && queue && !queue.foreground)
    return new Client<S>(new RoutingBackend(local.backend, queue.backend), options);
  const only = queue?.backend ?? local?.backend;
  if (!only) {
    throw new InvalidOptionError(
      'functions',
      'given (or a queue given), so that jobs can run somewhere',
      undefined,
    );
  }
  return new Client<S>(only, options);
}

function queueBackend(
  options: LocalClientOptions<AnyFunctionSet>,
  local: LocalPool | undefined,
): { backend: QueueSide; foreground: boolean } | undefined {
  if (options.queue === false) return undefined;
  const queue = fillQueueOptions(options.queue ?? {}, local !== undefined);
  // When the queue is the client's only backend (it takes foreground jobs too), it closes the pool.
  const runner = queue.runner && local ? { pool: local, ownsBackend: queue.foreground } : undefined;
  // The pool describes the functions where it runs anyway; otherwise this thread reads the module.
  const { functions } = options;
  const describe =
    local && (runner || !queue.foreground)
      ? () => local.backend.manifest()
      : functions === undefined
        ? undefined
        : () => describeFunctions(functions);
  const backend = new DeferredBackend(
    async () => {
      const { QueueBackend } = await loadQueueCode();
      return new QueueBackend({ ...queue, runner, describe });
    },
    queueAbilities,
    // Never opened: nothing of the file's to release, but a pool it was to close all the same.
    runner?.ownsBackend ? runner.pool.backend : undefined,
  );
  // Said to have every member a queue side needs (queueAbilities), and a test holds QueueBackend to it.
  return { backend: backend as QueueSide, foreground: queue.foreground };
}

/** What QueueBackend offers beyond the required members. */
export const queueAbilities: BackendAbilities = {
  background: true,
  start: true,
  finished: true,
  statusOfUnique: false,
  control: true,
  schedules: true,
  flows: true,
};

/** What GearmanBackend offers beyond the required members. */
export const gearmanAbilities: BackendAbilities = {
  background: true,
  start: false,
  finished: false,
  statusOfUnique: true,
  control: true,
  schedules: false,
  flows: false,
};
