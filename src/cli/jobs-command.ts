/**
 * `gearshift jobs --queue <file> [--state dead] [--limit N]`: the most recent jobs in a state (the
 * dead-letter jobs by default). A queue file only: gearmand keeps no finished jobs.
 */
import { openQueue } from '../queue/queue-admin.js';
import { type Command, type CommandLine, valueOr } from './command.js';
import { UsageError } from './usage-error.js';

const queueOnly = (command: string) =>
  `${command} takes --queue <file> only: gearmand keeps no finished jobs (gearshift status --gearman shows what it holds)`;

export const jobsCommand: Command = {
  name: 'jobs',
  usage: `gearshift jobs --queue <file> [--state dead|failed|queued|running|completed] [--limit N]
    The most recent jobs in a state: the dead-letter jobs by default.`,
  options: ['queue', 'state', 'limit'],
  refuses: { gearman: queueOnly('jobs') },
  run: listJobs,
};

/** The queue file a queue-only command works on. */
function requiredQueue(command: string, queue: string | undefined): string {
  if (queue === undefined)
    throw new UsageError(`${command} needs --queue <file> (the queue file to work on)`);
  return queue;
}

async function listJobs(line: CommandLine): Promise<number> {
  if (line.positionals.length > 0) throw new UsageError('jobs takes no arguments, only options');
  const queue = await openQueue(requiredQueue('jobs', line.values.queue), { create: false });
  try {
    const jobs = queue.jobs(valueOr(line, 'state', 'dead'), valueOr(line, 'limit', 100));
    process.stdout.write('HANDLE\tFUNCTION\tSTATE\tATTEMPTS\tLAST ERROR\n');
    for (const job of jobs) {
      const error = job.lastError ? `${job.lastError.code}: ${job.lastError.message}` : '';
      process.stdout.write(
        `${job.handle}\t${job.functionName}\t${job.state}\t${job.attempts}/${job.maxAttempts}\t${error}\n`,
      );
    }
    return 0;
  } finally {
    queue.close();
  }
}
