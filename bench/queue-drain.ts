/** The drain measurement of bench:queue: how long a runner with 2 threads takes to run `count` no-op jobs. */
import { createClient, type QueueOptions } from '../src/index.js';
import { openSqlite } from '../src/queue/sqlite/open-sqlite.js';
import type functions from './queue-functions.js';

/** Which no-op function a drain runs, and each job's input. */
export interface DrainedJobs {
  readonly functionName: 'noop' | 'concurrencyLimited' | 'rateLimited' | 'keyLimited';
  readonly input?: (index: number) => { key: number };
}

type QueueClient = ReturnType<typeof createClient<typeof functions>>;

/** Commits `count` background jobs of the drain's function in one call. */
async function enqueueAll(client: QueueClient, count: number, { functionName, input }: DrainedJobs) {
  await client.backgroundAll(
    Array.from({ length: count }, (_, index) =>
      client.backgroundJob(functionName, (input?.(index) ?? { key: 0 }) as never),
    ),
  );
}

/** How long a drain took, by the wall clock and in CPU time (this process's threads, all of them). */
export interface DrainTime {
  readonly ms: number;
  readonly cpuMs: number;
}

/**
 * The time from calling `begin` to `count` jobs of `functionName` completed in the file at `path`, by a
 * count polled every `pollMs`; read with this process's own SQLite driver: two copies of SQLite must
 * not open one file.
 */
async function untilCompleted(
  path: string,
  count: number,
  functionName: string,
  pollMs: number,
  begin: () => Promise<unknown>,
): Promise<DrainTime> {
  const reader = openSqlite(path);
  const completed = reader.prepare('SELECT count(*) FROM jobs WHERE state = 2 AND function = ?');
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await begin();
    while ((completed.value(functionName) as number) < count)
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    const { user, system } = process.cpuUsage(cpu);
    return { ms: performance.now() - started, cpuMs: (user + system) / 1000 };
  } finally {
    reader.close();
  }
}

/**
 * Milliseconds from committing `count` no-op background jobs to the last one completed. `retention`
 * as the queue option: a drain longer than the default's 10,000 kept jobs needs more kept, since the
 * completed rows are what is counted.
 */
export async function drainMs(
  path: string,
  count: number,
  retention?: QueueOptions['retention'],
  jobs: DrainedJobs = { functionName: 'noop' },
): Promise<number> {
  const gs = createClient<typeof functions>({
    functions: new URL('./queue-functions.js', import.meta.url),
    threads: 2,
    queue: { path, ...(retention ? { retention } : {}) },
  });
  await gs.start();
  await gs.run('noop');
  const { ms } = await untilCompleted(path, count, jobs.functionName, 5, () => enqueueAll(gs, count, jobs));
  await gs.close();
  return ms;
}

/**
 * The time a runner with 2 threads takes to drain `count` no-op jobs already in the file: they are
 * enqueued with their function paused, the runner is started and warmed up, and the clocks run from
 * the resume to the last one completed. What a claim costs shows here undiluted by the enqueue.
 */
export async function drainQueued(path: string, count: number, jobs: DrainedJobs): Promise<DrainTime> {
  const functionsModule = new URL('./queue-functions.js', import.meta.url);
  const producer = createClient<typeof functions>({
    functions: functionsModule,
    queue: { path, runner: false },
  });
  await producer.pause(jobs.functionName);
  await enqueueAll(producer, count, jobs);
  await producer.close();
  const gs = createClient<typeof functions>({
    functions: functionsModule,
    threads: 2,
    queue: { path, retention: { completedCount: count } },
  });
  await gs.start();
  await gs.run('stamp');
  const time = await untilCompleted(path, count, jobs.functionName, 2, () => gs.resume(jobs.functionName));
  await gs.close();
  return time;
}
