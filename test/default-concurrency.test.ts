/**
 * Concurrency that fits the work, with no option set: a thread takes more jobs while the jobs it runs
 * wait (its event loop idle), so ten jobs that each wait run at once on two threads; jobs that compute
 * run one per thread. An explicit `concurrency` keeps its meaning, `maxConcurrency` caps the default,
 * and jobs that share a thread share its crash and its termination. (How fast: `npm run bench:pool`.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  createClient,
  JobTimeoutError,
  type LocalClientOptions,
  WorkerCrashedError,
} from '../src/index.js';
import type concurrencyFunctions from './fixtures/concurrency-functions.js';
import type { Span } from './fixtures/concurrency-functions.js';
import type loadMarker from './fixtures/load-marker.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startRunner, startWorkProcess, stopAllRunners } from './helpers/runner-process.js';
import { mostAtOnce, mostAtOnceOnAThread } from './helpers/spans.js';

const functions = new URL('./fixtures/concurrency-functions.js', import.meta.url);
const clients: Client<typeof concurrencyFunctions>[] = [];
/** Destroys the clients this file opened. */
async function destroyClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
}
afterEach(destroyClients);

/**
 * Closes this file's clients and stops its runner processes: before the directory of their queue file
 * goes, since both still write to it (a directory removed under a writer fails with ENOTEMPTY).
 */
async function releaseQueueFile(): Promise<void> {
  await destroyClients();
  await stopAllRunners();
}

function openClient(
  options: LocalClientOptions<typeof concurrencyFunctions> = {},
): Client<typeof concurrencyFunctions> {
  const client = createClient<typeof concurrencyFunctions>({
    functions,
    threads: 2,
    queue: false,
    ...options,
  });
  clients.push(client);
  return client;
}

async function spans(
  client: Client<typeof concurrencyFunctions>,
  tasks: ReturnType<Client<typeof concurrencyFunctions>['task']>[],
): Promise<Span[]> {
  const results = await client.runAll(tasks);
  return results.map((result) => {
    if (!result.ok) throw result.error;
    return result.result as Span;
  });
}

describe('with no concurrency option', () => {
  it('runs ten jobs that each wait at the same time, on two threads', async () => {
    const client = openClient();
    const waited = await spans(
      client,
      Array.from({ length: 10 }, () => client.task('wait', { ms: 300 })),
    );
    expect(mostAtOnce(waited)).toBe(10);
    expect(new Set(waited.map((span) => span.thread)).size).toBe(2);
  });

  it('does so on a fresh client too, before any job has been measured', async () => {
    const client = openClient({ threads: 1 });
    const waited = await spans(
      client,
      Array.from({ length: 10 }, () => client.task('wait', { ms: 300 })),
    );
    expect(mostAtOnce(waited)).toBe(10);
  });

  it('runs jobs that compute one at a time on each thread, spread over both', async () => {
    const client = openClient();
    const computed = await spans(
      client,
      Array.from({ length: 8 }, () => client.task('spin', { ms: 40 })),
    );
    expect(mostAtOnceOnAThread(computed)).toBe(1);
    expect(new Set(computed.map((span) => span.thread)).size).toBe(2);
  });

  it('gives a thread no second job while its job computes in slices between awaits', async () => {
    const client = openClient();
    const computed = await spans(
      client,
      Array.from({ length: 6 }, () => client.task('spinInSlices', { ms: 60, sliceMs: 2 })),
    );
    expect(mostAtOnceOnAThread(computed)).toBe(1);
  });

  it('runs a mix of both to the end, the waiting jobs together and the computing ones spread', async () => {
    const client = openClient();
    const tasks = [
      ...Array.from({ length: 10 }, () => client.task('wait', { ms: 300 })),
      ...Array.from({ length: 10 }, () => client.task('spin', { ms: 30 })),
    ];
    const mixed = await spans(client, tasks);
    expect(mostAtOnce(mixed.slice(0, 10))).toBe(10);
    expect(mostAtOnce(mixed.slice(10))).toBeLessThanOrEqual(2);
    expect(new Set(mixed.slice(10).map((span) => span.thread)).size).toBe(2);
  });

  it('runs ten waiting jobs at once inline too (threads: 0)', async () => {
    const client = openClient({ threads: 0 });
    const waited = await spans(
      client,
      Array.from({ length: 10 }, () => client.task('wait', { ms: 300 })),
    );
    expect(mostAtOnce(waited)).toBe(10);
  });
});

