/**
 * `gearshift work <module> --queue <file>` or `--gearman host:port[,host:port...]`: a worker process. It
 * runs the module's jobs on its threads until SIGTERM or SIGINT, then takes no more, lets running jobs
 * finish (up to --grace-ms) and gives the rest back (to the queue, or to gearmand for another worker).
 * A second signal stops it at once. What it must not keep silent (a server it cannot reach, a job it
 * refused, a dead runner whose jobs it took back) goes to stderr, one line each.
 */
import { createWorker } from '../compose/create-worker.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

export const workCommand: Command = {
  name: 'work',
  usage: `gearshift work <module> (--queue <file> | --gearman host:port[,...]) [--threads N]
               [--concurrency N|auto] [--max-concurrency N] [--grace-ms DURATION]
               [--lease-ms DURATION] (queue) [--client-id ID] [--prefetch-ms DURATION] [--fail-as fail|exception] (gearman)
               [--telemetry]
    Runs the module's jobs until SIGTERM or SIGINT (then finishes what runs). --threads 0 runs them
    on the process's own thread: the least overhead per job, for short jobs that do not block.
    --concurrency auto (the default): a thread takes more jobs while its jobs wait on I/O, up to
    --max-concurrency (default 32); a number fixes the jobs per thread.
    --prefetch-ms (Gearman, default 1): how much work, in recent jobs' run time, to hold beyond the
    free slots; 0 grabs only for free slots. --fail-as (Gearman, default fail): how a failed job is
    told to gearmand 1.1: fail (every client hears the end; the failure comes as a warning) or
    exception (WORK_EXCEPTION, for callers that all ask for exceptions; see docs/gearman.md).
    --telemetry: an OpenTelemetry span for each run, a child of the span that submitted the job; it
    needs @opentelemetry/api, and an SDK the process loads first (node --import ./tracing.js ...).`,
  options: [
    'queue',
    'gearman',
    'threads',
    'concurrency',
    'max-concurrency',
    'lease-ms',
    'grace-ms',
    'client-id',
    'prefetch-ms',
    'fail-as',
    'telemetry',
  ],
  refuses: { functions: 'work takes the functions module as its argument: gearshift work <module> ...' },
  run: work,
};

async function work({ values, positionals }: CommandLine): Promise<number> {
  const [module, ...extra] = positionals;
  if (!module || extra.length > 0)
    throw new UsageError('work takes exactly one argument: the functions module');
  if ((values.queue === undefined) === (values.gearman === undefined)) {
    throw new UsageError('work needs --queue <file> or --gearman host:port[,host:port...] (one of them)');
  }
  if (values.queue !== undefined) {
    for (const option of ['client-id', 'prefetch-ms', 'fail-as'] as const) {
      if (values[option] !== undefined)
        throw new UsageError(
          `--${option} is for --gearman workers (a queue worker claims only for the room its pool has)`,
        );
    }
  } else if (values['lease-ms'] !== undefined) {
    throw new UsageError('--lease-ms is for --queue workers (gearmand holds no lease: it sees a worker die)');
  }
  const concurrency = values.concurrency;
  if (values['max-concurrency'] !== undefined && concurrency !== undefined && concurrency !== 'auto') {
    throw new UsageError('--max-concurrency goes with --concurrency auto (the default)');
  }
  const worker = createWorker({
    functions: module,
    ...(values.threads === undefined ? {} : { threads: values.threads }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(values['max-concurrency'] === undefined ? {} : { maxConcurrency: values['max-concurrency'] }),
    ...(values.queue !== undefined
      ? {
          queue: {
            path: values.queue,
            ...(values['lease-ms'] === undefined ? {} : { leaseMs: values['lease-ms'] }),
          },
        }
      : { gearman: { servers: values.gearman as string } }),
    ...(values['client-id'] === undefined ? {} : { clientId: values['client-id'] }),
    ...(values['prefetch-ms'] === undefined ? {} : { prefetchMs: values['prefetch-ms'] }),
    ...(values['fail-as'] === undefined ? {} : { failAs: values['fail-as'] }),
    ...(values.telemetry ? { telemetry: true } : {}),
  });
  await worker.start();
  process.stderr.write(`gearshift work: pid ${process.pid} ${worker.description}\n`);
  const grace = values['grace-ms'];
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
