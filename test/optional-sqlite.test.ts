/**
 * Paying only for what is used: a process that cannot load better-sqlite3 (its native build failed, or
 * npm never ran it) imports gearshift and runs jobs on threads and on Gearman without touching SQLite;
 * its queue opens on node:sqlite where Node has it, and otherwise fails with a QueueFileError that says
 * what to install.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nodeSqlite } from '../src/queue/sqlite/node-sqlite-driver.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const run = promisify(execFile);
const app = new URL('./fixtures/optional-sqlite/app.js', import.meta.url).pathname;
const preload = new URL('./fixtures/optional-sqlite/no-better-sqlite3.cjs', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-optional-sqlite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => stopAllGearmands());

interface Loaded {
  readonly betterSqlite3: boolean;
  readonly nodeSqlite: boolean;
  readonly attempts: number;
}
interface Findings {
  readonly afterImport: Loaded;
  readonly threads: number;
  readonly afterThreads: Loaded;
  readonly gearman?: number;
  readonly afterGearman?: Loaded;
  readonly queue: { readonly handle?: boolean; readonly error?: string };
}

const untouched: Loaded = { betterSqlite3: false, nodeSqlite: false, attempts: 0 };

async function findings(gearmand: string): Promise<Findings> {
  const { GEARSHIFT_SQLITE: _, ...env } = process.env;
  const { stdout } = await run(
    process.execPath,
    ['--require', preload, app, gearmand, join(directory, `queue-${Date.now()}.db`)],
    { env, timeout: 60_000 },
  );
  return JSON.parse(stdout) as Findings;
}

describe('a process where better-sqlite3 cannot load', () => {
  it('imports gearshift and runs thread jobs without loading any SQLite', async () => {
    const found = await findings('-');
    expect(found.afterImport).toEqual(untouched);
    expect(found.threads).toBe(3);
    expect(found.afterThreads).toEqual(untouched);
  });

  it.runIf(gearmandInstalled)('runs a Gearman client and worker without loading any SQLite', async () => {
    const gearmand = await startGearmand();
    const found = await findings(gearmand.address);
    expect(found.gearman).toBe(5);
    expect(found.afterGearman).toEqual(untouched);
  });

  if (nodeSqlite()) {
    it(`keeps background jobs on node:sqlite (Node ${process.version})`, async () => {
      expect((await findings('-')).queue).toEqual({ handle: true });
    });
  } else {
    it(`refuses background jobs with a QueueFileError naming what to install (Node ${process.version})`, async () => {
      const { error } = (await findings('-')).queue;
      expect(error).toMatch(
        /^QueueFileError: Queue file \S+ needs SQLite, and this Node \(v20\.\S+\) has no node:sqlite/,
      );
      expect(error).toMatch(/npm install better-sqlite3/);
      expect(error).toMatch(/npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3/);
    });
  }
});
