/**
 * Load and memory: tiny jobs through `runAll`, and background jobs on a queue file and through gearmand,
 * each load at two sizes, each in a process of its own: the background loads' peak live heap (after a
 * full collection) is compared between the sizes, and runAll's peak RSS.
 * What counts as done is checked outside the library's bookkeeping: each runAll result against its
 * input, and the lines the background jobs themselves appended to a ledger file.
 *
 * What is bounded, exactly: a queue file's and gearmand's background jobs take memory that does not
 * grow with their number (the sizes' live heaps are close; their peak RSS, which counts garbage, is
 * printed); `runAll` keeps 1,024 jobs in flight however many
 * it is given, and its memory grows only by the results it returns to the caller (a bound per result).
 * Before that window, a million jobs in flight at once peaked at 2,167 MB.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startWorkProcess, stopAllRunners } from './helpers/runner-process.js';

const exec = promisify(execFile);
const script = new URL('./fixtures/load-process.ts', import.meta.url).pathname;
const functions = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-load-'));
afterEach(async () => {
  await stopAllRunners();
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface Load {
  readonly mode: string;
  readonly count: number;
  readonly done: number;
  readonly ms: number;
  readonly peakRssMb: number;
  readonly peakLiveHeapMb: number;
}

let files = 0;
async function load(mode: string, count: number, where?: string): Promise<Load> {
  const ledger = join(directory, `ledger-${++files}`);
  const args = [mode, String(count), ...(where ? [where, ledger] : [])];
  const { stdout } = await exec(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], {
    timeout: 240_000,
  });
  const figures = JSON.parse(stdout.trim()) as Load;
  console.log(
    `load, ${mode}: ${figures.done} of ${figures.count} jobs in ${figures.ms} ms, peak RSS ${figures.peakRssMb} MB${mode === 'runAll' ? '' : `, live heap at most ${figures.peakLiveHeapMb} MB`}`,
  );
  return figures;
}

describe('load and memory', () => {
  it('runAll of 100,000 and of 1,000,000 tiny jobs: every result right, memory grown only by the results', async () => {
    const small = await load('runAll', 100_000);
    const large = await load('runAll', 1_000_000);
    expect(small.done).toBe(100_000);
    expect(large.done).toBe(1_000_000);
    // 900,000 more results (and task descriptions) held for the caller, and the garbage of making them; a
    // job in flight for each, with no window, took about 2,200 bytes (2,167 MB for a million).
    const perResult = ((large.peakRssMb - small.peakRssMb) * 1024 * 1024) / 900_000;
    console.log(`load, runAll: ${Math.round(perResult)} bytes of peak RSS per result returned`);
    expect(perResult).toBeLessThan(1500);
  }, 300_000);

  it('20,000 and 100,000 background jobs on a queue file, drained by the embedded runner: the same memory', async () => {
    const small = await load('queue', 20_000, join(directory, 'small.db'));
    const large = await load('queue', 100_000, join(directory, 'large.db'));
    expect(small.done).toBe(20_000);
    expect(large.done).toBe(100_000);
    expect(large.peakLiveHeapMb).toBeLessThan(small.peakLiveHeapMb * 1.25 + 8);
  }, 300_000);

  it.skipIf(!gearmandInstalled)(
    '20,000 and 100,000 background jobs through gearmand, run by a worker process: the same memory',
    async () => {
      const loads: Load[] = [];
      for (const count of [20_000, 100_000]) {
        const server = await startGearmand();
        await startWorkProcess(functions, ['--gearman', server.address, '--threads', '2']);
        loads.push(await load('gearman', count, server.address));
        await stopAllRunners();
        await stopAllGearmands();
      }
      const [small, large] = loads as [Load, Load];
      expect(small.done).toBe(20_000);
      expect(large.done).toBe(100_000);
      expect(large.peakLiveHeapMb).toBeLessThan(small.peakLiveHeapMb * 1.25 + 8);
    },
    300_000,
  );
});
