/** The drain measurement of bench:queue: how long a runner with 2 threads takes to run `count` no-op jobs. */
import { createClient, type QueueOptions } from '../src/index.js';
import { openSqlite } from '../src/queue/sqlite/open-sqlite.js';
import type functions from './queue-functions.js';

/** Which no-op function a drain runs, and each job's input. */
export interface DrainedJobs {
  readonly functionName: 'noop' | 'concurrencyLimited' | 'rateLimited' | 'keyLimited';
  readonly input?: (index: number) => { key: number };
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
  const functionsModule = new URL('./queue-functions.js', import.meta.url);
  const gs = createClient<typeof functions>({
    functions: functionsModule,
    threads: 2,
    queue: { path, ...(retention ? { retention } : {}) },
  });
  await gs.start();
  await gs.run('noop');
  // Read with this process's own SQLite driver: two copies of SQLite must not open one file.
  const reader = openSqlite(path);
  const completed = reader.prepare('SELECT count(*) FROM jobs WHERE state = 2');
  const started = performance.now();
  const { functionName, input } = jobs;
  await gs.backgroundAll(
    Array.from({ length: count }, (_, index) =>
      gs.backgroundJob(functionName, (input?.(index) ?? { key: 0 }) as never),
    ),
  );
  while ((completed.value() as number) < count) await new Promise((resolve) => setTimeout(resolve, 5));
  const ms = performance.now() - started;
  reader.close();
  await gs.close();
  return ms;
}

/**
 * Milliseconds a runner with 2 threads takes to drain `count` no-op jobs already in the file: they are
 * enqueued with their function paused, the runner is started and warmed up, and the clock runs from
 * the resume to the last one completed. What a claim costs shows here undiluted by the enqueue.
 */
export async function drainQueuedMs(path: string, count: number, jobs: DrainedJobs): Promise<number> {
  const functionsModule = new URL('./queue-functions.js', import.meta.url);
  const { functionName, input } = jobs;
  const producer = createClient<typeof functions>({
    functions: functionsModule,
    queue: { path, runner: false },
  });
  await producer.pause(functionName);
  await producer.backgroundAll(
    Array.from({ length: count }, (_, index) =>
      producer.backgroundJob(functionName, (input?.(index) ?? { key: 0 }) as never),
    ),
  );
  await producer.close();
  const gs = createClient<typeof functions>({
    functions: functionsModule,
    threads: 2,
    queue: { path, retention: { completedCount: count } },
  });
  await gs.start();
  await gs.run('stamp');
  const reader = openSqlite(path);
  const completed = reader.prepare(`SELECT count(*) FROM jobs WHERE state = 2 AND function = ?`);
  const started = performance.now();
  await gs.resume(functionName);
  while ((completed.value(functionName) as number) < count)
    await new Promise((resolve) => setTimeout(resolve, 2));
  const ms = performance.now() - started;
  reader.close();
  await gs.close();
  return ms;
}
