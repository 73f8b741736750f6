import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient as createClientFromDist } from 'gearshift';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, FunctionsModuleError, InvalidOptionError } from '../src/index.js';
import functions from './fixtures/functions.js';

const run = promisify(execFile);
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
});

async function firstUseError(location: URL | string, threads = 1): Promise<unknown> {
  const client = createClient({ functions: location, threads });
  clients.push(client);
  return client.run('anything', {}).catch((thrown: unknown) => thrown);
}

describe('a functions module that cannot be used', () => {
  for (const threads of [1, 0]) {
    const where = threads === 0 ? 'inline' : 'in threads';
    it(`missing: a clear error at first use, not a hang (${where})`, async () => {
      const error = await firstUseError('/nonexistent/gearshift/functions.js', threads);
      expect(error).toBeInstanceOf(FunctionsModuleError);
      expect((error as Error).message).toMatch(/functions\.js was not found \(no file at \/nonexistent/);
    });

    it(`throwing while it loads: a clear error naming the throw (${where})`, async () => {
      const error = await firstUseError(new URL('./fixtures/throws-at-load.js', import.meta.url), threads);
      expect(error).toBeInstanceOf(FunctionsModuleError);
      expect((error as Error).message).toMatch(/threw while loading: Error: the config file is missing/);
    });

    it(`without a defineFunctions default export: says what to add (${where})`, async () => {
      const error = await firstUseError(new URL('./fixtures/no-default.js', import.meta.url), threads);
      expect(error).toBeInstanceOf(FunctionsModuleError);
      expect((error as Error).message).toMatch(/export default defineFunctions/);
    });
  }

  it('every job submitted meanwhile gets the same error', async () => {
    const client = createClient({ functions: '/nonexistent/functions.js', threads: 1 });
    clients.push(client);
    const errors = await Promise.all(
      [1, 2, 3].map(() => client.run('x', 1).catch((thrown: unknown) => thrown)),
    );
    for (const error of errors) expect(error).toBeInstanceOf(FunctionsModuleError);
  });
});

describe('createClient options', () => {
  it('refuses a FunctionSet object with threads, since threads load a module themselves', () => {
    expect(() => createClient({ functions, threads: 2 })).toThrow(InvalidOptionError);
    expect(() => createClient({ functions, threads: 2 })).toThrow(
      /functions module's URL or path when threads > 0/,
    );
  });

  it('names the option that is wrong and what it got', () => {
    const url = new URL('./fixtures/functions.js', import.meta.url);
    expect(() => createClient({ functions: url, threads: -1 })).toThrow(
      'Expected `threads` to be an integer from 0 and up, got `-1` (number)',
    );
    expect(() => createClient({ functions: url, concurrency: 1.5 })).toThrow(
      /`concurrency` to be an integer from 1/,
    );
    expect(() => createClient({ functions: 42 as unknown as string })).toThrow(
      /`functions` to be a URL or path/,
    );
  });

  it('starts no thread and loads nothing until the first job', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gearshift-lazy-'));
    const marker = join(directory, 'loads');
    process.env.LOAD_MARKER = marker;
    const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    try {
      const before = threads();
      const client = createClient({
        functions: new URL('./fixtures/load-marker.ts', import.meta.url),
        threads: 4,
      });
      clients.push(client);
      // Nothing to wait for but time: a client that started its pool would have threads, and modules
      // loaded in them, well within this.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(existsSync(marker)).toBe(false);
      expect(threads()).toBeLessThanOrEqual(before);
      await client.run('threadId');
      expect(readFileSync(marker, 'utf8').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
      expect(threads()).toBeGreaterThan(before);
    } finally {
      delete process.env.LOAD_MARKER;
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('TypeScript and compiled modules', () => {
  it('runs a TypeScript functions module in threads of a client loaded from dist/ (a user under vitest)', async () => {
    const client = createClientFromDist({
      functions: new URL('./fixtures/functions.js', import.meta.url),
      threads: 1,
    });
    try {
      expect(await client.run('add', { a: 1, b: 2 })).toBe(3);
    } finally {
      await client.destroy();
    }
  });

  it('runs a TypeScript app and its TypeScript functions module under tsx', async () => {
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const app = new URL('./fixtures/tsx-app.ts', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [tsx, app], { timeout: 30_000 });
    expect(stdout.trim()).toBe('42');
  });

  it(`runs a TypeScript module importing ./lib.js and ./twice.ts under plain node ${process.version}, in threads and inline`, async () => {
    // Node's own type stripping where it has it (22.18+, 24), tsx's hook on Node 20; an enum, which
    // stripping refuses, goes through tsx on every version; a truly missing sibling is named.
    const app = new URL('./fixtures/ts-project/main.js', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [app], { timeout: 30_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.threads).toEqual({ total: 42, doubled: 84 });
    expect(out.inline).toEqual({ total: 42, doubled: 84 });
    expect(out.enum).toBe(10);
    expect(out.missing).toMatch(
      /^FunctionsModuleError: Functions module \S+missing-sibling\.ts threw while loading: .*Cannot find module '\S*no-such-file\.js'/,
    );
  });

  it('runs the same TypeScript module in threads of a client under vitest', async () => {
    const client = createClient({
      functions: new URL('./fixtures/ts-project/functions.ts', import.meta.url),
      threads: 1,
      queue: false,
    });
    clients.push(client);
    expect(await client.run('report', { sales: [{ amount: 1 }, { amount: 2 }] })).toEqual({
      total: 3,
      doubled: 6,
    });
  });

  it('runs compiled JavaScript from dist/ with plain node and no TypeScript loader', async () => {
    const app = new URL('./fixtures/dist-app/main.js', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [app], { timeout: 30_000 });
    expect(stdout.trim()).toBe('[1,4,9]');
  });

  it('starts each thread by importing its entry, not by require() (which can abort the process)', async () => {
    // Node aborts the whole process when a thread is terminated while require() finishes loading an ES
    // module (src/local/thread-loader.cjs); gearshift terminates threads on purpose.
    const app = new URL('./fixtures/dist-app/thread-files.js', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [app], { timeout: 30_000 });
    const dist = fileURLToPath(new URL('../dist/', import.meta.url));
    const required = (JSON.parse(stdout) as string[]).filter((file) => file.startsWith(dist));
    expect(required).toEqual([join(dist, 'thread-loader.cjs')]);
  });
});

describe('process lifetime', () => {
  it('keeps the process alive until every result has arrived, then lets it exit', async () => {
    const app = new URL('./fixtures/dist-app/many-tiny.js', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [app], { timeout: 60_000 });
    expect(stdout.trim()).toBe('30000');
  });
});
