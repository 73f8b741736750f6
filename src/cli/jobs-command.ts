/**
 * `gearshift jobs --queue <file> [--state dead] [--limit N]`: the most recent jobs in a state (the
 * dead-letter jobs by default), and `gearshift requeue --queue <file> <handle>...`: put failed or dead
 * jobs back with a fresh set of attempts.
 */
import { parseArgs } from 'node:util';
import type { JobState } from '../backend.js';
import { openQueue } from '../queue/queue-admin.js';
import { countOption, requiredQueue } from './cli-options.js';
import { UsageError } from './usage-error.js';

export async function listJobs(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      state: { type: 'string', default: 'dead' },
      limit: { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError('jobs takes no arguments, only options');
  const queue = openQueue(requiredQueue('jobs', values.queue));
  try {
    const jobs = queue.jobs(values.state as JobState, countOption('--limit', values.limit, 100, 1));
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

export async function requeue(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { queue: { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError('requeue needs the handles of the jobs to put back');
  const queue = openQueue(requiredQueue('requeue', values.queue));
  try {
    let refused = 0;
    for (const handle of positionals) {
      if (queue.requeue(handle)) process.stdout.write(`${handle}: queued again\n`);
      else {
        refused++;
        process.stdout.write(`${handle}: not requeued (unknown, or neither failed nor dead)\n`);
      }
    }
    return refused === 0 ? 0 : 1;
  } finally {
    queue.close();
  }
}
