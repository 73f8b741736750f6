/**
 * Run by bench/queue.ts in a fresh process per SQLite driver (GEARSHIFT_SQLITE chooses it): the queue's
 * main operations on that driver, printed as one JSON line of rates in jobs/s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '../src/index.js';
import { sqliteDriver } from '../src/queue/sqlite/open-sqlite.js';
import { drainMs } from './queue-drain.js';
import type functions from './queue-functions.js';

const directory = mkdtempSync(join(tmpdir(), 'gearshift-bench-driver-'));
const functionsModule = new URL('./queue-functions.js', import.meta.url);
let files = 0;
const fresh = () => join(directory, `queue-${++files}.db`);
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
const producer = () =>
  createClient<typeof functions>({
    functions: functionsModule,
    threads: 1,
    queue: { path: fresh(), runner: false },
  });

async function timed(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const rates: Record<string, number | string> = { driver: sqliteDriver() };

{
  const gs = producer();
  const handle = await gs.background('noop');
  rates.oneAtATime = rate(
    2000,
    await timed(async () => {
      for (let n = 0; n < 2000; n++) await gs.background('noop');
    }),
  );
  rates.concurrent = rate(
    20_000,
    await timed(() => Promise.all(Array.from({ length: 20_000 }, () => gs.background('noop')))),
  );
  rates.bulk = rate(
    50_000,
    await timed(() => gs.backgroundAll(Array.from({ length: 50_000 }, () => gs.backgroundJob('noop')))),
  );
  rates.status = rate(
    10_000,
    await timed(async () => {
      for (let n = 0; n < 10_000; n++) await gs.status(handle);
    }),
  );
  await gs.close();
}
rates.drain = rate(20_000, await drainMs(fresh(), 20_000));
rmSync(directory, { recursive: true, force: true });
console.log(JSON.stringify(rates));
