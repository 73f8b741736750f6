/**
 * `gearshift work <module> --queue <file>`: a runner process. It claims jobs of the module's functions
 * from the file and runs them on its threads until SIGTERM or SIGINT, then stops claiming, lets running
 * jobs finish (up to --grace-ms) and puts the rest back in the queue.
 */
import { parseArgs } from 'node:util';
import { createClient } from '../client/create-client.js';
import { openQueue } from '../queue/queue-admin.js';
import { countOption, millisecondsOption, requiredQueue } from './cli-options.js';
import { UsageError } from './usage-error.js';

export async function work(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      threads: { type: 'string' },
      concurrency: { type: 'string' },
      'lease-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
    },
  });
  const [module, ...extra] = positionals;
  if (!module || extra.length > 0)
    throw new UsageError('work takes exactly one argument: the functions module');
  const path = requiredQueue('work', values.queue);
  const threads = values.threads === undefined ? undefined : countOption('--threads', values.threads, 1, 1);
  const concurrency = countOption('--concurrency', values.concurrency, 1, 1);
  const leaseMs = millisecondsOption('--lease-ms', values['lease-ms']);
  const shutdownGraceMs = millisecondsOption('--grace-ms', values['grace-ms']);
  const client = createClient({
    functions: module,
    ...(threads === undefined ? {} : { threads }),
    concurrency,
    queue: {
      path,
      ...(leaseMs === undefined ? {} : { leaseMs }),
      ...(shutdownGraceMs === undefined ? {} : { shutdownGraceMs }),
    },
  });
  await client.start();
  const view = openQueue(path);
  const me = view.runners().find((runner) => runner.pid === process.pid);
  view.close();
  process.stderr.write(
    `gearshift work: pid ${process.pid} runs ${me?.functions.join(', ') || '(no functions)'} from ${path}\n`,
  );
  // A runner is a service: it stays up until told to stop.
  const alive = setInterval(() => {}, 2 ** 30);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`gearshift work: ${signal}: finishing the running jobs, then stopping\n`);
      process.once(signal, () => {
        process.stderr.write(`gearshift work: ${signal} again: stopping now\n`);
        void client.destroy().then(resolve);
      });
      void client.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  clearInterval(alive);
  return 0;
}
