/**
 * createWorker: one Worker for a queue file and for job servers, with the same start, stop and events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  createWorker,
  InvalidOptionError,
  type Worker,
  type WorkerEventMap,
} from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const functions = new URL('./fixtures/queue-functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-worker-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllGearmands();
});

function recorded(worker: Worker) {
  const events: { type: keyof WorkerEventMap; event: WorkerEventMap[keyof WorkerEventMap] }[] = [];
  for (const type of ['jobStarted', 'jobEnded', 'connection'] as const) {
    worker.on(type, (event) => events.push({ type, event }));
  }
  return events;
}

describe('createWorker', () => {
  it('runs the jobs of a queue file, and tells of each job it starts and ends', async () => {
    const path = join(directory, 'queue.db');
    const worker = createWorker({ functions, queue: path, threads: 1 });
    workers.push(worker);
    const events = recorded(worker);
    await worker.start();
    expect(worker.functions).toContain('square');
    expect(worker.description).toMatch(/^runs .*square.* from \S+queue\.db$/);
    const gs = createClient<typeof queueFunctions>({ queue: path });
    try {
      const handle = await gs.background('square', { n: 12 });
      await expect.poll(async () => (await gs.status(handle)).state, { timeout: 10_000 }).toBe('completed');
      expect((await gs.status(handle)).result).toBe(144);
      await expect
        .poll(() => events.filter((e) => e.type === 'jobEnded').length, { timeout: 10_000 })
        .toBe(1);
      expect(events.map((e) => e.type)).toEqual(['connection', 'jobStarted', 'jobEnded']);
      expect(events[2]?.event).toMatchObject({ handle, functionName: 'square', outcome: 'completed' });
    } finally {
      await gs.close();
    }
    await worker.stop(1000);
    expect(worker.running).toBe(0);
  });

  it('tells of every job it starts, tiny ones run in batches too, each before its end', async () => {
    const path = join(directory, 'tiny.db');
    const gs = createClient<typeof queueFunctions>({ queue: path });
    const handles: string[] = [];
    try {
      // Queued before the worker starts: the function is soon measured tiny, and its jobs go in batches,
      // where a job's end can overtake the report that it began.
      for (let n = 0; n < 300; n++) handles.push(await gs.background('square', { n }));
    } finally {
      await gs.close();
    }
    const worker = createWorker({ functions, queue: path, threads: 1 });
    workers.push(worker);
    const events = recorded(worker);
    await worker.start();
    await expect
      .poll(() => events.filter((e) => e.type === 'jobEnded').length, { timeout: 20_000 })
      .toBe(300);
    const ofJobs = events.filter((e) => e.type !== 'connection') as {
      type: 'jobStarted' | 'jobEnded';
      event: { handle: string; outcome?: string };
    }[];
    for (const handle of handles) {
      const own = ofJobs.filter((e) => e.event.handle === handle);
      expect(
        own.map((e) => e.type),
        handle,
      ).toEqual(['jobStarted', 'jobEnded']);
      expect(own[1]?.event.outcome).toBe('completed');
    }
  });

  it.runIf(gearmandInstalled)(
    'runs the jobs of job servers, and tells when a server goes and comes back',
    async () => {
      const server = await startGearmand();
      const worker = createWorker({
        functions,
        gearman: { servers: [server.address], retryMs: 50 },
        threads: 1,
      });
      workers.push(worker);
      const events = recorded(worker);
      await worker.start();
      expect(worker.description).toMatch(new RegExp(`^runs .*square.* for ${server.address} as gearshift-`));
      const gs = createClient<typeof queueFunctions>({ gearman: { servers: [server.address] } });
      try {
        expect(await gs.run('square', { n: 9 })).toBe(81);
        await server.restart();
        await expect
          .poll(
            () =>
              events.filter((e) => e.type === 'connection').map((e) => (e.event as { state: string }).state),
            { timeout: 10_000 },
          )
          .toEqual(['connected', 'disconnected', 'connected']);
        expect(await gs.run('square', { n: 3 })).toBe(9);
      } finally {
        await gs.close();
      }
    },
  );

  it('refuses options that name no source, or both, or a Gearman option for a queue', () => {
    expect(() => createWorker({ functions })).toThrow(InvalidOptionError);
    expect(() => createWorker({ functions })).toThrow(
      /a queue file \(`queue`\) or from job servers \(`gearman`\)/,
    );
    expect(() => createWorker({ functions, queue: 'q.db', gearman: { servers: ['127.0.0.1:1'] } })).toThrow(
      InvalidOptionError,
    );
    expect(() => createWorker({ functions, queue: 'q.db', prefetchMs: 5 })).toThrow(
      /`prefetchMs` to be left out for a queue worker/,
    );
  });
});
