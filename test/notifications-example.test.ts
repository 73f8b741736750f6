/**
 * The seed's background scenario over real HTTP: the endpoint queues one job for 2,000 users and
 * answers with its handle; a separate `gearshift work` process sends the notifications to the outbox,
 * reporting progress that the status endpoint and `gearshift status` show.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type notificationFunctions from '../examples/notifications/functions.js';
import { type NotificationServer, startNotificationServer } from '../examples/notifications/server.js';
import { createClient } from '../src/index.js';
import { startRunner, stderrOf, stopAllRunners, stopRunner } from './helpers/runner-process.js';

const exec = promisify(execFile);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const functions = new URL('../examples/notifications/functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-notifications-'));
let server: NotificationServer | undefined;
afterEach(async () => {
  await server?.close();
  await stopAllRunners();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface JobView {
  state: string;
  progress: { sent: number; of: number };
  result?: { sent: number; of: number };
}

describe('the notifications example', () => {
  it('queues 2,000 notifications in one request, then a worker process sends them with progress', async () => {
    const queue = join(directory, 'queue.db');
    const outbox = join(directory, 'outbox.db');
    server = await startNotificationServer({ queue, outbox, runner: false });

    const posted = await fetch(`${server.url}/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: 2000, message: 'hello' }),
    });
    expect(posted.status).toBe(202);
    const { handle, status } = (await posted.json()) as { handle: string; status: string };
    expect(handle).toMatch(/^Q:/);

    // No runner yet: the job waits, and the operator's view says so.
    const waiting = (await (await fetch(`${server.url}${status}`)).json()) as JobView;
    expect(waiting).toMatchObject({ state: 'queued', progress: { sent: 0, of: 0 } });
    const table = await exec(process.execPath, [cli, 'status', '--queue', queue]);
    expect(table.stdout).toBe('FUNCTION\tQUEUED\tRUNNING\tWORKERS\nsendPush\t1\t0\t0\n');

    const worker = await startRunner(functions, queue, ['--threads', '1']);
    const seen: number[] = [];
    let view: JobView = waiting;
    const deadline = Date.now() + 60_000;
    while (view.state !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      view = (await (await fetch(`${server.url}${status}`)).json()) as JobView;
      seen.push(view.progress.sent);
    }
    await stopRunner(worker);

    expect(view).toMatchObject({ state: 'completed', result: { sent: 2000, of: 2000 } });
    expect(seen.some((sent) => sent > 0 && sent < 2000)).toBe(true);
    const db = new Database(outbox, { readonly: true });
    expect(db.prepare('SELECT count(DISTINCT user_id) FROM outbox WHERE job = ?').pluck().get(handle)).toBe(
      2000,
    );
    db.close();
  }, 90_000);

  it('answers a request it cannot take with 400 and queues nothing', async () => {
    const queue = join(directory, 'bad-request.db');
    server = await startNotificationServer({ queue, outbox: join(directory, 'unused.db'), runner: false });
    const response = await fetch(`${server.url}/notifications`, { method: 'POST', body: '{"message": 42}' });
    expect(response.status).toBe(400);
    const table = await exec(process.execPath, [cli, 'status', '--queue', queue]);
    expect(table.stdout).toBe('FUNCTION\tQUEUED\tRUNNING\tWORKERS\n');
  });
});

describe('the notifications example when its runner is killed', () => {
  /** Polls `check` every few milliseconds until it returns a value, for at most `ms`. */
  async function until<T>(check: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('kill -9 part way: a runner of the same host takes the job back at once and resumes from its checkpoint', async () => {
    const queue = join(directory, 'crash.db');
    const outbox = join(directory, 'crash-outbox.db');
    const client = createClient<typeof notificationFunctions>({ queue: { path: queue } });
    try {
      const userIds = Array.from({ length: 2000 }, (_, index) => index + 1);
      // 100 batches of 20, 15 ms apart: about 1.5 s of sending, long enough to be killed part way.
      const handle = await client.background('sendPush', { userIds, message: 'hi', outbox, pauseMs: 15 });
      // The lease is the default, 30 s: the recovery measured below owes nothing to it.
      const first = await startRunner(functions, queue, ['--threads', '1']);
      await until(async () => {
        const { numerator } = await client.status(handle);
        return numerator >= 700 ? numerator : undefined;
      }, 30_000);
      await stopRunner(first, 'SIGKILL');
      const killedAt = Date.now();

      const second = await startRunner(functions, queue, ['--threads', '1']);
      const runningAgainAt = await until(async () => {
        const status = await client.status(handle);
        return status.state === 'running' && status.attempts === 2 ? Date.now() : undefined;
      }, 20_000);
      const final = await until(async () => {
        const status = await client.status(handle);
        return status.state === 'completed' ? status : undefined;
      }, 60_000);
      const recoveryMs = runningAgainAt - killedAt;
      console.log(`notifications, kill -9 at 700+/2000: running again ${recoveryMs} ms after the kill`);
      // Within the sweep (1 s), the backoff of a first retry (at most 1 s) and a start: not the 30 s lease.
      expect(recoveryMs).toBeLessThan(5000);
      expect(stderrOf(second)).toMatch(/is gone: 1 job it held went back to the queue/);

      const result = final.result as { sent: number; of: number; resumedAt: number };
      expect(result.of).toBe(2000);
      expect(result.resumedAt).toBeGreaterThanOrEqual(700);
      expect(result.sent).toBe(2000 - result.resumedAt);
      const db = new Database(outbox, { readonly: true });
      const { users, sends } = db
        .prepare('SELECT count(*) AS users, sum(sends) AS sends FROM outbox WHERE job = ?')
        .get(handle) as { users: number; sends: number };
      db.close();
      // Everyone got theirs; sent twice at most the batch in flight when the runner died.
      expect(users).toBe(2000);
      expect(sends - users).toBeLessThanOrEqual(20);
      // The dead runner is not counted as a worker any more.
      const table = await exec(process.execPath, [cli, 'status', '--queue', queue]);
      expect(table.stdout).toBe('FUNCTION\tQUEUED\tRUNNING\tWORKERS\nsendPush\t0\t0\t1\n');
    } finally {
      await client.close();
    }
  }, 120_000);
});
