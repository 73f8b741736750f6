import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startWorkProcess, stopAllRunners } from './helpers/runner-process.js';

const run = promisify(execFile);
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const demo = new URL('../examples/parallel-report/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'gearshift-demo-'));
/** The demo's command line for three small databases in `directory`, with `extra` options. */
const demoArgs = (directory: string, ...extra: string[]) => [
  tsx,
  demo,
  '--databases',
  '3',
  '--rows',
  '3000',
  '--data-dir',
  directory,
  ...extra,
];
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the parallel-report demo', () => {
  it('builds its databases once, reports on each and in total, and times both ways', async () => {
    const args = demoArgs(dataDir, '--threads', '2', '--remote-ms', '200');
    const first = await run(process.execPath, args, { timeout: 60_000 });
    expect(first.stdout).toContain('3 databases created, 0 reused');
    expect(first.stdout).toMatch(/\[ 3\/3\] shop-0\d\.db/);
    expect(first.stdout).toMatch(/total\s+9,000\s/);
    expect(first.stdout).toMatch(/speed-up\s+\d+\.\d\dx\s+\(\d+ cores\)/);
    // The seed's databases that each take a while to answer: a stand-in server, and the output says so.
    expect(first.stdout).toContain('databases that each take 200 ms to answer');
    expect(first.stdout).toMatch(/a stand-in for remote databases: a server on 127\.0\.0\.1:\d+/);
    expect(first.stdout).toMatch(/total revenue \$972,616\.64, the same both ways/);
    expect(first.stdout).toMatch(/fanned out, default options\s+\d/);
    expect(readdirSync(dataDir).sort()).toEqual(['shop-01.db', 'shop-02.db', 'shop-03.db']);

    const second = await run(process.execPath, args, { timeout: 60_000 });
    expect(second.stdout).toContain('0 databases created, 3 reused');
  });

  it('refuses a bad option with a message naming it', async () => {
    const error = await run(process.execPath, [tsx, demo, '--rows', 'many'], { timeout: 30_000 }).catch(
      (thrown: { code: number; stderr: string }) => thrown,
    );
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toContain(
      '--rows must be a whole number from 1 up, got "many"',
    );
  });
});

describe.skipIf(!gearmandInstalled)('the parallel-report demo on gearmand', () => {
  afterEach(async () => {
    await stopAllRunners();
    await stopAllGearmands();
  });

  it('runs unchanged with --gearman, its jobs served by two separate worker processes', async () => {
    const server = await startGearmand();
    const functions = new URL('../examples/parallel-report/functions.ts', import.meta.url).pathname;
    await Promise.all(
      [1, 2].map(() => startWorkProcess(functions, ['--gearman', server.address, '--threads', '1'])),
    );
    const gearmanData = mkdtempSync(join(tmpdir(), 'gearshift-demo-gearman-'));
    try {
      const args = demoArgs(gearmanData, '--gearman', server.address);
      const { stdout } = await run(process.execPath, args, { timeout: 60_000 });
      expect(stdout).toContain(`fanned out over the workers of ${server.address}:`);
      expect(stdout).toContain('3 databases created, 0 reused');
      expect(stdout).toMatch(/total\s+9,000\s/);
      expect(stdout).toMatch(/fanned out, through gearmand\s+\d/);
    } finally {
      rmSync(gearmanData, { recursive: true, force: true });
    }
  });
});
