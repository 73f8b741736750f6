/**
 * Flows on a queue file: children that run as background jobs, and a continuation released in the
 * transaction that ends the last of them, which sees how each ended. With real runner processes killed
 * with SIGKILL while the children run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient, InvalidOptionError, UnsupportedError } from '../src/index.js';
import type flowFunctions from './fixtures/flow-functions.js';
import { startRunner, stopAllRunners, stopRunner } from './helpers/runner-process.js';
import { jobCounts, openDatabase } from './helpers/sqlite.js';

const module = new URL('./fixtures/flow-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-flows-'));
afterEach(stopAllRunners);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const lines = (log: string, kind: string) =>
  (existsSync(log) ? readFileSync(log, 'utf8') : '')
    .split('\n')
    .filter((line) => line.startsWith(`${kind} `));

function childrenLeft(queue: string): number {
  const db = openDatabase(queue);
  try {
    return db
      .prepare('SELECT count(*) FROM jobs WHERE parent_id IS NOT NULL AND state < 2')
      .value() as number;
  } finally {
    db.close();
  }
}

function producer(queue: string) {
  return createClient<typeof flowFunctions>({ queue: { path: queue, runner: false } });
}

describe('flows on a queue file', () => {
  it('20 children through 5 SIGKILLs of their runners: the continuation runs once, with every outcome', async () => {
    const queue = join(directory, 'kills.db');
    const log = join(directory, 'kills.log');
    const gs = producer(queue);
    const flow = await gs.flow({
      children: Array.from({ length: 20 }, (_, n) =>
        gs.backgroundJob('part', { log, n, ms: 800, fail: n === 7 }, { attempts: n === 7 ? 1 : 10 }),
      ),
      continuation: gs.backgroundJob('total', { log }),
    });
    expect(flow.children).toHaveLength(20);
    const runnerArgs = ['--threads', '2', '--concurrency', '1'];
    let kills = 0;
    while (kills < 5) {
      const runner = await startRunner(module, queue, runnerArgs);
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500));
      // Killed only while children remain: then the continuation has not been released.
      if (childrenLeft(queue) === 0) break;
      await stopRunner(runner, 'SIGKILL');
      kills++;
    }
    expect(kills).toBe(5);
    await startRunner(module, queue, runnerArgs);
    await expect.poll(() => lines(log, 'total').length, { timeout: 60_000, interval: 100 }).toBe(1);
    // Some time for a second run of it to show, were there one.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const totals = lines(log, 'total');
    expect(totals).toHaveLength(1);
    const [, count, sum, failed] = (totals[0] as string).split(' ');
    expect(count).toBe('20');
    // Every child but the failed one (n = 7) gave n * 10.
    expect(Number(sum)).toBe(
      Array.from({ length: 20 }, (_, n) => (n === 7 ? 0 : n * 10)).reduce((a, b) => a + b),
    );
    // Its one attempt failed, or a kill cut it short: dead either way, with the reason.
    expect(failed).toMatch(/^dead:(ERR_JOB_FAILED|ERR_WORKER_CRASHED)$/);
    const status = await gs.status(flow.handle);
    expect(status.state).toBe('completed');
    expect(status.result).toBe(Number(sum));
    await gs.close();
  });

  it('a flow without children runs its continuation at once, with none', async () => {
    const queue = join(directory, 'empty.db');
    const log = join(directory, 'empty.log');
    const gs = producer(queue);
    await gs.flow({ children: [], continuation: gs.backgroundJob('total', { log }) });
    await startRunner(module, queue);
    await expect
      .poll(() => lines(log, 'total'), { timeout: 30_000 })
      .toEqual([expect.stringMatching(/^total 0 0 - \d+$/)]);
    await gs.close();
  });

  it("a cancelled child ends as cancelled in the continuation's outcomes", async () => {
    const queue = join(directory, 'cancel.db');
    const log = join(directory, 'cancel.log');
    const gs = producer(queue);
    const flow = await gs.flow({
      children: [
        gs.backgroundJob('part', { log, n: 1, ms: 10 }),
        gs.backgroundJob('part', { log, n: 2, ms: 10 }),
      ],
      continuation: gs.backgroundJob('total', { log }),
    });
    expect(await gs.cancel(flow.children[1] as string)).toBe(1);
    await startRunner(module, queue);
    await expect
      .poll(() => lines(log, 'total'), { timeout: 30_000 })
      .toEqual([expect.stringMatching(/^total 2 10 cancelled:\S+ \d+$/)]);
    await gs.close();
  });

  it("refuses a child's unique, and a client without a queue file", async () => {
    const gs = producer(join(directory, 'refuse.db'));
    await expect(
      gs.flow({
        children: [gs.backgroundJob('part', { log: '', n: 1, ms: 1 }, { unique: 'u' })],
        continuation: gs.backgroundJob('total', { log: '' }),
      }),
    ).rejects.toThrow(InvalidOptionError);
    await expect(
      gs.flow({
        children: [gs.backgroundJob('part', { log: '', n: 1, ms: 1 }, { unique: 'u' })],
        continuation: gs.backgroundJob('total', { log: '' }),
      }),
    ).rejects.toThrow(/children\[0\]\.options\.unique/);
    await gs.close();
    const pool = createClient<typeof flowFunctions>({ functions: new URL(`file://${module}`), queue: false });
    await expect(
      pool.flow({ children: [], continuation: pool.backgroundJob('total', { log: '' }) }),
    ).rejects.toThrow(UnsupportedError);
    await pool.close();
  });

  it('a retried continuation that was cancelled while it waited waits again for its children', async () => {
    const queue = join(directory, 'retry.db');
    const log = join(directory, 'retry.log');
    const gs = producer(queue);
    const flow = await gs.flow({
      children: [
        gs.backgroundJob('part', { log, n: 1, ms: 600 }),
        gs.backgroundJob('part', { log, n: 2, ms: 600 }),
      ],
      continuation: gs.backgroundJob('total', { log }),
    });
    expect(await gs.cancel(flow.handle)).toBe(1);
    expect(await gs.retry(flow.handle)).toBe(1);
    await startRunner(module, queue, ['--threads', '2']);
    await expect
      .poll(() => lines(log, 'total'), { timeout: 30_000 })
      .toEqual([expect.stringMatching(/^total 2 30 - \d+$/)]);
    // It ran after both children, not at once.
    const text = readFileSync(log, 'utf8');
    expect(text.indexOf('total')).toBeGreaterThan(text.lastIndexOf('part '));
    await gs.close();
  });

  it("keeps a waiting continuation's finished children from removal, and names a flow by its continuation's unique", async () => {
    const queue = join(directory, 'keep.db');
    const log = join(directory, 'keep.log');
    const gs = producer(queue);
    const make = () =>
      gs.flow({
        children: [
          gs.backgroundJob('part', { log, n: 1, ms: 1 }),
          gs.backgroundJob('part', { log, n: 2, ms: 1 }),
        ],
        continuation: gs.backgroundJob('total', { log }, { unique: 'night@1' }),
      });
    const flow = await make();
    expect(await make()).toEqual(flow);
    expect(await gs.cancel(flow.children[0] as string)).toBe(1);
    expect(await gs.remove(flow.children[0] as string)).toBe(0);
    await expect(
      gs.flow({ children: [], continuation: gs.backgroundJob('total', { log }, { delay: 1000 }) }),
    ).rejects.toThrow(/continuation\.options.*no runAt or delay/);
    await gs.close();
  });

  it('a child run again after its continuation went on is no longer part of the flow', async () => {
    const queue = join(directory, 'detach.db');
    const log = join(directory, 'detach.log');
    const gs = producer(queue);
    const flow = await gs.flow({
      children: [gs.backgroundJob('part', { log, n: 3, ms: 1, fail: true }, { attempts: 1 })],
      continuation: gs.backgroundJob('total', { log }),
    });
    await startRunner(module, queue);
    await expect.poll(() => lines(log, 'total').length, { timeout: 30_000 }).toBe(1);
    await expect
      .poll(async () => (await gs.status(flow.handle)).state, { timeout: 10_000 })
      .toBe('completed');
    expect(await gs.retry(flow.children[0] as string)).toBe(1);
    expect(await gs.retry(flow.handle)).toBe(0); // completed: nothing to retry
    const db = openDatabase(queue);
    try {
      expect(db.prepare('SELECT count(*) FROM jobs WHERE parent_id IS NOT NULL').value()).toBe(0);
    } finally {
      db.close();
    }
    await gs.close();
  });

  it('keeps a flow whole or not at all: a child that fails to insert leaves no continuation waiting', async () => {
    const queue = join(directory, 'whole.db');
    const log = join(directory, 'whole.log');
    const gs = producer(queue);
    await gs.background('part', { log, n: 0, ms: 1 }); // the file exists, with one job
    const db = openDatabase(queue);
    // A failure no client check can foresee (a full disk, say), injected where the second child goes in.
    db.exec(
      `CREATE TRIGGER refuse_child BEFORE INSERT ON jobs WHEN NEW.parent_id IS NOT NULL AND NEW.input LIKE '%"n":2%'
       BEGIN SELECT RAISE(ABORT, 'the disk is full'); END`,
    );
    db.close();
    await expect(
      gs.flow({
        children: [1, 2, 3].map((n) => gs.backgroundJob('part', { log, n, ms: 1 })),
        continuation: gs.backgroundJob('total', { log }),
      }),
    ).rejects.toThrow(/the disk is full/);
    const after = openDatabase(queue);
    try {
      expect(after.prepare('SELECT count(*) FROM jobs').value()).toBe(1);
    } finally {
      after.close();
    }
    const { kept, counted } = jobCounts(queue);
    expect(kept).toEqual(counted);
    await gs.close();
  });
});
