/**
 * The soak, for a minute: `bench/soak.ts` under a steady mixed load on every backend at once, which fails
 * (exit 1) when a job failed or when, after its warm-up, the live heap, the open handles or the worker
 * process's RSS grew (the thresholds are in the script). `npm run soak` runs the same for ten minutes.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const soak = new URL('../bench/soak.ts', import.meta.url).pathname;
const tsx = createRequire(import.meta.url).resolve('tsx');

describe('the soak', () => {
  it('runs a minute of mixed load on every backend with no failure and no growth', async () => {
    const { stdout } = await exec(process.execPath, ['--expose-gc', '--import', tsx, soak], {
      env: { ...process.env, SOAK_SECONDS: '60' },
      timeout: 180_000,
    }).catch((error: { stdout: string; code: number }) => {
      throw new Error(`the soak failed (exit ${error.code}):\n${error.stdout}`);
    });
    console.log(stdout.split('\n').slice(-12).join('\n'));
    expect(stdout).toMatch(/\nsoak: no growth, no failure\n/);
    expect(stdout).toMatch(/\n[\d,]+ jobs done \(background ones: accepted\), 0 failed\n/);
  }, 200_000);
});
