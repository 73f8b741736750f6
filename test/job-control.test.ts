/**
 * Job control (cancel, retry, remove, purge, pause, resume) through the client's API and the CLI, on
 * each backend that offers it: a queue file (all of it; runners in this process and in others) and a
 * Gearman cluster (cancel by handle, pause and resume of gearshift workers); the local pool refuses it
 * with UnsupportedError. What happened to each job is read from a ledger the jobs write themselves.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  createClient,
  createWorker,
  JobCancelledError,
  openQueue,
  UnsupportedError,
  type Worker,
} from '../src/index.js';
import type functions from './fixtures/control-functions.js';
import { gearshift } from './helpers/cli.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startRunner, startWorkProcess, stopAllRunners, stopRunner } from './helpers/runner-process.js';
import { jobCounts } from './helpers/sqlite.js';

const module = new URL('./fixtures/control-functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-control-'));
const clients: Client<typeof functions>[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllRunners();
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let files = 0;
/** The queue files of the running test, whose counts are checked after it. */
const queueFiles: string[] = [];
const scratch = (name: string) => {
  const path = join(directory, `${name}-${++files}`);
  if (name.endsWith('.db')) queueFiles.push(path);
  return path;
};
const ledger = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];

/** Polls `check` until it returns a value, for at most `ms`. */
async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function queueClient(path: string, runner = true): Client<typeof functions> {
  const client = createClient<typeof functions>(
    runner ? { functions: module, threads: 1, queue: { path, backoff: 10 } } : { queue: { path } },
  );
  clients.push(client);
  return client;
}

describe('job control on a queue file', () => {
  afterEach(() => {
    // Every action reported what it changed: the file's counts per function and state are its rows'.
    for (const path of queueFiles.splice(0).filter((file) => existsSync(file))) {
      const { kept, counted } = jobCounts(path);
      expect(kept, path).toEqual(counted);
    }
  });

  it('cancels a queued job, which never runs, and a running one, whose signal aborts: both end cancelled', async () => {
    const path = scratch('cancel.db');
    const log = scratch('ledger');
    const client = queueClient(path, false);
    const queued = await client.background('mark', { log, tag: 'queued' });
    expect(await client.cancel(queued)).toBe(1);
    expect(await client.status(queued)).toMatchObject({
      state: 'cancelled',
      lastError: { code: 'ERR_JOB_CANCELLED' },
    });
    const running = await client.background(
      'abortable',
      { log, tag: 'running', ms: 20_000 },
      { attempts: 5 },
    );
    // A runner in another process: the cancel reaches it through the file.
    await startRunner(module.pathname, path, ['--threads', '1']);
    await until(() => ledger(log).includes('running started'));
    expect(await client.cancel([running, queued])).toBe(1);
    await until(async () => (await client.status(running)).state === 'cancelled');
    await until(() => ledger(log).includes('running aborted'));
    expect(await client.status(running)).toMatchObject({
      attempts: 1,
      lastError: { code: 'ERR_JOB_CANCELLED' },
    });
    // Not run after all: the queued one never, the running one not again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ledger(log)).toEqual(['running started', 'running aborted']);
  });

  it('a foreground caller of a cancelled job gets JobCancelledError', async () => {
    const path = scratch('foreground.db');
    const log = scratch('ledger');
    const client = createClient<typeof functions>({
      functions: module,
      threads: 1,
      queue: { path, foreground: true },
    });
    clients.push(client);
    const call = client.run('abortable', { log, tag: 'fg', ms: 20_000 });
    await until(() => ledger(log).includes('fg started'));
    const [job] = (await openQueue(path, { create: false })).jobs('running');
    expect(await client.cancel(job?.handle as string)).toBe(1);
    await expect(call).rejects.toThrow(JobCancelledError);
  });

  it('pauses a function: its jobs queue and none is taken, across a runner restart, until resumed', async () => {
    const path = scratch('pause.db');
    const log = scratch('ledger');
    const client = queueClient(path, false);
    await client.pause('mark');
    expect(await client.paused()).toEqual(['mark']);
    const handles = await client.backgroundAll(
      ['a', 'b', 'c'].map((tag) => client.backgroundJob('mark', { log, tag })),
    );
    const first = await startRunner(module.pathname, path, ['--threads', '1']);
    // Another function of the same runner runs meanwhile: only `mark` waits.
    const other = await client.background('abortable', { log, tag: 'other', ms: 1 });
    await until(async () => (await client.status(other)).state === 'completed');
    await stopRunner(first);
    await startRunner(module.pathname, path, ['--threads', '1']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const handle of handles) expect((await client.status(handle)).state).toBe('queued');
    const status = await gearshift('status', '--queue', path);
    expect(status.stdout).toContain('mark\t3\t0\t1\n');
    expect(status.stderr).toContain('mark: paused');
    expect(await gearshift('resume', 'mark', '--queue', path)).toMatchObject({
      code: 0,
      stdout: 'mark: resumed\n',
    });
    await until(async () =>
      (await Promise.all(handles.map((handle) => client.status(handle)))).every(
        (s) => s.state === 'completed',
      ),
    );
    expect(
      ledger(log)
        .filter((line) => line.endsWith(' ran'))
        .sort(),
    ).toEqual(['a ran', 'b ran', 'c ran']);
  });

  it('retries every dead job of a function in one call, removes a finished one, and purges by age', async () => {
    const path = scratch('retry.db');
    const log = scratch('ledger');
    const client = queueClient(path);
    const dead = await client.backgroundAll(
      [1, 2, 3].map((n) => client.backgroundJob('broken', { log, tag: `b${n}` }, { attempts: 1 })),
    );
    const done = await client.background('mark', { log, tag: 'm' });
    await until(async () =>
      (await Promise.all([...dead, done].map((handle) => client.status(handle)))).every((s) =>
        ['dead', 'completed'].includes(s.state as string),
      ),
    );
    expect(await client.retry({ functionName: 'broken', state: 'dead' })).toBe(3);
    await until(async () => ledger(log).filter((line) => line.endsWith('failed')).length === 6);
    await until(async () => (await client.status(dead[2] as string)).state === 'dead');
    expect(await client.remove(done)).toBe(1);
    expect((await client.status(done)).known).toBe(false);
    expect(await client.remove(dead[0] as string)).toBe(1);
    // A purge deletes what finished more than `olderThan` ago: nothing is that old yet, then all is.
    expect(await client.purge({ state: 'dead', olderThan: '1h' })).toBe(0);
    expect(await client.purge({ state: 'dead', olderThan: 0 })).toBe(2);
    const cli = await gearshift('purge', '--older-than', '0s', '--queue', path);
    expect(cli).toMatchObject({ code: 0, stdout: '0 jobs purged\n' });
  });

  it('acts through the CLI on handles, one line each, exit 1 when one was left as it was', async () => {
    const path = scratch('cli.db');
    const log = scratch('ledger');
    const client = queueClient(path, false);
    const handle = await client.background('mark', { log, tag: 'x' });
    const cancelled = await gearshift('cancel', handle, 'Q:00000000:9', '--queue', path);
    expect(cancelled).toMatchObject({
      code: 1,
      stdout: `${handle}: cancelled\nQ:00000000:9: not cancelled (unknown, or already ended)\n`,
    });
    expect(await gearshift('retry', handle, '--queue', path)).toMatchObject({
      code: 0,
      stdout: `${handle}: queued again\n`,
    });
    expect(await gearshift('cancel', '--function', 'mark', '--queue', path)).toMatchObject({
      code: 0,
      stdout: '1 job cancelled\n',
    });
    expect(await gearshift('retry', '--queue', path)).toMatchObject({ code: 2 });
  });

  it('is refused with UnsupportedError by a client with only a local pool, which keeps no jobs', async () => {
    const local = createClient<typeof functions>({ functions: module, threads: 1, queue: false });
    clients.push(local);
    await expect(local.cancel('H:x:1')).rejects.toThrow(UnsupportedError);
    await expect(local.pause('mark')).rejects.toThrow(/this client has only a local pool/);
  });
});

