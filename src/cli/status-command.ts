/**
 * `gearshift status --queue <file> [<handle>]` or `--gearman host:port[,...]`: per function, jobs queued
 * and running and the workers that run it (as `gearadmin --status` shows gearmand; summed over the
 * servers given; gearshift's own control functions left out); with a handle, that job. Functions whose
 * jobs no live runner runs are named on stderr.
 */
import type { JobStatus } from '../backend.js';
import { createClient } from '../compose/create-client.js';
import { GearmanAdmin } from '../gearman/admin-client.js';
import { isControlFunction } from '../gearman/control.js';
import { fillGearmanOptions } from '../gearman/gearman-options.js';
import { openQueue } from '../queue/queue-admin.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

export const statusCommand: Command = {
  name: 'status',
  usage: `gearshift status (--queue <file> | --gearman host:port[,...]) [<handle>]
    Per function: jobs queued, running, and the workers that run it; or one job's state and progress.`,
  options: ['queue', 'gearman'],
  run: status,
};

interface FunctionLine {
  functionName: string;
  queued: number;
  running: number;
  workers: number;
  /** On a queue file: paused by an operator. */
  paused?: boolean;
}

async function status({ values, positionals }: CommandLine): Promise<number> {
  const [handle, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError('status takes at most one handle');
  if ((values.queue === undefined) === (values.gearman === undefined)) {
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
  for (const line of lines) {
    if (line.paused) {
      process.stderr.write(
        `gearshift status: ${line.functionName}: paused: its jobs queue, and no runner takes them until it is resumed\n`,
      );
    } else if (line.workers === 0 && line.queued + line.running > 0) {
      process.stderr.write(
        `gearshift status: ${line.functionName}: ${line.queued} queued and no live worker runs it: its jobs wait until one does\n`,
      );
    }
  }
  return 0;
}

async function queueStatus(path: string, handle: string | undefined): Promise<FunctionLine[] | string> {
  const queue = await openQueue(path, { create: false });
  try {
    return handle === undefined ? queue.functions() : describeJob(queue.job(handle));
  } finally {
    queue.close();
  }
}

/** gearmand's view: `status` per function (its total counts queued and running together), or GET_STATUS. */
async function gearmanStatus(servers: string, handle: string | undefined): Promise<FunctionLine[] | string> {
  if (handle !== undefined) {
    const client = createClient({ gearman: { servers } });
    try {
      return describeJob(await client.status(handle));
    } finally {
      await client.destroy();
    }
  }
  const options = fillGearmanOptions({ servers });
  const lines = new Map<string, FunctionLine>();
  for (const server of options.servers) {
    for (const line of await new GearmanAdmin(server, options).status()) {
      if (isControlFunction(line.functionName)) continue;
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

/** A job as `name: value` lines: what the backend knows (Gearman: its state and progress). */
export function describeJob(job: JobStatus): string {
  if (!job.known) return `${job.handle}: unknown\n`;
  const lines: [string, unknown][] = [
    ['handle', job.handle],
    ['function', job.functionName],
    ['state', job.state ?? (job.running ? 'running' : 'queued')],
    ['progress', `${job.numerator}/${job.denominator}`],
    ['attempts', job.attempts === undefined ? undefined : `${job.attempts} of ${job.maxAttempts}`],
    ['created', job.createdAt?.toISOString()],
    ['run at', job.runAt?.toISOString()],
    ['started', job.startedAt?.toISOString()],
    ['finished', job.finishedAt?.toISOString()],
    ['waiting clients', job.waiting],
    ['last error', job.lastError ? `${job.lastError.code}: ${job.lastError.message}` : undefined],
    ['checkpoint', job.checkpoint === undefined ? undefined : JSON.stringify(job.checkpoint)],
    ['result', job.result === undefined ? undefined : JSON.stringify(job.result)],
  ];
  return lines
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}\n`)
    .join('');
}
