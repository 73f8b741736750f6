/** The nightly-report example, run as a user runs it: a schedule whose job starts a flow over the shops. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const main = new URL('../examples/nightly-report/main.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-nightly-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it('runs the scheduled flow over the shops and prints the night, every shop counted', async () => {
  const { stdout } = await run(process.execPath, [tsx, main, '--shops', '5', '--data-dir', directory], {
    timeout: 60_000,
  });
  // Shop n has 100 + n sales: 510 orders over five shops, and no shop failed.
  expect(stdout).toMatch(/report for \d{4}-\d{2}-\d{2}: 5 shops, 510 orders, \$\d+\.\d{2} \(\d+ ms after/);
});
