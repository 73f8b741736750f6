/**
 * `job.checkpoint()` and `job.resumeFrom`: what each backend keeps of where a job got to, and which next
 * attempt sees it. A queue file keeps it with the job (every retry sees it, fenced by the lease); a
 * Gearman worker keeps it in memory for a job it runs again after a thread crash (gearmand keeps
 * nothing: another worker starts afresh); the local pool keeps none (nothing there retries).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, createWorker, type Worker } from '../src/index.js';
import type functions from './fixtures/checkpoint-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import {
  startRunner,
  startWorkProcess,
  stderrOf,
  stopAllRunners,
  stopRunner,
} from './helpers/runner-process.js';

const module = new URL('./fixtures/checkpoint-functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-checkpoints-'));
const clients: Client<typeof functions>[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllRunners();
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function track<T extends Client<typeof functions>>(client: T): T {
  clients.push(client);
  return client;
}

/** Polls `check` until it returns a value, for at most `ms`. */
async function until<T>(check: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let files = 0;
function scratch(name: string): string {
  return join(directory, `${name}-${++files}`);
}

describe('checkpoints on a queue file', () => {
  it('the attempt after a failure resumes from the last checkpoint, which status shows', async () => {
    const client = track(
      createClient<typeof functions>({
        functions: module,
        threads: 1,
        queue: { path: scratch('retry.db'), backoff: 10 },
      }),
    );
    const handle = await client.background('resumable', { marker: scratch('marker') });
    const done = await until(async () => {
      const status = await client.status(handle);
      return status.state === 'completed' ? status : undefined;
    });
    expect(done.attempts).toBe(2);
    expect(done.result).toEqual({ resumeFrom: { at: 1 } });
    expect(done.checkpoint).toEqual({ at: 2 });
  });

  it('a runner that is running takes back the job of a runner of its host killed mid-job, and resumes it', async () => {
    const queue = scratch('sweep.db');
    const started = scratch('started');
    const release = scratch('release');
    const client = track(createClient<typeof functions>({ queue: { path: queue } }));
    const first = await startRunner(module.pathname, queue, ['--threads', '1']);
    const handle = await client.background('checkpointThenWait', { started, release });
    await until(() => (existsSync(started) ? true : undefined));
    const second = await startRunner(module.pathname, queue, ['--threads', '1']);
    await stopRunner(first, 'SIGKILL');
    const killedAt = Date.now();
    await until(() => (readFileSync(started, 'utf8').split('\n').length > 2 ? true : undefined));
    const takenBackMs = Date.now() - killedAt;
    console.log(`checkpoints: a running runner had the job running again ${takenBackMs} ms after the kill`);
    // The sweep looks every second, the first retry waits at most a second: nowhere near the 30 s lease.
    expect(takenBackMs).toBeLessThan(5000);
    expect(stderrOf(second)).toMatch(
      /runner \S+ \(pid \d+ on \S+\) is gone: 1 job it held went back to the queue/,
    );
    writeFileSync(release, '');
    const done = await until(async () => {
      const status = await client.status(handle);
      return status.state === 'completed' ? status : undefined;
    });
    expect(done.result).toMatchObject({ resumeFrom: { step: 'saved' }, pid: second.pid });
    expect(done.lastError?.message).toMatch(/its runner \(pid \d+ on .*\) died/);
  });
});

describe('checkpoints on the local pool', () => {
  it('are kept by nobody: a job sees no resumeFrom, and a checkpoint JSON cannot carry fails the job', async () => {
    const client = track(createClient<typeof functions>({ functions: module, threads: 1, queue: false }));
    expect(await client.run('resumeFrom')).toEqual({ resumeFrom: null });
    const error = await client.run('badCheckpoint').catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'ERR_JOB_FAILED' });
    expect((error as Error).cause).toMatchObject({ name: 'PayloadError', code: 'ERR_PAYLOAD' });
    expect(((error as Error).cause as Error).message).toMatch(/badCheckpoint: checkpoint\.send .*function/);
  });
});

describe.skipIf(!gearmandInstalled)('checkpoints on a Gearman worker', () => {
  it('a job run again after another job took its thread down resumes from its checkpoint', async () => {
    const gearmand = await startGearmand();
    const worker = createWorker({
      functions: module,
      gearman: { servers: gearmand.address },
      threads: 1,
      concurrency: 2,
    });
    workers.push(worker);
    await worker.start();
    const client = track(createClient<typeof functions>({ gearman: { servers: gearmand.address } }));
    const started = scratch('started');
    const release = scratch('release');
    const waiting = client.run('checkpointThenWait', { started, release });
    await until(() => (existsSync(started) ? true : undefined));
    await client.run('exitThread').catch(() => {});
    // Run again on the new thread: it says so by starting a second time.
    await until(() => (readFileSync(started, 'utf8').split('\n').length > 2 ? true : undefined));
    writeFileSync(release, '');
    expect(await waiting).toEqual({ resumeFrom: { step: 'saved' }, pid: process.pid });
  });

  it('a job gearmand gives to another worker after its worker died starts afresh', async () => {
    const gearmand = await startGearmand();
    const first = await startWorkProcess(module.pathname, ['--gearman', gearmand.address, '--threads', '1']);
    const client = track(createClient<typeof functions>({ gearman: { servers: gearmand.address } }));
    const started = scratch('started');
    const release = scratch('release');
    const waiting = client.run('checkpointThenWait', { started, release });
    await until(() => (existsSync(started) ? true : undefined));
    const second = await startWorkProcess(module.pathname, ['--gearman', gearmand.address, '--threads', '1']);
    await stopRunner(first, 'SIGKILL');
    writeFileSync(release, '');
    expect(await waiting).toEqual({ resumeFrom: null, pid: second.pid });
  });
});