describe('with a concurrency option', () => {
  it('concurrency: N runs at most N jobs at once on a thread, however long they wait', async () => {
    const client = openClient({ threads: 1, concurrency: 2 });
    const waited = await spans(
      client,
      Array.from({ length: 6 }, () => client.task('wait', { ms: 100 })),
    );
    expect(mostAtOnce(waited)).toBe(2);
  });

  it('maxConcurrency caps how many waiting jobs a thread takes by default', async () => {
    const client = openClient({ threads: 1, maxConcurrency: 3 });
    const waited = await spans(
      client,
      Array.from({ length: 9 }, () => client.task('wait', { ms: 150 })),
    );
    expect(mostAtOnce(waited)).toBe(3);
  });

  it("refuses maxConcurrency beside a fixed concurrency, and a concurrency that is neither a count nor 'auto'", () => {
    expect(() => openClient({ concurrency: 2, maxConcurrency: 4 })).toThrow(
      /`maxConcurrency` to be left out when `concurrency` is a number/,
    );
    expect(() => openClient({ concurrency: 'many' as 'auto' })).toThrow(
      /`concurrency` to be an integer from 1 and up, or 'auto', got `"many"`/,
    );
    expect(() => openClient({ maxConcurrency: 0 })).toThrow(
      /`maxConcurrency` to be an integer from 1 and up/,
    );
  });
});

describe('jobs that share a thread', () => {
  /** Starts `count` jobs that wait `ms`; resolves, with their calls, once every one of them runs. */
  async function waitingTogether(client: ReturnType<typeof openClient>, count: number, ms: number) {
    let running = 0;
    const calls = Array.from({ length: count }, () =>
      client.run('wait', { ms }, { on: { status: () => running++ } }).catch((error: unknown) => error),
    );
    await expect.poll(() => running, { timeout: 10_000, interval: 5 }).toBe(count);
    return calls;
  }

  async function crashBeside(killer: 'exitNow' | 'exitSoon') {
    const client = openClient({ threads: 1 });
    // Once the four wait together on the one thread, a fifth job kills it.
    const waiting = await waitingTogether(client, 4, 2_000);
    const killed = (await client
      .run(killer, { ms: 10 })
      .catch((error: unknown) => error)) as WorkerCrashedError;
    expect(killed).toBeInstanceOf(WorkerCrashedError);
    expect(killed.culprit).toBeUndefined();
    const others = (await Promise.all(waiting)) as WorkerCrashedError[];
    for (const error of others) {
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error.message).toMatch(/its thread exited with code 9/);
    }
    // The thread is replaced, and takes jobs again.
    expect((await client.run('wait', { ms: 1 })).thread).toBeGreaterThan(0);
    return { culprit: killed.handle, others };
  }

  it('share its crash: every job on it fails with WorkerCrashedError, told which job took the thread down', async () => {
    const { culprit, others } = await crashBeside('exitNow');
    for (const error of others) {
      expect(error.culprit).toBe(culprit);
      expect(error.message).toMatch(/job \S+ \(exitNow\) took down the thread they shared/);
    }
  });

  const asyncContext = Number(process.versions.node.split('.')[0]) >= 24;
  it(`share its crash after an await: the job that did it is ${asyncContext ? 'known (Node 24 carries async context)' : 'unknown on Node 20 and 22'}`, async () => {
    const { culprit, others } = await crashBeside('exitSoon');
    for (const error of others) expect(error.culprit).toBe(asyncContext ? culprit : undefined);
  });

  it("share its termination: a job that ignores its abort past abortGrace takes the others' thread down too", async () => {
    const client = openClient({ threads: 1, abortGrace: 100 });
    const waiting = await waitingTogether(client, 3, 3_000);
    const stubborn = await client
      .run('ignoreAbort', { ms: 1_500 }, { timeout: 50 })
      .catch((error: unknown) => error);
    expect(stubborn).toBeInstanceOf(JobTimeoutError);
    for (const error of await Promise.all(waiting)) {
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect((error as Error).message).toMatch(
        /its thread was terminated because job \S+ \(ignoreAbort\) ignored its abort for 100 ms/,
      );
    }
  });
});

