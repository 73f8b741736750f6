/**
 * npm run bench:queue: the SQLite queue against two peers, in one process, on the same disk: plainjob
 * (also SQLite through better-sqlite3, WAL, synchronous NORMAL) and BullMQ 5 on a local redis-server
 * with its append-only file fsynced every second (started here on a free port; its column is left out,
 * saying so, where redis-server is not installed). Prints rates and ratios; the README quotes them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Queue as BullQueue, Worker as BullWorker, type ConnectionOptions } from 'bullmq';
import { better, defineQueue, defineWorker, JobStatus } from 'plainjob';
import { type Client, createClient } from '../src/index.js';
import { nodeSqlite } from '../src/queue/sqlite/node-sqlite-driver.js';
import { sqliteDriver } from '../src/queue/sqlite/open-sqlite.js';
import { drainMs } from './queue-drain.js';
import type functions from './queue-functions.js';
import { printLimitCost } from './queue-limits.js';
import { startRedis } from './redis-server.js';
import type stampFunctions from './stamp-functions.js';

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
  bullmq: number | undefined,
  unit = 'jobs/s',
  target = '',
): void {
  const peer = (figure: number | undefined) => {
    const ratio = figure === undefined ? '' : `${(gearshift / figure).toFixed(2)}x`;
    return `${(figure === undefined ? '' : fmt(figure)).padStart(10)} ${ratio.padStart(7)}`;
  };
  console.log(
    `  ${label.padEnd(34)} ${fmt(gearshift).padStart(10)} ${peer(plainjob)} ${peer(bullmq)}  ${unit} ${target}`,
  );
}

const redis = await startRedis();
const connection: ConnectionOptions | undefined = redis && {
  host: '127.0.0.1',
  port: redis.port,
  maxRetriesPerRequest: null,
};
let queues = 0;
/** A BullMQ queue of its own for one measurement, or undefined without redis-server. */
function bullQueue(): BullQueue | undefined {
  return connection && new BullQueue(`bench-${++queues}`, { connection });
}

console.log(`gearshift bench:queue  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log(
  `${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores; files in ${tmpdir()}; SQLite: WAL + synchronous NORMAL`,
);
console.log(
  redis
    ? `BullMQ 5 on ${redis.version}, appendonly yes, appendfsync everysec, on loopback; ratios are gearshift's\n`
    : '*** redis-server is not installed: the BullMQ column is left out (apt-get install redis-server) ***\n',
);
console.log(
  `  ${''.padEnd(34)} ${'gearshift'.padStart(10)} ${'plainjob'.padStart(10)} ${'ratio'.padStart(7)} ${'BullMQ'.padStart(10)} ${'ratio'.padStart(7)}`,
);

/** Milliseconds for a BullMQ worker (concurrency 2) to run `count` queued no-op jobs; undefined without Redis. */
async function bullDrainMs(count: number): Promise<number | undefined> {
  const bull = bullQueue();
  if (!bull || !connection) return undefined;
  await bull.addBulk(Array.from({ length: count }, () => ({ name: 'noop', data: {} })));
  let completed = 0;
  let drained: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    drained = resolve;
  });
  const started = performance.now();
  const worker = new BullWorker(bull.name, async () => undefined, { connection, concurrency: 2 });
  worker.on('completed', () => {
    if (++completed === count) drained();
  });
  await done;
  const ms = performance.now() - started;
  await worker.close();
  await bull.close();
  return ms;
}

/**
 * One enqueue row: each side submits `count` no-op jobs in its own way, timed, on a fresh file or queue
 * that has taken one job already (so that opening it is not counted). With `rounds`, the sides take
 * turns that many times, each on a fresh file or queue, the order rotated by round, and each side's
 * median is printed: a short row measured once is mostly this machine's weather and the first calls'
 * compilation.
 */
async function enqueueRow(
  label: string,
  count: number,
  sides: {
    gearshift(gs: Client<typeof functions>): Promise<unknown>;
    plainjob(queue: ReturnType<typeof defineQueue>): unknown;
    bullmq(bull: BullQueue): Promise<unknown>;
  },
  target = '',
  rounds = 1,
): Promise<void> {
  const runs = { gearshift: [] as number[], plainjob: [] as number[], bullmq: [] as number[] };
  const measure = {
    gearshift: async () => {
      const { gs } = producer();
      await gs.background('noop');
      runs.gearshift.push(rate(count, await timed(() => sides.gearshift(gs))));
      await gs.close();
    },
    plainjob: async () => {
      const { queue, db } = plainQueue();
      queue.add('noop', {});
      runs.plainjob.push(rate(count, await timed(() => sides.plainjob(queue))));
      queue.close();
      db.close();
    },
    bullmq: async () => {
      const bull = bullQueue();
      if (!bull) return;
      await bull.add('noop', {});
      runs.bullmq.push(rate(count, await timed(() => sides.bullmq(bull))));
      await bull.close();
    },
  };
  const order = ['gearshift', 'plainjob', 'bullmq'] as const;
  for (let round = 0; round < rounds; round++)
    for (let turn = 0; turn < order.length; turn++)
      await measure[order[(round + turn) % order.length] as keyof typeof measure]();
  const median = (values: number[]) =>
    values.length === 0 ? undefined : ([...values].sort((a, b) => a - b)[(values.length - 1) >> 1] as number);
  line(label, median(runs.gearshift) as number, median(runs.plainjob), median(runs.bullmq), 'jobs/s', target);
}

