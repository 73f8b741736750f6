/**
 * `gearshift status --queue <file> [<handle>]` or `--gearman host:port[,...]`: per function, jobs queued
 * and running and the workers that run it (as `gearadmin --status` shows gearmand; summed over the
 * servers given); with a handle, that job.
 */
import { parseArgs } from 'node:util';
import type { JobStatus } from '../backend.js';
import { createClient } from '../compose/create-client.js';
import { GearmanAdmin } from '../gearman/admin-client.js';
import { fillGearmanOptions } from '../gearman/gearman-options.js';
import { openQueue } from '../queue/queue-admin.js';
import { UsageError } from './usage-error.js';

export async function status(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { queue: { type: 'string' }, gearman: { type: 'string' } },
  });
  const [handle, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError('status takes at most one handle');
  if (!values.queue === !values.gearman) {
    throw new UsageError('status needs --queue <file> or --gearman host:port (one of them)');
  }
  const lines = values.queue
    ? await queueStatus(values.queue, handle)
    : await gearmanStatus(values.gearman as string, handle);
  if (typeof lines === 'string') {
    process.stdout.write(lines);
    return lines.includes(': unknown\n') ? 1 : 0;
  }
  process.stdout.write('FUNCTION\tQUEUED\tRUNNING\tWORKERS\n');
  for (const line of lines)
    process.stdout.write(`${line.functionName}\t${line.queued}\t${line.running}\t${line.workers}\n`);
  return 0;
}

type FunctionLines = { functionName: string; queued: number; running: number; workers: number }[];

async function queueStatus(path: string, handle: string | undefined): Promise<FunctionLines | string> {
  const queue = openQueue(path);
  try {
    return handle === undefined ? queue.functions() : describeJob(queue.job(handle));
  } finally {
    queue.close();
  }
}

/** gearmand's view: `status` per function (its total counts queued and running together), or GET_STATUS. */
async function gearmanStatus(servers: string, handle: string | undefined): Promise<FunctionLines | string> {
  if (handle !== undefined) {
    const client = createClient({ gearman: { servers } });
    try {
      return describeJob(await client.status(handle));
    } finally {
      await client.destroy();
    }
  }
  const options = fillGearmanOptions({ servers });
  const lines = new Map<string, { functionName: string; queued: number; running: number; workers: number }>();
  for (const server of options.servers) {
    for (const line of await new GearmanAdmin(server, options).status()) {
      const sum = lines.get(line.functionName) ?? {
        functionName: line.functionName,
        queued: 0,
        running: 0,
        workers: 0,
      };
      sum.queued += line.total - line.running;
      sum.running += line.running;
      sum.workers += line.workers;
      lines.set(line.functionName, sum);
    }
  }
  return [...lines.values()].sort((a, b) => a.functionName.localeCompare(b.functionName));
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
