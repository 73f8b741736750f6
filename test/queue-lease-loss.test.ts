/**
 * A worker that stalls past its lease (here: a process stopped with SIGSTOP) while another worker takes
 * its job: when it runs again and renews, it finds the lease lost, aborts its run of the job (the job's
 * signal fires), says so, and writes nothing more for it; the other worker's run is the job's end.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';
import { jobCounts } from './helpers/sqlite.js';

const directory = mkdtempSync(join(tmpdir(), 'gearshift-lease-loss-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => stopAllRunners());
const module = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a child's stderr (the worker's warnings). */
function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return () => text;
}

describe('a worker that lost its lease', () => {
  it('aborts its run of the job, writes nothing more for it, and says so', async () => {
    // Files of this run's own (a retry starts afresh): the probe's first run in the log is the long one.
    const run = mkdtempSync(join(directory, 'run-'));
    const queue = join(run, 'queue.db');
    const log = join(run, 'runs.log');
    const args = ['--threads', '1', '--lease-ms', '600'];
    const stalled = await startRunner(module, queue, args);
    const warnings = stderrOf(stalled);
    const gs = createClient<typeof queueFunctions>({ queue: { path: queue, pollMs: 50 } });
    try {
      // The stalled run is long enough that it cannot end by itself while stopped, however slowly the
      // other runner starts; the taker's run is short.
      const handle = await gs.background(
        'leaseProbe',
        { log, ms: 120_000, laterMs: 2_000 },
        { attempts: 3, backoff: 10 },
      );
      await expect.poll(async () => (await gs.status(handle)).state, { timeout: 20_000 }).toBe('running');
      // Running from its claim, but stopped only once its handler has begun.
      await expect
        .poll(() => (existsSync(log) ? readFileSync(log, 'utf8') : ''), { timeout: 20_000 })
        .toContain(`began ${stalled.pid}`);

      stalled.kill('SIGSTOP');
      await pause(900); // past its lease
      const taker = await startRunner(module, queue, args);
      await expect.poll(async () => (await gs.status(handle)).attempts, { timeout: 20_000 }).toBe(2);
      stalled.kill('SIGCONT');

      await expect
        .poll(() => readFileSync(log, 'utf8'), { timeout: 10_000 })
        .toContain(`aborted ${stalled.pid}`);
      await expect.poll(() => warnings(), { timeout: 5_000 }).toMatch(/lost the lease of \S+ \(leaseProbe\)/);
      await expect.poll(async () => (await gs.status(handle)).state, { timeout: 20_000 }).toBe('completed');
      const status = await gs.status(handle);
      expect(status.result).toBe(taker.pid);
      expect(status.attempts).toBe(2);
      expect(readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual(
        [`began ${stalled.pid}`, `began ${taker.pid}`, `aborted ${stalled.pid}`, `done ${taker.pid}`].sort(),
      );
      // The expired lease was counted back to the queue, and the stalled runner's late end not at all.
      const { kept, counted } = jobCounts(queue);
      expect(kept).toEqual(counted);
    } finally {
      stalled.kill('SIGCONT');
      await gs.close();
    }
  });
});
