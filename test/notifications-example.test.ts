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
import { type NotificationServer, startNotificationServer } from '../examples/notifications/server.js';
import { startRunner, stopAllRunners, stopRunner } from './helpers/runner-process.js';

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