describe('between jobs', () => {
  it("a thread's event loop keeps turning: what a finished job left behind (a socket's close) completes", async () => {
    let open = 0;
    const server = createServer((socket) => {
      open++;
      socket.on('close', () => open--);
      socket.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = openClient({ threads: 1 });
      const { port } = server.address() as AddressInfo;
      expect(await client.run('greeting', { port })).toBe('hello');
      // The thread has nothing to do now; the socket must close all the same.
      await expect.poll(() => open, { timeout: 5_000 }).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('start()', () => {
  it('starts every thread and loads the functions module in each, before any job', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gearshift-start-'));
    const marker = join(directory, 'loads.txt');
    process.env.LOAD_MARKER = marker;
    try {
      const client = createClient<typeof loadMarker>({
        functions: new URL('./fixtures/load-marker.js', import.meta.url),
        threads: 3,
        queue: false,
      });
      clients.push(client as unknown as Client<typeof concurrencyFunctions>);
      await client.start();
      const loaded = readFileSync(marker, 'utf8').trim().split('\n');
      expect(new Set(loaded).size).toBe(3);
      // The first job finds its thread among those, with nothing more to load.
      expect(loaded).toContain(String(await client.run('threadId')));
      expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(3);
    } finally {
      delete process.env.LOAD_MARKER;
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('gearshift work with no concurrency option, on one thread', () => {
  const module = new URL('./fixtures/concurrency-functions.ts', import.meta.url).pathname;
  afterEach(async () => {
    await stopAllRunners();
    await stopAllGearmands();
  });

  it('runs ten waiting background jobs of a queue file at once', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gearshift-work-concurrency-'));
    try {
      const path = join(directory, 'queue.db');
      await startRunner(module, path, ['--threads', '1']);
      const client = createClient<typeof concurrencyFunctions>({ queue: path });
      clients.push(client);
      const handles = await client.backgroundAll(
        Array.from({ length: 10 }, () => client.backgroundJob('wait', { ms: 400 })),
      );
      const waited: Span[] = [];
      for (const handle of handles) {
        await expect
          .poll(async () => (await client.status(handle)).state, { timeout: 20_000 })
          .toBe('completed');
        waited.push((await client.status(handle)).result as Span);
      }
      expect(mostAtOnce(waited)).toBe(10);
    } finally {
      await releaseQueueFile();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('gives back the attempt of jobs that another job took down with their thread, and runs them again', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gearshift-work-culprit-'));
    try {
      const path = join(directory, 'queue.db');
      await startRunner(module, path, ['--threads', '1']);
      const client = createClient<typeof concurrencyFunctions>({ queue: path });
      clients.push(client);
      const innocent = await client.backgroundAll(
        Array.from({ length: 4 }, () => client.backgroundJob('wait', { ms: 1_000 }, { attempts: 1 })),
      );
      // Every one of them runs (it said so: its first status) before the killer comes.
      for (const handle of innocent) {
        await expect.poll(async () => (await client.status(handle)).denominator, { timeout: 20_000 }).toBe(1);
      }
      const killer = await client.background('exitNow', { ms: 0 }, { attempts: 1 });
      await expect.poll(async () => (await client.status(killer)).state, { timeout: 20_000 }).toBe('dead');
      for (const handle of innocent) {
        await expect
          .poll(async () => (await client.status(handle)).state, { timeout: 20_000 })
          .toBe('completed');
        expect((await client.status(handle)).attempts).toBe(1);
      }
    } finally {
      await releaseQueueFile();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it.runIf(gearmandInstalled)(
    'runs again the jobs that another job took down with their thread (Gearman)',
    async () => {
      const gearmand = await startGearmand();
      await startWorkProcess(module, ['--gearman', gearmand.address, '--threads', '1']);
      const client = createClient<typeof concurrencyFunctions>({ gearman: { servers: [gearmand.address] } });
      clients.push(client);
      let running = 0;
      const innocent = Array.from({ length: 4 }, () =>
        client.run('wait', { ms: 1_000 }, { on: { status: () => running++ } }),
      );
      await expect.poll(() => running, { timeout: 10_000, interval: 5 }).toBe(4);
      const killedAt = performance.timeOrigin + performance.now();
      const killed = await client.run('exitNow', { ms: 0 }).catch((error: unknown) => error);
      expect(killed).toBeInstanceOf(WorkerCrashedError);
      // Each result is from the run that started after the crash, on the thread that replaced the dead one.
      for (const span of await Promise.all(innocent)) expect(span.start).toBeGreaterThan(killedAt);
    },
  );

  it.runIf(gearmandInstalled)('runs ten waiting jobs from gearmand at once', async () => {
    const gearmand = await startGearmand();
    await startWorkProcess(module, ['--gearman', gearmand.address, '--threads', '1']);
    const client = createClient<typeof concurrencyFunctions>({ gearman: { servers: [gearmand.address] } });
    clients.push(client);
    const waited = await spans(
      client,
      Array.from({ length: 10 }, () => client.task('wait', { ms: 400 })),
    );
    expect(mostAtOnce(waited)).toBe(10);
  });
});
