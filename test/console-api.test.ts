/**
 * The console's JSON API (docs/console.md), endpoint by endpoint, over a real queue file with a runner
 * in another process: what the page reads, what its actions change in the file, and who may do what
 * (a token, the same origin, read-only). Mounted under a path in a node:http server of the test's own,
 * as an app would mount it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard } from '../src/console/serve.js';
import {
  type Client,
  createClient,
  createDashboard,
  type Dashboard,
  InvalidOptionError,
} from '../src/index.js';
import type functions from './fixtures/control-functions.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';

const exec = promisify(execFile);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const module = new URL('./fixtures/control-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-console-api-'));
const path = join(directory, 'queue.db');
const log = join(directory, 'ledger');
let client: Client<typeof functions>;
let dashboard: Dashboard;
let server: Server;
let base: string;
const token = 'sesame-open-please';

beforeAll(async () => {
  client = createClient<typeof functions>({ queue: { path } });
  await client.backgroundAll(['a', 'b', 'c'].map((tag) => client.backgroundJob('mark', { log, tag })));
  await client.background('broken', { log, tag: 'x' }, { attempts: 1 });
  await client.schedule(
    'nightly',
    { cron: '0 2 * * *' },
    'mark',
    { log, tag: 'nightly' },
    { tz: 'Europe/Berlin' },
  );
  await startRunner(module, path, ['--threads', '1']);
  await until(() => (readLedger().length >= 4 ? true : undefined));
  dashboard = await createDashboard({ queue: path, basePath: '/admin/jobs' });
  server = createServer((request, response) =>
    dashboard.handle(request, response, () => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('the app itself');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/jobs`;
});
afterEach(async () => {
  await client.resume('mark').catch(() => {});
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dashboard.close();
  await client.close();
  await stopAllRunners();
  rmSync(directory, { recursive: true, force: true });
});

function readLedger(): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

async function until<T>(check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A JSON answer of the API, read field by field in the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: the API's answers are checked by the assertions, not by types
type Answer = any;

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, redirect: 'manual' });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text.startsWith('{') ? JSON.parse(text) : text) as Answer,
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: new URL(url).origin, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

describe('the console API', () => {
  it('GET /api/overview: per function, jobs in each state, totals, workers; the runners; the schedules', async () => {
    const { status, body } = await get(`${base}/api/overview`);
    expect(status).toBe(200);
    expect(body.file).toBe(path);
    expect(body.readOnly).toBe(false);
    const mark = body.functions.find((fn: { functionName: string }) => fn.functionName === 'mark');
    expect(mark).toMatchObject({
      states: { completed: 3 },
      totals: { completed: 3 },
      submitted: 3,
      workers: 1,
      paused: false,
    });
    expect(body.functions.find((fn: { functionName: string }) => fn.functionName === 'broken')).toMatchObject(
      { states: { dead: 1 } },
    );
    expect(body.runners).toEqual([
      expect.objectContaining({ functions: ['mark', 'abortable', 'broken'], running: 0 }),
    ]);
    expect(body.schedules).toEqual([
      expect.objectContaining({
        id: 'nightly',
        functionName: 'mark',
        cron: '0 2 * * *',
        tz: 'Europe/Berlin',
        nextAt: expect.any(Number),
        lastSlot: null,
      }),
    ]);
  });

  it('GET /api/jobs: a page of a state, newest end first, with a cursor to the next; GET /api/jobs/:handle', async () => {
    const first = await get(`${base}/api/jobs?state=completed&limit=2`);
    expect(first.body.jobs).toHaveLength(2);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await get(`${base}/api/jobs?state=completed&limit=2&cursor=${first.body.next}`);
    expect(second.body.jobs).toHaveLength(1);
    expect(second.body.next).toBeUndefined();
    const handles = [...first.body.jobs, ...second.body.jobs].map((job: { handle: string }) => job.handle);
    expect(new Set(handles).size).toBe(3);
    const ends = [...first.body.jobs, ...second.body.jobs].map((job: { finishedAt: string }) =>
      Date.parse(job.finishedAt),
    );
    expect(ends).toEqual([...ends].sort((a, b) => b - a));
    const detail = await get(`${base}/api/jobs/${encodeURIComponent(handles[0] as string)}`);
    expect(detail.body).toMatchObject({
      status: { state: 'completed' },
      inputEncoding: 'json',
      input: { log },
    });
    expect(detail.body.events.map((event: { event: string }) => event.event)).toEqual([
      'created',
      'started (attempt 1)',
      'completed',
    ]);
    expect((await get(`${base}/api/jobs/Q:nope:1`)).status).toBe(404);
    expect((await get(`${base}/api/jobs?state=lost`)).status).toBe(400);
  });

  it('GET /api/search: by handle, and by the unique of a job in flight', async () => {
    await client.pause('mark');
    const handle = await client.background('mark', { log, tag: 'u' }, { unique: 'report:42' });
    expect(
      (await get(`${base}/api/search?q=report:42`)).body.jobs.map((job: { handle: string }) => job.handle),
    ).toEqual([handle]);
    expect((await get(`${base}/api/search?q=${encodeURIComponent(handle)}`)).body.jobs).toHaveLength(1);
    await client.cancel(handle);
  });

  it('GET /api/throughput: the last hour per minute, the jobs that ended in it', async () => {
    const { body } = await get(`${base}/api/throughput`);
    expect(body.points.length).toBeGreaterThanOrEqual(59);
    const sum = (key: string) =>
      body.points.reduce((total: number, point: Record<string, number>) => total + (point[key] ?? 0), 0);
    expect(sum('completed')).toBeGreaterThanOrEqual(3);
    expect(sum('failed')).toBeGreaterThanOrEqual(1);
  });

  it('GET /api/events: pushes an overview when the file changes', async () => {
    const response = await fetch(`${base}/api/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const read = async () => {
      while (!text.includes('event: overview')) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await read();
    text = '';
    await client.pause('mark');
    await client.background('mark', { log, tag: 'pushed' });
    await until(async () => {
      await Promise.race([read(), new Promise((resolve) => setTimeout(resolve, 200))]);
      return text.includes('"queued":1') ? true : undefined;
    });
    await reader.cancel();
  });

  it('POST actions change the file: pause and resume, cancel, retry by function and state, remove, purge', async () => {
    expect((await post(`${base}/api/functions/mark/pause`, {})).body).toEqual({ ok: true });
    expect(await client.paused()).toEqual(['mark']);
    const handle = await client.background('mark', { log, tag: 'to-cancel' });
    expect((await post(`${base}/api/jobs/cancel`, { handles: [handle] })).body).toEqual({ count: 1 });
    expect((await client.status(handle)).state).toBe('cancelled');
    expect((await post(`${base}/api/functions/mark/resume`, {})).body).toEqual({ ok: true });
    expect((await post(`${base}/api/jobs/retry`, { functionName: 'broken', state: 'dead' })).body).toEqual({
      count: 1,
    });
    await until(async () =>
      readLedger().filter((line) => line === 'x failed').length === 2 ? true : undefined,
    );
    expect((await post(`${base}/api/jobs/remove`, { handles: [handle] })).body).toEqual({ count: 1 });
    const before = await get(`${base}/metrics`);
    expect((await post(`${base}/api/purge`, { olderThan: '0s' })).body.count).toBeGreaterThanOrEqual(3);
    // The totals outlive the purge.
    const after = await get(`${base}/metrics`);
    const completed = (text: string) =>
      /gearshift_jobs_completed_total\{function="mark",backend="queue"\} (\d+)/.exec(text)?.[1];
    expect(completed(after.body)).toBe(completed(before.body));
    expect((await post(`${base}/api/jobs/cancel`, { nothing: true })).status).toBe(400);
  });

  it('GET /metrics: jobs by state, workers, totals and wait and run histograms, in Prometheus text', async () => {
    const { status, headers, body } = await get(`${base}/metrics`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toMatch(/\ngearshift_jobs\{function="mark",backend="queue",state="completed"\} \d+\n/);
    expect(body).toMatch(/\ngearshift_workers\{function="mark",backend="queue"\} 1\n/);
    expect(body).toMatch(/\ngearshift_jobs_submitted_total\{function="mark",backend="queue"\} \d+\n/);
    expect(body).toMatch(/\n# TYPE gearshift_job_run_seconds histogram\n/);
  });

  it('serves the page and its assets under the path, with a policy that forbids inline script; passes on other paths', async () => {
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(page.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    expect(page.body).toContain('<script type="module" src="app.js"></script>');
    expect((await get(`${base}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await get(`${base}`)).status).toBe(308);
    expect((await get(`${base}/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    expect((await get(`${base}/app.js%00.html`)).status).toBe(404);
    expect((await get(base.replace('/admin/jobs', '/elsewhere'))).body).toBe('the app itself');
  });

  it('refuses an action from another origin, or not in JSON', async () => {
    expect(
      (await post(`${base}/api/functions/mark/pause`, {}, { origin: 'http://evil.example' })).status,
    ).toBe(403);
    const form = await fetch(`${base}/api/functions/mark/pause`, {
      method: 'POST',
      headers: { origin: new URL(base).origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(403);
    expect(await client.paused()).toEqual([]);
  });
});

describe('a console with a token, or read-only', () => {
  it('with a token: 401 without it; with it as a bearer; ?token= sets a cookie and sends the page on', async () => {
    const served = await serveDashboard({ queue: path, listen: '127.0.0.1:0', authToken: token });
    try {
      expect((await get(`${served.url}api/overview`)).status).toBe(401);
      expect((await get(`${served.url}api/overview`, { authorization: 'Bearer wrong-token!' })).status).toBe(
        401,
      );
      expect((await get(`${served.url}api/overview`, { authorization: `Bearer ${token}` })).status).toBe(200);
      const login = await get(`${served.url}?token=${token}`);
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/');
      const cookie = login.headers.get('set-cookie') as string;
      expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
      expect(
        (await get(`${served.url}api/overview`, { cookie: cookie.split(';')[0] as string })).status,
      ).toBe(200);
      expect((await get(`${served.url}metrics`)).status).toBe(401);
    } finally {
      await served.close();
    }
  });

  it('read-only: shows, and refuses every action', async () => {
    const served = await serveDashboard({ queue: path, listen: '127.0.0.1:0', readOnly: true });
    try {
      expect((await get(`${served.url}api/overview`)).body.readOnly).toBe(true);
      const refused = await post(`${served.url}api/functions/mark/pause`, {});
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatch(/read-only/);
      expect(await client.paused()).toEqual([]);
    } finally {
      await served.close();
    }
  });

  it('will not listen beyond loopback without a token, in the API and the CLI', async () => {
    await expect(serveDashboard({ queue: path, listen: '0.0.0.0:0' })).rejects.toThrow(InvalidOptionError);
    const cliRefusal = await exec(process.execPath, [
      cli,
      'dashboard',
      '--queue',
      path,
      '--listen',
      '0.0.0.0:0',
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(cliRefusal).toMatchObject({ code: 2 });
    expect((cliRefusal as { stderr: string }).stderr).toMatch(
      /^gearshift: Expected `listen` to be a loopback address/,
    );
  });
});
