/**
 * `gearshift status --queue <file> [<handle>]`: per function, jobs queued and running and the runners
 * that run it (as `gearadmin --status` shows gearmand); with a handle, that job.
 */
import { parseArgs } from 'node:util';
import type { JobStatus } from '../backend.js';
import { openQueue } from '../queue/queue-admin.js';
import { requiredQueue } from './cli-options.js';
import { UsageError } from './usage-error.js';

export async function status(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { queue: { type: 'string' } },
  });
  const [handle, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError('status takes at most one handle');
  const queue = openQueue(requiredQueue('status', values.queue));
  try {
    if (handle === undefined) {
      const lines = queue.functions();
      process.stdout.write('FUNCTION\tQUEUED\tRUNNING\tWORKERS\n');
      for (const line of lines) {
        process.stdout.write(`${line.functionName}\t${line.queued}\t${line.running}\t${line.workers}\n`);
      }
      return 0;
    }
    const job = queue.job(handle);
    process.stdout.write(describeJob(job));
    return job.known ? 0 : 1;
  } finally {
    queue.close();
  }
}

/** A job as `name: value` lines. */
export function describeJob(job: JobStatus): string {
  if (!job.known) return `${job.handle}: unknown\n`;
  const lines: [string, unknown][] = [
    ['handle', job.handle],
    ['function', job.functionName],
    ['state', job.state],
    ['progress', `${job.numerator}/${job.denominator}`],
    ['attempts', `${job.attempts} of ${job.maxAttempts}`],
    ['created', job.createdAt?.toISOString()],
    ['run at', job.runAt?.toISOString()],
    ['started', job.startedAt?.toISOString()],
    ['finished', job.finishedAt?.toISOString()],
    ['last error', job.lastError ? `${job.lastError.code}: ${job.lastError.message}` : undefined],
    ['result', job.result === undefined ? undefined : JSON.stringify(job.result)],
  ];
  return lines
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}\n`)
    .join('');
}
