/**
 * npm run bench:queue: the SQLite queue against plainjob (also SQLite through better-sqlite3, WAL,
 * synchronous NORMAL), in one process, on the same disk. Prints rates and ratios; the README quotes them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker, JobStatus } from 'plainjob';
import { type Client, createClient } from '../src/index.js';
import { nodeSqlite } from '../src/queue/sqlite/node-sqlite-driver.js';
import { sqliteDriver } from '../src/queue/sqlite/open-sqlite.js';
import { drainMs } from './queue-drain.js';
import type functions from './queue-functions.js';

const exec = promisify(execFile);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-bench-queue-'));
const functionsModule = new URL('./queue-functions.js', import.meta.url);
let files = 0;
const fresh = (name: string) => join(directory, `${name}-${++files}.db`);
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const rate = (count: number, ms: number) => (count / ms) * 1000;
const silent = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

async function timed(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function producer(durability: 'process' | 'power' = 'process'): {
  gs: Client<typeof functions>;
  path: string;
} {
  const path = fresh('gearshift');
  const gs = createClient<typeof functions>({
    functions: functionsModule,
    threads: 1,
    queue: { path, runner: false, durability },
  });
  return { gs, path };
}

function plainQueue(): { queue: ReturnType<typeof defineQueue>; db: Database.Database } {
  const db = new Database(fresh('plainjob'));
  return { queue: defineQueue({ connection: better(db), logger: silent }), db };
}

function line(
  label: string,
  gearshift: number,
  plainjob: number | undefined,
  unit = 'jobs/s',
  target = '',
): void {
  const ratio = plainjob === undefined ? '' : `${(gearshift / plainjob).toFixed(2)}x`;
  const peer = plainjob === undefined ? ''.padStart(12) : fmt(plainjob).padStart(12);
  console.log(
    `  ${label.padEnd(34)} ${fmt(gearshift).padStart(10)} ${peer}   ${ratio.padStart(6)}  ${unit} ${target}`,
  );
}

console.log(`gearshift bench:queue  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log(
  `${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores; files in ${tmpdir()}; both WAL + synchronous NORMAL\n`,
);
console.log(
  `  ${''.padEnd(34)} ${'gearshift'.padStart(10)} ${'plainjob'.padStart(12)}   ${'ratio'.padStart(6)}`,
);

// 1. Durable enqueue, one awaited call at a time (plainjob's add() is synchronous: one commit each).
{
  const count = 3000;
  const { gs } = producer();
  await gs.background('noop');
  const ours = await timed(async () => {
    for (let n = 0; n < count; n++) await gs.background('noop');
  });
  const { queue, db } = plainQueue();
  const theirs = await timed(() => {
    for (let n = 0; n < count; n++) queue.add('noop', {});
  });
  line('enqueue, one call at a time', rate(count, ours), rate(count, theirs));
  await gs.close();
  queue.close();
  db.close();
}

// 2. Many concurrent calls: gearshift group-commits them; plainjob has no concurrent form (add() is sync).
{
  const count = 20_000;
  const { gs } = producer();
  await gs.background('noop');
  const ours = await timed(() => Promise.all(Array.from({ length: count }, () => gs.background('noop'))));
  const { queue, db } = plainQueue();
  const theirs = await timed(() => {
    for (let n = 0; n < count; n++) queue.add('noop', {});
  });
  line('enqueue, 20,000 concurrent calls', rate(count, ours), rate(count, theirs));
  await gs.close();
  queue.close();
  db.close();
}

// 3. Bulk enqueue: one call for many jobs.
{
  const count = 50_000;
  const { gs } = producer();
  await gs.background('noop');
  const ours = await timed(() =>
    gs.backgroundAll(Array.from({ length: count }, () => gs.backgroundJob('noop'))),
  );
  const { queue, db } = plainQueue();
  const theirs = await timed(() =>
    queue.addMany(
      'noop',
      Array.from({ length: count }, () => ({})),
    ),
  );
  line(
    'bulk enqueue, 50,000 in one call',
    rate(count, ours),
    rate(count, theirs),
    'jobs/s',
    '(target 50,000)',
  );
  await gs.close();
  queue.close();
  db.close();
}

// With durability 'power' (a disk flush per commit), group commit is what keeps concurrent calls fast.
{
  const { gs: serialClient } = producer('power');
  await serialClient.background('noop');
  const serial = await timed(async () => {
    for (let n = 0; n < 500; n++) await serialClient.background('noop');
  });
  const { gs: concurrentClient } = producer('power');
  await concurrentClient.background('noop');
  const concurrent = await timed(() =>
    Promise.all(Array.from({ length: 5000 }, () => concurrentClient.background('noop'))),
  );
  line("'power': one call at a time", rate(500, serial), undefined);
  line("'power': 5,000 concurrent calls", rate(5000, concurrent), undefined);
  await Promise.all([serialClient.close(), concurrentClient.close()]);
}

// 4. Drain: 20,000 queued no-op jobs run to completion (gearshift: its runner and 2 threads;
// plainjob: its worker, which runs jobs one at a time in the main thread).
{
  const count = 20_000;
  const ours = await drainMs(fresh('gearshift-drain'), count);

  const { queue, db } = plainQueue();
  queue.addMany(
    'noop',
    Array.from({ length: count }, () => ({})),
  );
  const worker = defineWorker('noop', () => {}, { queue, logger: silent, pollIntervall: 10 });
  const begin = performance.now();
  const running = worker.start();
  while (queue.countJobs({ status: JobStatus.Done }) < count)
    await new Promise((resolve) => setTimeout(resolve, 5));
  const theirs = performance.now() - begin;
  await worker.stop();
  await running;
  queue.close();
  db.close();
  line(
    'drain 20,000 no-op jobs',
    rate(count, ours),
    rate(count, theirs),
    'jobs/s',
    '(target 15,000 and 1.5x)',
  );
}

// 5. Latency from enqueue to start, with an idle runner (plainjob's worker polling every 10 ms).
{
  const rounds = 300;
  const percentile = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] as number;
  const path = fresh('gearshift-latency');
  const gs = createClient<typeof functions>({ functions: functionsModule, threads: 2, queue: { path } });
  await gs.start();
  const ours: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const sent = performance.timeOrigin + performance.now();
    const handle = await gs.background('stamp');
    let status = await gs.status(handle);
    while (status.state !== 'completed') {
      await new Promise((resolve) => setTimeout(resolve, 1));
      status = await gs.status(handle);
    }
    ours.push((status.result as number) - sent);
  }
  await gs.close();

  const { queue, db } = plainQueue();
  const theirs: number[] = [];
  let sentAt = 0;
  let startedAt = 0;
  const worker = defineWorker(
    'stamp',
    () => {
      startedAt = performance.timeOrigin + performance.now();
    },
    { queue, logger: silent, pollIntervall: 10 },
  );
  const running = worker.start();
  for (let round = 0; round < rounds / 3; round++) {
    startedAt = 0;
    sentAt = performance.timeOrigin + performance.now();
    queue.add('stamp', {});
    while (startedAt === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    theirs.push(startedAt - sentAt);
  }
  await worker.stop();
  await running;
  queue.close();
  db.close();
  const ms = (value: number) => value.toFixed(2).padStart(10);
  console.log(`\n  enqueue to start, idle runner     ${'gearshift'.padStart(10)} ${'plainjob'.padStart(12)}`);
  console.log(
    `    p50                             ${ms(percentile(ours, 0.5))} ${ms(percentile(theirs, 0.5)).padStart(12)}   ms  (target under 5 ms)`,
  );
  console.log(
    `    p99                             ${ms(percentile(ours, 0.99))} ${ms(percentile(theirs, 0.99)).padStart(12)}   ms`,
  );
}

rmSync(directory, { recursive: true, force: true });

// 6. The SQLite driver under the queue: node:sqlite (built into Node 22.13+) against better-sqlite3, each
// in fresh processes, alternated, three rounds; medians.
{
  const drivers = nodeSqlite() ? ['node:sqlite', 'better-sqlite3'] : ['better-sqlite3'];
  const script = fileURLToPath(new URL('./queue-driver.ts', import.meta.url));
  const tsx = createRequire(import.meta.url).resolve('tsx/cli');
  const runs = new Map<string, Record<string, number>[]>(drivers.map((driver) => [driver, []]));
  for (let round = 0; round < 3; round++) {
    for (const driver of drivers) {
      const { stdout } = await exec(process.execPath, [tsx, script], {
        env: { ...process.env, GEARSHIFT_SQLITE: driver },
        timeout: 120_000,
      });
      runs.get(driver)?.push(JSON.parse(stdout) as Record<string, number>);
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const measures: [string, string][] = [
    ['oneAtATime', 'enqueue, one awaited call at a time'],
    ['concurrent', 'enqueue, 20,000 concurrent calls'],
    ['bulk', 'bulk enqueue, 50,000 in one call'],
    ['status', 'status(), one call at a time'],
    ['drain', 'drain 20,000 no-op jobs'],
  ];
  console.log(`\nthe SQLite driver (this process uses ${sqliteDriver()}), median of 3 fresh processes each`);
  console.log(`  ${''.padEnd(34)} ${drivers.map((driver) => driver.padStart(14)).join(' ')}`);
  for (const [key, label] of measures) {
    const figures = drivers.map((driver) =>
      median((runs.get(driver) ?? []).map((run) => run[key] as number)),
    );
    const ratio =
      figures.length === 2 ? `   ${((figures[0] as number) / (figures[1] as number)).toFixed(2)}x` : '';
    console.log(
      `  ${label.padEnd(34)} ${figures.map((figure) => fmt(figure).padStart(14)).join(' ')}${ratio}  jobs/s`,
    );
  }
  if (drivers.length === 1)
    console.log(`  (node:sqlite needs Node 22.13 or later; this is ${process.version})`);
}