const plainjobAddLoop = (count: number) => (queue: ReturnType<typeof defineQueue>) => {
  for (let n = 0; n < count; n++) queue.add('noop', {});
};

// 1. Durable enqueue, one awaited call at a time (plainjob's add() is synchronous: one commit each);
// the median of five rounds.
await enqueueRow(
  'enqueue, one call at a time',
  3000,
  {
    gearshift: async (gs) => {
      for (let n = 0; n < 3000; n++) await gs.background('noop');
    },
    plainjob: plainjobAddLoop(3000),
    bullmq: async (bull) => {
      for (let n = 0; n < 3000; n++) await bull.add('noop', {});
    },
  },
  '(median of 5 rounds)',
  5,
);

// 2. Many concurrent calls: gearshift group-commits them; plainjob has no concurrent form (add() is
// sync), so its row is its add() loop again; BullMQ's client pipelines them to Redis.
await enqueueRow('enqueue, 20,000 concurrent calls', 20_000, {
  gearshift: (gs) => Promise.all(Array.from({ length: 20_000 }, () => gs.background('noop'))),
  plainjob: plainjobAddLoop(20_000),
  bullmq: (bull) => Promise.all(Array.from({ length: 20_000 }, () => bull.add('noop', {}))),
});

// 3. Bulk enqueue: one call for many jobs; the median of three rounds.
await enqueueRow(
  'bulk enqueue, 50,000 in one call',
  50_000,
  {
    gearshift: (gs) => gs.backgroundAll(Array.from({ length: 50_000 }, () => gs.backgroundJob('noop'))),
    plainjob: (queue) =>
      queue.addMany(
        'noop',
        Array.from({ length: 50_000 }, () => ({})),
      ),
    bullmq: (bull) => bull.addBulk(Array.from({ length: 50_000 }, () => ({ name: 'noop', data: {} }))),
  },
  '(target 50,000; median of 3 rounds)',
  3,
);

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
  line("'power': one call at a time", rate(500, serial), undefined, undefined);
  line("'power': 5,000 concurrent calls", rate(5000, concurrent), undefined, undefined);
  await Promise.all([serialClient.close(), concurrentClient.close()]);
}

// 4. Drain: 20,000 queued no-op jobs run to completion (gearshift: its runner and 2 threads;
// plainjob: its worker, which runs jobs one at a time in the main thread; BullMQ: a worker with
// concurrency 2, as many jobs at once as gearshift's two threads run by default for CPU-bound work).
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
  const bulls = await bullDrainMs(count);
  line(
    'drain 20,000 no-op jobs',
    rate(count, ours),
    rate(count, theirs),
    bulls && rate(count, bulls),
    'jobs/s',
    '(target 15,000 and 1.5x)',
  );
}

