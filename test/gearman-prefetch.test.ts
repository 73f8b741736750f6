/**
 * How many jobs a gearshift worker takes from gearmand at once: for short jobs it holds some beyond its
 * free slots (prefetchMs), so that a slot never waits a round trip for its next job; for jobs longer
 * than prefetchMs, and with prefetchMs 0, it takes only what its slots can run, and leaves the rest
 * for other workers. Real gearmand, a worker in this process (so that its `running` can be sampled).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fillGearmanOptions } from '../src/gearman/gearman-options.js';
import {
  type Client,
  createClient,
  createWorker,
  GearmanAdmin,
  InvalidOptionError,
  parseServerAddress,
  type Worker,
  type WorkerOptions,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startWorkProcess, stopAllRunners, stopRunner } from './helpers/runner-process.js';

/** The lines of a ledger file (none while it does not exist). */
function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

/** Polls `check` until it is true, for at most 30 s. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('not within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);

const clients: Client<typeof functions>[] = [];
const workers: Worker[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await stopAllRunners();
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

  it('a worker killed while it holds prefetched jobs: gearmand gives them to another worker, none lost', async () => {
    const server = await startGearmand();
    const directory = mkdtempSync(join(tmpdir(), 'gearshift-prefetch-'));
    const ledger = join(directory, 'ledger');
    try {
      const module = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
      const args = [
        '--gearman',
        server.address,
        '--threads',
        '1',
        '--concurrency',
        '1',
        '--prefetch-ms',
        '100',
      ];
      const first = await startWorkProcess(module, args);
      const client = createClient({ gearman: { servers: [server.address] } });
      cleanups.push(() => client.destroy());
      // Short jobs measured first: the worker then holds as many as start within 100 ms.
      const job = (tag: string) => client.backgroundJob('record', { log: ledger, tag, ms: 5 });
      await client.backgroundAll(Array.from({ length: 20 }, (_, n) => job(`warm-${n}`)));
      await until(() => lines(ledger).length >= 20);
      await client.backgroundAll(Array.from({ length: 300 }, (_, n) => job(`job-${n}`)));
      // Held: assigned (running, for gearmand) beyond the one its slot runs.
      const admin = new GearmanAdmin(
        parseServerAddress(server.address),
        fillGearmanOptions({ servers: server.address }),
      );
      let held = 0;
      await until(async () => {
        held = (await admin.status()).find((line) => line.functionName === 'record')?.running ?? 0;
        return held >= 3;
      });
      await stopRunner(first, 'SIGKILL');
      const ranBeforeKill = new Set(lines(ledger).map((line) => line.split(' ')[0]));
      await startWorkProcess(module, args);
      await until(() => new Set(lines(ledger).map((line) => line.split(' ')[0])).size >= 320);
      const tags = lines(ledger).map((line) => line.split(' ')[0] as string);
      expect(new Set(tags).size).toBe(320);
      // Twice at most the jobs the first worker held when it was killed (one may have run, unanswered).
      expect(tags.length - 320).toBeLessThanOrEqual(held);
      console.log(
        `prefetch: ${held} jobs held at the kill, ${320 - ranBeforeKill.size} run by the second worker, ${tags.length - 320} twice`,
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
