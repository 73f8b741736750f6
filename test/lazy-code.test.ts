/**
 * Paying only for what is used, in code: the queue file's code (and SQLite's) and Gearman's load on first
 * use, so that a process that runs jobs on its pool, or makes a client it never uses, compiles neither.
 * The eager part is the pool and the client; it is what every process, and every worker thread whose
 * functions module imports the package, loads (see bench:pool's cold process row). Seen from the
 * package as built (dist/), by a resolve hook that records each module the main thread loads.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, BackgroundRequest } from '../src/backend.js';
import { gearmanAbilities, queueAbilities } from '../src/compose/create-client.js';
import { type BackendAbilities, DeferredBackend } from '../src/compose/deferred-backend.js';
import { GearmanBackend } from '../src/gearman/gearman-code.js';
import { fillGearmanOptions } from '../src/gearman/gearman-options.js';
import { QueueBackend } from '../src/queue/queue-code.js';
import { fillQueueOptions } from '../src/queue/queue-options.js';

const run = promisify(execFile);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-lazy-code-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const fixtures = new URL('./fixtures/lazy-code/', import.meta.url);

/** The modules a process loaded doing `part` (of `app`, a fixture), as URLs. */
async function loads(part: string, app = 'app.mjs'): Promise<string[]> {
  const log = join(directory, `${part}.log`);
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      new URL('record-loads.mjs', fixtures).pathname,
      new URL(app, fixtures).pathname,
      part,
      directory,
    ],
    { env: { ...process.env, GEARSHIFT_LOAD_LOG: log }, timeout: 60_000 },
  );
  expect(stdout).toContain('done');
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

/** The code of the package's files among those loaded. */
const distCode = (loaded: string[]) =>
  loaded.filter((url) => url.includes('/dist/')).map((url) => readFileSync(new URL(url), 'utf8'));
/** Marks of the queue file's code (its schema, or SQLite) and of Gearman's wire protocol. */
const queueMark = 'CREATE TABLE jobs';
const gearmanMark = 'GRAB_JOB_ALL';
const sqlite = (url: string) => url.includes('better-sqlite3') || url === 'node:sqlite';

describe('code loaded on first use', () => {
  it('a client that only runs jobs on its pool loads neither the queue file nor Gearman', async () => {
    const loaded = await loads('pool');
    expect(loaded.some((url) => url.endsWith('/dist/index.js'))).toBe(true);
    const code = distCode(loaded);
    expect(code.filter((text) => text.includes(queueMark) || text.includes(gearmanMark))).toEqual([]);
    expect(loaded.filter(sqlite)).toEqual([]);
  });

  it('loads the queue file code with the first background job', async () => {
    const code = distCode(await loads('background'));
    expect(code.some((text) => text.includes(queueMark))).toBe(true);
    expect(code.filter((text) => text.includes(gearmanMark))).toEqual([]);
  });

  it('a Gearman client made and closed, never used, loads no Gearman code', async () => {
    const code = distCode(await loads('gearman'));
    expect(code.filter((text) => text.includes(queueMark) || text.includes(gearmanMark))).toEqual([]);
  });

  it('a functions module that imports gearshift/functions loads no client, pool or worker code', async () => {
    // What each worker thread loads for such a module, on top of its own entry.
    const loaded = await loads('functions-module', 'functions-module.mjs');
    expect(loaded.some((url) => url.endsWith('/dist/functions.js'))).toBe(true);
    expect(loaded.filter((url) => url.endsWith('/dist/index.js'))).toEqual([]);
    const code = distCode(loaded);
    // As esbuild writes a class: `var Client = class {`.
    expect(code.filter((text) => /\b(Client|ThreadExecutor|WorkerHost) = class\b/.test(text))).toEqual([]);
  });
});