// 5. Latency from enqueue to start and to completion, one job at a time, with an idle runner. gearshift:
// its embedded runner; completion is seen by awaiting finished(handle), which the commit that ends the
// job wakes, and again by calling status() on every turn (what this bench did before finished()
// existed: the main thread never idles, which on this virtual machine spares it the wake-ups). Its
// module declares no limit; the rows after it: a module that declares one (every claim takes the limited
// claim), and handlers in the main thread (threads: 0), as BullMQ's worker runs them: what the hop to a
// worker thread costs. plainjob: its worker polling every 10 ms (start only: it has no completion signal
// but polling its table). BullMQ: a worker, concurrency 1; completion is its worker's 'completed' event,
// after the job's move to the completed set in Redis.
{
  const rounds = 300;
  const now = () => performance.timeOrigin + performance.now();
  const percentile = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] as number;
  /** One job at a time through a fresh file: from enqueue to its start, and to finished() resolving. */
  const ourLatency = async (module: URL, threads: number, pollStatus: boolean) => {
    const gs = createClient<typeof stampFunctions>({
      functions: module,
      threads,
      queue: { path: fresh('latency') },
    });
    await gs.start();
    const times = { start: [] as number[], end: [] as number[], polled: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const sent = now();
      const handle = await gs.background('stamp');
      const status = await gs.finished(handle);
      times.end.push(now() - sent);
      times.start.push((status.result as number) - sent);
    }
    // The same, its end seen by status() called on every turn: the main thread never idles.
    for (let round = 0; pollStatus && round < rounds; round++) {
      const sent = now();
      const handle = await gs.background('stamp');
      while ((await gs.status(handle)).state !== 'completed')
        await new Promise((resolve) => setImmediate(resolve));
      times.polled.push(now() - sent);
    }
    await gs.close();
    return times;
  };
  const stampModule = new URL('./stamp-functions.js', import.meta.url);
  const ours = await ourLatency(stampModule, 2, true);
  const limitedModule = await ourLatency(functionsModule, 2, false);
  const mainThread = await ourLatency(stampModule, 0, false);

  const { queue, db } = plainQueue();
  const theirs: number[] = [];
  let sentAt = 0;
  let startedAt = 0;
  const worker = defineWorker(
    'stamp',
    () => {
      startedAt = now();
    },
    { queue, logger: silent, pollIntervall: 10 },
  );
  const running = worker.start();
  for (let round = 0; round < rounds / 3; round++) {
    startedAt = 0;
    sentAt = now();
    queue.add('stamp', {});
    while (startedAt === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    theirs.push(startedAt - sentAt);
  }
  await worker.stop();
  await running;
  queue.close();
  db.close();

  const bulls = { start: [] as number[], end: [] as number[] };
  const bull = bullQueue();
  if (bull && connection) {
    let ended: () => void = () => {};
    const bullWorker = new BullWorker(bull.name, async () => now(), { connection, concurrency: 1 });
    bullWorker.on('completed', () => ended());
    await bullWorker.waitUntilReady();
    for (let round = 0; round < rounds; round++) {
      const done = new Promise<void>((resolve) => {
        ended = resolve;
      });
      const sent = now();
      const job = await bull.add('stamp', {});
      await done;
      bulls.end.push(now() - sent);
      const finished = await bull.getJob(job.id as string);
      bulls.start.push((finished?.returnvalue as number) - sent);
    }
    await bullWorker.close();
    await bull.close();
  }

  const ms = (values: number[], p: number) =>
    (values.length ? percentile(values, p).toFixed(2) : '').padStart(10);
  console.log(
    `\n  one job at a time, idle runner      ${'gearshift'.padStart(10)} ${'plainjob'.padStart(10)} ${'BullMQ'.padStart(10)}`,
  );
  for (const [label, p] of [
    ['p50', 0.5],
    ['p99', 0.99],
  ] as const) {
    console.log(
      `    enqueue to start, ${label}            ${ms(ours.start, p)} ${ms(theirs, p)} ${ms(bulls.start, p)}   ms${p === 0.5 ? '  (target under 5 ms)' : ''}`,
    );
    console.log(
      `    enqueue to completion, ${label}       ${ms(ours.end, p)} ${''.padStart(10)} ${ms(bulls.end, p)}   ms  (gearshift: finished(handle))`,
    );
    console.log(`      the same, status() every turn ${ms(ours.polled, p)}`);
    console.log(`      the same, a module with limits ${ms(limitedModule.end, p)}`);
    console.log(
      `      the same, threads: 0          ${ms(mainThread.end, p)}   (handlers in the main thread, as BullMQ's)`,
    );
  }
}

// 6. What schedules cost a drain: 20,000 no-op jobs on a file that holds 1,000 schedules (none due
// during the drain: what every runner then does is look at the soonest slot when the file changes),
// against a file with none; alternated pairs, medians. (Issue 20's bound: no more than 10% off.)
{
  const count = 20_000;
  const withSchedules = async () => {
    const path = fresh('gearshift-schedules');
    const keeper = createClient<typeof functions>({
      functions: functionsModule,
      queue: { path, runner: false },
    });
    for (let n = 0; n < 1000; n++) {
      await keeper.schedule(
        `yearly-${n}`,
        { cron: `${n % 60} ${n % 24} ${1 + (n % 28)} ${1 + (n % 12)} *` },
        'noop',
      );
    }
    await keeper.close();
    return path;
  };
  const rates: Record<'none' | 'thousand', number[]> = { none: [], thousand: [] };
  for (let pair = 0; pair < 5; pair++) {
    rates.none.push(rate(count, await drainMs(fresh('gearshift-no-schedules'), count)));
    rates.thousand.push(rate(count, await drainMs(await withSchedules(), count)));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[2] as number;
  const [none, thousand] = [median(rates.none), median(rates.thousand)];
  console.log(
    `\n  drain 20,000 with 1,000 schedules in the file: ${fmt(thousand)} jobs/s, without: ${fmt(none)} (${(
      thousand / none
    ).toFixed(
      3,
    )}x; medians of 5 alternated pairs: ${rates.thousand.map(fmt).join(', ')} / ${rates.none.map(fmt).join(', ')})`,
  );
}

// 7. What limits cost a drain (bench/queue-limits.ts, also run alone as `npm run bench:limits`).
await printLimitCost(fresh);

await redis?.stop();
rmSync(directory, { recursive: true, force: true });

// 8. The SQLite driver under the queue: node:sqlite (built into Node 22.13+) against better-sqlite3, each
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
