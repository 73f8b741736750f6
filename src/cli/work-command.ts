/**
 * `gearshift work <module> --queue <file>` or `--gearman host:port[,host:port...]`: a worker process. It
 * runs the module's jobs on its threads until SIGTERM or SIGINT, then takes no more, lets running jobs
 * finish (up to --grace-ms) and gives the rest back (to the queue, or to gearmand for another worker).
 * A second signal stops it at once.
 */
import { parseArgs } from 'node:util';
import { createWorker } from '../compose/create-worker.js';
import type { LocalPoolOptions } from '../local/create-local-backend.js';
import { countOption, millisecondsOption } from './cli-options.js';
import { UsageError } from './usage-error.js';

export async function work(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      gearman: { type: 'string' },
      threads: { type: 'string' },
      concurrency: { type: 'string' },
      'max-concurrency': { type: 'string' },
      'lease-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
      'client-id': { type: 'string' },
      'prefetch-ms': { type: 'string' },
    },
  });
  const [module, ...extra] = positionals;
  if (!module || extra.length > 0)
    throw new UsageError('work takes exactly one argument: the functions module');
  if (!values.queue === !values.gearman) {
    throw new UsageError('work needs --queue <file> or --gearman host:port[,host:port...] (one of them)');
  }
  const pool: PoolOptions = {
    functions: module,
    ...concurrencyOptions(values.concurrency, values['max-concurrency']),
    ...(values.threads === undefined ? {} : { threads: countOption('--threads', values.threads, 1, 0) }),
  };
  const grace = millisecondsOption('--grace-ms', values['grace-ms']);
  const prefetchMs = millisecondsOption('--prefetch-ms', values['prefetch-ms']);
  if (values.queue && prefetchMs !== undefined)
    throw new UsageError(
      '--prefetch-ms is for --gearman workers (a queue worker claims only for the room its pool has)',
    );
  const worker = createWorker({
    ...pool,
    ...(values.queue
      ? {
          queue: {
            path: values.queue,
            ...optional('leaseMs', millisecondsOption('--lease-ms', values['lease-ms'])),
          },
        }
      : { gearman: { servers: values.gearman as string } }),
    ...optional('clientId', values['client-id']),
    ...optional('prefetchMs', prefetchMs),
  });
  await worker.start();
  process.stderr.write(`gearshift work: pid ${process.pid} ${worker.description}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`gearshift work: ${signal}: finishing the running jobs, then stopping\n`);
      process.once(signal, () => {
        process.stderr.write(`gearshift work: ${signal} again: stopping now\n`);
        void worker.destroy().then(resolve);
      });
      void worker.stop(grace).then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

/** What the command line says of the local pool. */
type PoolOptions = Pick<LocalPoolOptions, 'threads' | 'concurrency' | 'maxConcurrency'> & {
  readonly functions: string;
};

/** --concurrency N|auto (auto by default) and --max-concurrency N (only with auto). */
function concurrencyOptions(
  concurrency: string | undefined,
  max: string | undefined,
): Pick<LocalPoolOptions, 'concurrency' | 'maxConcurrency'> {
  if (concurrency !== undefined && concurrency !== 'auto') {
    if (max !== undefined)
      throw new UsageError('--max-concurrency goes with --concurrency auto (the default)');
    return { concurrency: countOption('--concurrency', concurrency, 1, 1) };
  }
  return max === undefined ? {} : { maxConcurrency: countOption('--max-concurrency', max, 1, 1) };
}

/** `{ [name]: value }` when the value is given, `{}` when it is not. */
function optional<K extends string, V>(name: K, value: V | undefined): { [key in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [key in K]?: V };
}
