/**
 * finished(handle): a caller awaits a background job's end, whoever runs it, without polling: woken by
 * the commit that ends the job, in this process or another.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ClientClosedError, createClient, InvalidOptionError, UnsupportedError } from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';

const module = new URL('./fixtures/queue-functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-finished-'));
let files = 0;
const fresh = () => join(directory, `finished-${++files}.db`);
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await stopAllRunners();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function open(path: string, runner = true) {
  const client = createClient<typeof queueFunctions>({
    functions: module,
    threads: 1,
    queue: { path, runner, retention: { failedMs: 60_000 } },
  });
  clients.push(client);
  return client;
}

describe('finished(handle) on a queue file', () => {
  it("resolves with a job's result once this process's runner has run it", async () => {
    const gs = open(fresh());
    const handle = await gs.background('record', { log: join(directory, 'here.log'), tag: 'here', ms: 200 });
    const waited = performance.now();
    const status = await gs.finished(handle);
    expect(status).toMatchObject({ handle, known: true, state: 'completed', result: 'here' });
    expect(performance.now() - waited).toBeGreaterThanOrEqual(150);
    // Ended already: at once, the same.
    await expect(gs.finished(handle)).resolves.toMatchObject({ state: 'completed', result: 'here' });
  });

  it('wakes on the commit of a runner in another process', async () => {
    const path = fresh();
    const producer = open(path, false);
    const handles = await producer.backgroundAll(
      [3, 4, 5].map((n) => producer.backgroundJob('square', { n })),
    );
    const ends = Promise.all(handles.map((handle) => producer.finished(handle)));
    await startRunner(module.pathname, path, ['--threads', '1']);
    const statuses = await ends;
    expect(statuses.map((status) => status.result)).toEqual([9, 16, 25]);
  });

  it('resolves with the last error of a job that failed for good, and known: false for none', async () => {
    const gs = open(fresh());
    const handle = await gs.background('flaky', { marker: join(directory, 'never') }, { attempts: 1 });
    const status = await gs.finished(handle);
    expect(status.state).toBe('dead');
    expect(status.lastError?.message).toContain('no marker');
    const [queueId] = handle.split(':').slice(1);
    await expect(gs.finished(`Q:${queueId}:999999`)).resolves.toMatchObject({ known: false });
  });

  it('waits through a failed attempt that will be retried, to the end', async () => {
    const gs = open(fresh());
    const marker = join(directory, 'retried-marker');
    const handle = await gs.background('flaky', { marker }, { attempts: 2, backoff: 200 });
    const ended = gs.finished(handle);
    await expect
      .poll(async () => (await gs.status(handle)).lastError?.message, { timeout: 10_000 })
      .toContain('no marker');
    writeFileSync(marker, '');
    await expect(ended).resolves.toMatchObject({ state: 'completed', result: 'worked', attempts: 2 });
  });

  it('stops waiting when its signal aborts, and the job goes on', async () => {
    const gs = open(fresh());
    await gs.pause('square');
    const handle = await gs.background('square', { n: 7 });
    await expect(gs.finished(handle, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    await gs.resume('square');
    await expect(gs.finished(handle)).resolves.toMatchObject({ state: 'completed', result: 49 });
  });

  it('fails a caller still waiting when the client closes', async () => {
    const path = fresh();
    const producer = createClient<typeof queueFunctions>({ queue: { path, runner: false } });
    const handle = await producer.background('square', { n: 2 });
    const waiting = producer.finished(handle);
    await producer.close();
    await expect(waiting).rejects.toBeInstanceOf(ClientClosedError);
    // And after: refused at once, rather than waiting on a closed file for ever.
    await expect(producer.finished(handle)).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('refuses a bad handle, and a client without a queue file', async () => {
    const gs = open(fresh());
    await expect(gs.finished('')).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(gs.finished('Q:x:1', { signal: 'soon' as never })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    const pool = createClient<typeof queueFunctions>({ functions: module, threads: 1, queue: false });
    clients.push(pool);
    await expect(pool.finished('L:1')).rejects.toBeInstanceOf(UnsupportedError);
  });
});
