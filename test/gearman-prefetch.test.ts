/**
 * How many jobs a gearshift worker takes from gearmand at once: for short jobs it holds some beyond its
 * free slots (prefetchMs), so that a slot never waits a round trip for its next job; for jobs longer
 * than prefetchMs, and with prefetchMs 0, it takes only what its slots can run, and leaves the rest
 * for other workers. Real gearmand, a worker in this process (so that its `running` can be sampled).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  createClient,
  createWorker,
  InvalidOptionError,
  type Worker,
  type WorkerOptions,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);

const clients: Client<typeof functions>[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllGearmands();
});

async function setUp(workerCount: number, options: Partial<WorkerOptions> = {}) {
  const server = await startGearmand();
  const gearman = { servers: [server.address] };
  const started = Array.from({ length: workerCount }, () =>
    createWorker({ functions: functionsModule, gearman, threads: 1, ...options }),
  );
  workers.push(...started);
  await Promise.all(started.map((worker) => worker.start()));
  const client = createClient<typeof functions>({ functions: functionsModule, gearman });
  clients.push(client);
  return { client, workers: started };
}

/** Runs `work` while sampling each worker's `running` at every turn of the event loop; the highest seen. */
async function highestRunning(sampled: Worker[], work: () => PromiseLike<unknown>): Promise<number[]> {
  const highest = sampled.map(() => 0);
  let sampling = true;
  const sample = () => {
    sampled.forEach((worker, index) => {
      highest[index] = Math.max(highest[index] as number, worker.running);
    });
    if (sampling) setImmediate(sample);
  };
  sample();
  try {
    await work();
  } finally {
    sampling = false;
  }
  return highest;
}

describe.skipIf(!gearmandInstalled)('how much a worker takes from gearmand', () => {
  it('holds short jobs beyond its one slot, and every job still gets its own answer', async () => {
    const { client, workers } = await setUp(1);
    const [highest] = await highestRunning(workers, async () => {
      const results = await client.runAll(Array.from({ length: 3000 }, (_, n) => client.task('echo', n)));
      expect(results.map((result) => (result.ok ? result.result : result.error))).toEqual(
        Array.from({ length: 3000 }, (_, n) => n),
      );
    });
    expect(highest).toBeGreaterThan(1);
  });

  it('with prefetchMs 0, takes only what its slot can run', async () => {
    const { client, workers } = await setUp(1, { prefetchMs: 0 });
    const [highest] = await highestRunning(workers, async () => {
      const results = await client.runAll(Array.from({ length: 1000 }, (_, n) => client.task('echo', n)));
      expect(results.every((result, n) => result.ok && result.result === n)).toBe(true);
    });
    expect(highest).toBe(1);
  });

  it('holds no jobs once it has measured jobs longer than prefetchMs', async () => {
    // One job at a time on its thread, so that what it takes beyond that is what it holds (by default
    // a thread whose jobs wait would take all eight at once: test/default-concurrency.test.ts).
    const { client, workers } = await setUp(1, { concurrency: 1 });
    // Tiny jobs first, so that the worker has measured short jobs and holds some; then one round of
    // 20 ms jobs (it may hold some of those), which the moving average of run times takes in at once.
    await client.runAll(Array.from({ length: 500 }, (_, n) => client.task('echo', n)));
    await client.runAll(Array.from({ length: 4 }, () => client.task('sleep', { ms: 20 })));
    const highest = await highestRunning(workers, () =>
      client.runAll(Array.from({ length: 8 }, () => client.task('sleep', { ms: 20 }))),
    );
    expect(highest).toEqual([1]);
  });

  it('refuses a prefetchMs that is not a number of milliseconds, naming it', () => {
    expect(() =>
      createWorker({ functions: functionsModule, gearman: { servers: ['127.0.0.1:1'] }, prefetchMs: -1 }),
    ).toThrow(InvalidOptionError);
    expect(() =>
      createWorker({ functions: functionsModule, gearman: { servers: ['127.0.0.1:1'] }, prefetchMs: -1 }),
    ).toThrow(/prefetchMs/);
  });
});
