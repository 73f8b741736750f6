/**
 * The queue on the SQLite driver this Node does not use by default (better-sqlite3 where Node has
 * node:sqlite, and the other way round), and both drivers on one file at once, from two processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import { nodeSqlite } from '../src/queue/sqlite/node-sqlite-driver.js';
import { sqliteDriver } from '../src/queue/sqlite/open-sqlite.js';
import { conformanceSuite } from './conformance/suite.js';
import type functions from './fixtures/functions.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';
import { queryValue } from './helpers/sqlite.js';

const defaultDriver = sqliteDriver();
const otherDriver = defaultDriver === 'node:sqlite' ? 'better-sqlite3' : 'node:sqlite';
// node:sqlite cannot exist before Node 22.13: there the only driver is better-sqlite3, tested everywhere else.
const available = otherDriver === 'better-sqlite3' || nodeSqlite() !== null;
if (!available) {
  console.warn(
    `\n*** SKIPPED: the queue on node:sqlite: this Node (${process.version}) has none (Node 22.13+); the queue runs on better-sqlite3 here ***\n`,
  );
}
process.env.GEARSHIFT_SQLITE = otherDriver;

const directory = mkdtempSync(join(tmpdir(), 'gearshift-drivers-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => stopAllRunners());
let files = 0;
const nextFile = () => join(directory, `queue-${++files}.db`);

describe.runIf(available)(`the queue on ${otherDriver}`, () => {
  it(`opens its files with ${otherDriver} in this process`, () => {
    expect(sqliteDriver()).toBe(otherDriver);
  });

  conformanceSuite(`queue file (${otherDriver})`, {
    makeClient: ({ slots }) =>
      createClient<typeof functions>({
        functions: new URL('./fixtures/functions.js', import.meta.url),
        threads: slots,
        abortGrace: 500,
        queue: { path: nextFile(), foreground: true },
      }),
  });

  it(`shares one file with a runner process on ${defaultDriver}: every job runs once, and both read the results`, async () => {
    const path = nextFile();
    const gs = createClient<typeof queueFunctions>({ queue: path });
    try {
      const handles = await gs.backgroundAll(
        Array.from({ length: 200 }, (_, n) => gs.backgroundJob('square', { n })),
      );
      const { GEARSHIFT_SQLITE: _, ...defaultEnv } = process.env;
      await startRunner(
        new URL('./fixtures/queue-functions.ts', import.meta.url).pathname,
        path,
        [],
        defaultEnv,
      );
      for (const [n, handle] of handles.entries()) {
        await expect.poll(async () => (await gs.status(handle)).state, { timeout: 20_000 }).toBe('completed');
        expect((await gs.status(handle)).result).toBe(n * n);
      }
      expect(queryValue(path, 'SELECT sum(attempts) FROM jobs')).toBe(200);
      expect(queryValue(path, 'PRAGMA integrity_check')).toBe('ok');
    } finally {
      await gs.close();
    }
  });
});
