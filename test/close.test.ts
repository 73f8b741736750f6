/**
 * close() called more than once, and by more than one caller at a time, settles for every caller, on
 * every backend: the local pool (threads and inline), a queue file, a client with both (routed), a
 * Gearman cluster, and a worker's stop().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.js';
import { GearmanBackend } from '../src/gearman/client/gearman-backend.js';
import { fillGearmanOptions } from '../src/gearman/gearman-options.js';
import { createClient, createWorker, GearmanAdmin, parseServerAddress } from '../src/index.js';
import { createLocalBackend } from '../src/local/create-local-backend.js';
import { QueueBackend } from '../src/queue/queue-backend.js';
import { fillQueueOptions } from '../src/queue/queue-options.js';
import type { JobSource } from '../src/worker/job-source.js';
import { WorkerEvents } from '../src/worker/worker-events.js';
import { WorkerHost } from '../src/worker/worker-host.js';
import type functions from './fixtures/functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-close-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => stopAllGearmands());
let files = 0;
const nextFile = () => join(directory, `queue-${++files}.db`);

/** Runs a job that takes a while, then closes three times while it runs: every close settles after it. */
async function closesTwice(backend: Backend, runJob: () => Promise<unknown>): Promise<void> {
  const running = runJob();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closes = [backend.close(), backend.close(), backend.close()];
  await expect(running).resolves.toBe(200);
  await expect(Promise.all(closes)).resolves.toHaveLength(3);
  await expect(backend.close()).resolves.toBeUndefined();
}

function sleepJob(backend: Backend): () => Promise<unknown> {
  return () =>
    new Promise((resolve, reject) => {
      backend.submit(
        { functionName: 'sleep', input: { ms: 200 }, payload: 'json', priority: 'normal', unique: undefined },
        {
          created: () => {},
          started: () => {},
          status: () => {},
          data: () => {},
          warning: () => {},
          complete: resolve,
          fail: reject,
        },
      );
    });
}

describe('close() more than once settles every caller', () => {
  for (const threads of [1, 0]) {
    it(`the local pool (${threads ? 'threads' : 'inline'})`, async () => {
      const { backend } = createLocalBackend({ functions: functionsModule, threads });
      await backend.manifest();
      await closesTwice(backend, sleepJob(backend));
    });
  }

  it('a queue file, its job waited on through the file', async () => {
    const pool = createLocalBackend({ functions: functionsModule, threads: 1 });
    const options = fillQueueOptions({ path: nextFile(), foreground: true }, true);
    const backend = new QueueBackend({
      ...options,
      runner: { pool, ownsBackend: true },
      describe: () => pool.backend.manifest(),
    });
    await closesTwice(backend, sleepJob(backend));
  });

  it('a client with a pool and a queue file (routed), and the client itself', async () => {
    const gs = createClient<typeof functions>({ functions: functionsModule, threads: 1, queue: nextFile() });
    await gs.background('noInput');
    const running = gs.run('sleep', { ms: 200 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closes = [gs.close(), gs.close()];
    await expect(running).resolves.toBe(200);
    await expect(Promise.all(closes)).resolves.toHaveLength(2);
  });

  it.runIf(gearmandInstalled)('a Gearman client, and a worker stopped twice', async () => {
    const server = await startGearmand();
    const gearman = { servers: [server.address] };
    const worker = createWorker({ functions: functionsModule, gearman, threads: 1 });
    await worker.start();
    const backend = new GearmanBackend(fillGearmanOptions(gearman), undefined);
    await closesTwice(backend, sleepJob(backend));
    await expect(Promise.all([worker.stop(1000), worker.stop(1000)])).resolves.toHaveLength(2);
  });
});

describe('a Gearman client closed while it connects', () => {
  it.runIf(gearmandInstalled)('fails what waited, and leaves no connection open on the server', async () => {
    const server = await startGearmand();
    const admin = new GearmanAdmin(parseServerAddress(server.address), {
      connectTimeoutMs: 2000,
      keepAliveMs: 0,
      tls: undefined,
      requestTimeoutMs: 2000,
    });
    const client = createClient({ gearman: { servers: [server.address] } });
    const job = client.background('nobody_serves_this', 1);
    await new Promise((resolve) => setImmediate(resolve));
    await client.close();
    await expect(job).rejects.toThrow();
    // The socket the client was opening: closed once it opened, not left for the process's life. Each
    // admin command comes on a connection of its own, the one gearmand then lists (it may still list one
    // closed a moment ago, of the helper that waited for it to start: hence the poll).
    await expect.poll(async () => (await admin.workers()).length, { timeout: 5000 }).toBe(1);
  });
});

describe('a worker host stopped while its source still loads', () => {
  it('never starts that source, and closes it', async () => {
    const calls: string[] = [];
    const record = (call: string) => () => {
      calls.push(call);
    };
    // A JobSource that records what is asked of it: the host's order of calls is what is tested.
    const source: JobSource<unknown> = {
      description: 'a recording source',
      keepsLimits: false,
      start: async () => record('start')(),
      close: async () => record('close')(),
      stopTaking: record('stopTaking'),
      roomChanged: () => {},
      started: record('started'),
      status: record('status'),
      data: record('data'),
      warning: record('warning'),
      checkpoint: record('checkpoint'),
      completed: record('completed'),
      failed: record('failed'),
      innocentFailure: () => 'fail',
      abandon: record('abandon'),
    };
    let release: () => void = () => {};
    const loading = new Promise<void>((resolve) => {
      release = resolve;
    });
    const pool = createLocalBackend({ functions: functionsModule, threads: 1 });
    const host = new WorkerHost(
      pool,
      async () => {
        await loading;
        return source;
      },
      new WorkerEvents(),
      true,
    );
    const starting = host.start();
    await host.stop(0);
    release();
    await starting.catch(() => undefined);
    expect(calls).toEqual(['close']);
  });
});
