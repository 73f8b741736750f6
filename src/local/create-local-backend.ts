/** Making the local pool (threads, or inline) from the options that describe it. */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidOptionError } from '../errors.js';
import { FunctionSet } from '../functions/define.js';
import { toModuleUrl } from '../functions/load-module.js';
import { checkCount, checkMilliseconds, checkObject } from '../shared/validate.js';
import type { TelemetryOptions } from '../telemetry/telemetry-options.js';
import { loadTracing } from '../telemetry/tracing.js';
import { InlineExecutor } from './inline-executor.js';
import { type ExecutorFactory, LocalBackend } from './local-backend.js';
import { ThreadExecutor } from './thread-executor.js';

/** What describes a local pool (the fields of createClient's and createWorker's options). */
export interface LocalPoolOptions extends TelemetryOptions {
  readonly functions?: URL | string | FunctionSet | undefined;
  readonly threads?: number | undefined;
  readonly concurrency?: number | 'auto' | undefined;
  readonly maxConcurrency?: number | undefined;
  readonly abortGrace?: number | undefined;
  readonly resourceLimits?: ResourceLimits | undefined;
}

/** A local pool: the backend, and its thread count (0 inline). */
export interface LocalPool {
  readonly backend: LocalBackend;
  readonly threads: number;
}

/** With `concurrency: 'auto'`, the most jobs one thread runs at once unless `maxConcurrency` says. */
export const defaultMaxConcurrency = 32;

/** Checks the options and makes the pool (no thread starts until the first job). */
export function createLocalBackend(options: LocalPoolOptions): LocalPool {
  const threads = checkCount('threads', options.threads ?? availableParallelism(), 0);
  const concurrency =
    options.concurrency === undefined || options.concurrency === 'auto'
      ? undefined
      : checkCount('concurrency', options.concurrency, 1, "or 'auto'");
  if (concurrency !== undefined && options.maxConcurrency !== undefined) {
    throw new InvalidOptionError(
      'maxConcurrency',
      "left out when `concurrency` is a number (it caps concurrency 'auto')",
      options.maxConcurrency,
    );
  }
  const maxConcurrency = checkCount('maxConcurrency', options.maxConcurrency ?? defaultMaxConcurrency, 1);
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
    createExecutor = (reports, prefix) =>
      new InlineExecutor({ functions, concurrency, maxConcurrency }, reports, prefix);
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
            new InlineExecutor({ functions: functionsModule, concurrency, maxConcurrency }, reports, prefix)
        : (reports, prefix) =>
            new ThreadExecutor(
              { functionsModule, threads, concurrency, maxConcurrency, resourceLimits },
              reports,
              prefix,
            );
  }
  const backend = new LocalBackend(createExecutor, { abortGrace, tracing: loadTracing(options.telemetry) });
  return { backend, threads };
}