describe('gearshift/functions', () => {
  it('exports the very objects gearshift exports under the same names', async () => {
    const light: Record<string, unknown> = await import('gearshift/functions');
    const full: Record<string, unknown> = await import('gearshift');
    expect(Object.keys(light).length).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(light)) expect(full[name], name).toBe(value);
  });

  it('brings a worker thread no file its own entry has not loaded', () => {
    const dist = new URL('../dist/', import.meta.url);
    const chunksOf = (file: string) =>
      [...readFileSync(new URL(file, dist), 'utf8').matchAll(/(?:from|import) "\.\/([^"]+)"/g)].map(
        ([, chunk]) => chunk,
      );
    const threadFiles = chunksOf('thread-entry.js');
    expect(chunksOf('functions.js').filter((chunk) => !threadFiles.includes(chunk))).toEqual([]);
  });
});

describe('what a client is told a backend offers before it loads', () => {
  const members = Object.keys(queueAbilities) as (keyof BackendAbilities)[];
  const offers = (backend: object) =>
    Object.fromEntries(
      members.map((member) => [member, (backend as Record<string, unknown>)[member] !== undefined]),
    );

  it('is what QueueBackend has', async () => {
    const backend = new QueueBackend({
      ...fillQueueOptions({ path: join(directory, 'abilities.db') }, false),
      runner: undefined,
      describe: undefined,
    });
    expect(offers(backend)).toEqual(queueAbilities);
    await backend.close();
  });

  it('is what GearmanBackend has', async () => {
    const backend = new GearmanBackend(fillGearmanOptions({ servers: ['127.0.0.1:1'] }), undefined);
    expect(offers(backend)).toEqual(gearmanAbilities);
    await backend.close();
  });
});

describe('a deferred backend', () => {
  it('hands calls to the loaded backend in the order they were made, close() last', async () => {
    const calls: string[] = [];
    const call =
      <T>(name: string, value: T) =>
      async () => {
        calls.push(name);
        return value;
      };
    // A Backend that records what reaches it: the order the stand-in keeps is what is tested.
    const backend: Backend = {
      manifest: call('manifest', undefined),
      submit: () => ({ detach: () => {} }),
      status: async (handle) => {
        calls.push('status');
        return { handle, known: false, running: false, numerator: 0, denominator: 0 };
      },
      control: {
        cancel: call('cancel', 0),
        retry: call('retry', 0),
        remove: call('remove', 0),
        purge: call('purge', 0),
        pause: call('pause', undefined),
        resume: call('resume', undefined),
        paused: call('paused', []),
      },
      schedules: {
        upsert: call('upsert', undefined as never),
        remove: call('unschedule', true),
        list: call('list', []),
      },
      flows: { flow: call('flow', { handle: 'h', children: [] }) },
      close: call('close', undefined),
      destroy: call('destroy', undefined),
    };
    const deferred = new DeferredBackend(async () => backend, { ...queueAbilities });
    const made = [
      deferred.control?.pause('f'),
      deferred.schedules?.list(),
      deferred.flows?.flow({} as BackgroundRequest, []),
      deferred.status('Q:x:1'),
    ];
    await deferred.close();
    await Promise.all(made);
    expect(calls).toEqual(['pause', 'list', 'flow', 'status', 'close']);
  });

  it('keeps that order for a background job made the moment the backend loads', async () => {
    const sent: string[] = [];
    const backend = {
      manifest: async () => undefined,
      submit: () => ({ detach: () => {} }),
      background: async (requests: readonly BackgroundRequest[]) => {
        sent.push(...requests.map((request) => request.functionName));
        return requests.map(() => 'h');
      },
    } as unknown as Backend;
    let loaded: (backend: Backend) => void = () => {};
    const load = new Promise<Backend>((resolve) => {
      loaded = resolve;
    });
    const deferred = new DeferredBackend(() => load, { ...queueAbilities });
    const first = deferred.background?.([{ functionName: 'first' } as BackgroundRequest]);
    // Runs after the deferred backend has seen the load, before the calls that waited on it: a job made
    // here may not overtake them.
    const second = load.then(() => deferred.background?.([{ functionName: 'second' } as BackgroundRequest]));
    loaded(backend);
    await Promise.all([first, second]);
    // Once nothing waits, a job goes at once.
    await deferred.background?.([{ functionName: 'third' } as BackgroundRequest]);
    expect(sent).toEqual(['first', 'second', 'third']);
  });
});