describe.skipIf(!gearmandInstalled)('job control on a Gearman cluster', () => {
  it('cancels a background job still queued at gearmand (it never runs) and one a gearshift worker runs', async () => {
    const gearmand = await startGearmand();
    const log = scratch('ledger');
    const client = createClient<typeof functions>({ gearman: { servers: gearmand.address } });
    clients.push(client);
    const queued = await client.background('mark', { log, tag: 'queued' });
    expect(await client.cancel(queued)).toBe(1);
    const worker = createWorker({
      functions: module,
      gearman: { servers: gearmand.address },
      threads: 1,
      log: false,
    });
    workers.push(worker);
    await worker.start();
    const running = await client.background('abortable', { log, tag: 'running', ms: 20_000 });
    await until(() => ledger(log).includes('running started'));
    expect(await client.cancel(running)).toBe(1);
    await until(() => ledger(log).includes('running aborted'));
    expect(ledger(log)).toEqual(['running started', 'running aborted']);
    // The worker's WORK_FAIL reaches gearmand a moment after the handler noted its abort.
    await until(async () => !(await client.status(running)).known);
    expect(await client.cancel(running)).toBe(0);
  });

  it('pauses a function on the gearshift workers connected now, and resumes it', async () => {
    const gearmand = await startGearmand();
    const log = scratch('ledger');
    await startWorkProcess(module.pathname, ['--gearman', gearmand.address, '--threads', '1']);
    const client = createClient<typeof functions>({ gearman: { servers: gearmand.address } });
    clients.push(client);
    await client.pause('mark');
    // The worker hears of it within a round trip: CANT_DO, then gearmand assigns it no mark job.
    await until(async () =>
      (await gearshift('status', '--gearman', gearmand.address)).stdout.includes('mark\t0\t0\t0'),
    );
    await client.backgroundAll(['a', 'b'].map((tag) => client.backgroundJob('mark', { log, tag })));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ledger(log)).toEqual([]);
    expect(await gearshift('resume', 'mark', '--gearman', gearmand.address)).toMatchObject({ code: 0 });
    await until(() => ledger(log).length === 2);
    await expect(client.retry('H:x:1')).rejects.toThrow(/gearmand forgets a job when it ends/);
  });
});
