/**
 * Limits, judged by what the jobs themselves noted (when each handler began and ended, by its own
 * clock), never by the queue's counters: several runner processes on one file keep a function's
 * concurrency and rate between them, a group per key has its own, and the local pool keeps the same
 * limits in memory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { FunctionInfo } from '../src/backend.js';
import { createClient, createWorker, defineFunctions, InvalidOptionError, openQueue } from '../src/index.js';
import { QueueStore } from '../src/queue/queue-store.js';
import { type ClaimLimits, claimLimitsOf } from '../src/queue/sql/claim-limited.js';
import type limited from './fixtures/limited-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startRunner, stopAllRunners, stopRunner } from './helpers/runner-process.js';
import { openDatabase, queryValue } from './helpers/sqlite.js';

const module = new URL('./fixtures/limited-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-limits-'));
afterEach(stopAllRunners);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface Run {
  tag: string;
  pid: string;
  begin: number;
  end: number;
}

/**
 * The runs a log holds (one per job and process), each with the times its handler began and ended; a run
 * whose process was killed has no end.
 */
function runsIn(log: string): Run[] {
  const runs = new Map<string, Partial<Run>>();
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [what, at, tag, pid] = line.split(' ') as [string, string, string, string];
    const run = runs.get(`${tag} ${pid}`) ?? { tag, pid };
    run[what as 'begin' | 'end'] = Number(at);
    runs.set(`${tag} ${pid}`, run);
  }
  return [...runs.values()] as Run[];
}

/** The most runs that were going on at one moment. */
function mostAtOnce(runs: readonly Run[]): number {
  // Ends before begins at the same instant: a run that ended as another began did not overlap it.
  const edges = runs.flatMap((run) => [
    { at: run.begin, step: 1 },
    { at: run.end, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const { step } of edges) {
    now += step;
    most = Math.max(most, now);
  }
  return most;
}

/** The most runs that began within any `windowMs`. */
function mostBegunWithin(runs: readonly Run[], windowMs: number): number {
  const begins = runs.map((run) => run.begin).sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < begins.length; last++) {
    while ((begins[last] as number) - (begins[first] as number) >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/** Enqueues jobs through a client that runs nothing. */
async function enqueue(
  queue: string,
  jobs: { fn: 'pair' | 'paced' | 'roomy' | 'perTenant' | 'free'; input: object }[],
) {
  const producer = createClient<typeof limited>({ queue: { path: queue } });
  try {
    return await producer.backgroundAll(
      jobs.map(({ fn, input }) => producer.backgroundJob(fn, input as never)),
    );
  } finally {
    await producer.close();
  }
}

async function waitForRuns(log: string, count: number, timeoutMs: number): Promise<Run[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let runs: Run[] = [];
    try {
      runs = runsIn(log).filter((run) => run.end !== undefined);
    } catch {}
    if (runs.length >= count) return runs;
    if (Date.now() > deadline)
      throw new Error(`only ${runs.length} of ${count} jobs ended in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('limits on a queue file, across runner processes', () => {
  it('three runners with concurrency 2 and 1,000 jobs: never more than 2 running, by the jobs own notes', async () => {
    const queue = join(directory, 'pair.db');
    const log = join(directory, 'pair.log');
    await enqueue(
      queue,
      Array.from({ length: 1000 }, (_, index) => ({
        fn: 'pair' as const,
        input: { log, tag: `j${index}`, ms: 3 },
      })),
    );
    await Promise.all([1, 2, 3].map(() => startRunner(module, queue, ['--threads', '2'])));
    const runs = await waitForRuns(log, 1000, 120_000);
    expect(new Set(runs.map((run) => run.tag)).size).toBe(1000);
    expect(mostAtOnce(runs)).toBe(2);
    // All three shared the work.
    expect(new Set(runs.map((run) => run.pid)).size).toBe(3);
  });

  it('a rate of 5 per 500 ms, across three runners: never 6 begun within a window', async () => {
    const queue = join(directory, 'paced.db');
    const log = join(directory, 'paced.log');
    await enqueue(
      queue,
      Array.from({ length: 40 }, (_, index) => ({
        fn: 'paced' as const,
        input: { log, tag: `j${index}`, ms: 1 },
      })),
    );
    await Promise.all([1, 2, 3].map(() => startRunner(module, queue, ['--threads', '2'])));
    const runs = await waitForRuns(log, 40, 60_000);
    // A start counts from when the runner saw the handler begin, which is after the handler noted it;
    // the 2 ms allow for the runner's clock reading whole milliseconds.
    const begins = runs.map((run) => run.begin).sort((a, b) => a - b);
    const closest = Math.min(...begins.slice(5).map((begin, index) => begin - (begins[index] as number)));
    console.log(`rate test: a start and the 5th after it were ${closest.toFixed(1)} ms apart at the closest`);
    expect(mostBegunWithin(runs, 500 - 2)).toBeLessThanOrEqual(5);
    // 40 starts at 5 per window take at least 7 windows after the first.
    expect(Math.max(...begins) - Math.min(...begins)).toBeGreaterThanOrEqual(7 * 500 - 2);
    // What the group's count holds is what the starts are, after every runner's forgetting.
    expect(queryValue(queue, "SELECT starts FROM limit_groups WHERE function = 'paced'") ?? 0).toBe(
      queryValue(queue, "SELECT coalesce(sum(starts), 0) FROM limit_starts WHERE function = 'paced'"),
    );
  });

  it('a runner killed with SIGKILL holding the places: the others wait for them, then run its jobs again', async () => {
    const queue = join(directory, 'killed.db');
    const log = join(directory, 'killed.log');
    await enqueue(
      queue,
      Array.from({ length: 6 }, (_, index) => ({
        fn: 'pair' as const,
        input: { log, tag: `k${index}`, ms: 1500 },
      })),
    );
    const doomed = await startRunner(module, queue, ['--threads', '2']);
    await expect.poll(() => (existsSync(log) ? runsIn(log).length : 0), { timeout: 30_000 }).toBe(2);
    const killedAt = Number(process.hrtime.bigint()) / 1e6;
    await stopRunner(doomed, 'SIGKILL');
    // Runners of the same host see the process gone and take its jobs back at once.
    await Promise.all([1, 2].map(() => startRunner(module, queue, ['--threads', '2'])));
    const runs = await waitForRuns(log, 6, 60_000);
    const cut = runsIn(log).filter((run) => run.end === undefined);
    expect(cut.map((run) => run.pid)).toEqual([String(doomed.pid), String(doomed.pid)]);
    // The two cut short ran again, elsewhere; counting them as running until the kill, never above 2.
    expect(new Set(runs.map((run) => run.tag)).size).toBe(6);
    expect(mostAtOnce([...runs, ...cut.map((run) => ({ ...run, end: killedAt }))])).toBe(2);
  });

  it('rate-limited jobs given back by a runner that stops run again at once elsewhere, every start counted', async () => {
    const queue = join(directory, 'given-back.db');
    const log = join(directory, 'given-back.log');
    await enqueue(
      queue,
      Array.from({ length: 3 }, (_, index) => ({
        fn: 'roomy' as const,
        input: { log, tag: `g${index}`, ms: 400 },
      })),
    );
    // A runner that stops before its jobs end gives them back, their attempts unspent: each runs the same
    // attempt again, under a new claim, within the window of the claim given back, whose start still counts.
    const first = createClient<typeof limited>({
      functions: new URL(`file://${module}`),
      queue: { path: queue, shutdownGraceMs: 50 },
    });
    await first.start();
    await expect.poll(() => (existsSync(log) ? runsIn(log).length : 0), { timeout: 10_000 }).toBe(3);
    await first.close();
    const second = createClient<typeof limited>({
      functions: new URL(`file://${module}`),
      queue: { path: queue },
    });
    try {
      await second.start();
      const completed = () => queryValue(queue, 'SELECT count(*) FROM jobs WHERE state = 2');
      await expect.poll(completed, { timeout: 10_000 }).toBe(3);
      // Both runners are this process: the log's lines, not its runs by process, tell them apart.
      const begins = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('begin'));
      expect(begins).toHaveLength(6);
      // Six claims of a job in the window, six starts counted (and held in the group's count).
      expect(queryValue(queue, "SELECT sum(starts) FROM limit_starts WHERE function = 'roomy'")).toBe(6);
      expect(queryValue(queue, "SELECT starts FROM limit_groups WHERE function = 'roomy'")).toBe(6);
    } finally {
      await second.close();
    }
  });

  it("a claim's jobs that began are dated while the rest of it waits: their starts leave the window first", async () => {
    const queue = join(directory, 'parts.db');
    const log = join(directory, 'parts.log');
    await enqueue(
      queue,
      Array.from({ length: 2 }, (_, index) => ({
        fn: 'roomy' as const,
        input: { log, tag: `p${index}`, ms: 800 },
      })),
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    // One thread running one job at a time, which claims both (a runner claims ahead).
    const runner = createClient<typeof limited>({
      functions: new URL(`file://${module}`),
      threads: 1,
      concurrency: 1,
      queue: { path: queue },
    });
    try {
      await runner.start();
      const begun = () => (existsSync(log) ? (readFileSync(log, 'utf8').match(/^begin/gm)?.length ?? 0) : 0);
      const rows = () => {
        const db = openDatabase(queue);
        try {
          return db
            .prepare(
              "SELECT part, starts, at IS NOT NULL AS dated FROM limit_starts WHERE function = 'roomy' ORDER BY part",
            )
            .all();
        } finally {
          db.close();
        }
      };
      await expect.poll(begun, { timeout: 10_000 }).toBe(1);
      // The first job's start is dated in a part of its own; the second, claimed and waiting, is not yet.
      await expect.poll(rows, { timeout: 5000 }).toEqual([
        { part: 0, starts: 1, dated: 0 },
        { part: 1, starts: 1, dated: 1 },
      ]);
      await expect.poll(begun, { timeout: 10_000 }).toBe(2);
      await expect.poll(rows, { timeout: 5000 }).toEqual([
        { part: 0, starts: 1, dated: 1 },
        { part: 1, starts: 1, dated: 1 },
      ]);
      // Not one of its writes failed (a sweep, a claim, a date), on either SQLite driver.
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await runner.close();
    }
  });

  it('with a key, one saturated tenant leaves the others their own room', async () => {
    const queue = join(directory, 'tenants.db');
    const log = join(directory, 'tenants.log');
    // Tenant a's slow jobs come first: a claim in order would take them all before any of b's.
    await enqueue(queue, [
      ...Array.from({ length: 6 }, (_, index) => ({
        fn: 'perTenant' as const,
        input: { log, tag: `a${index}`, ms: 300, tenant: 'a' },
      })),
      ...Array.from({ length: 6 }, (_, index) => ({
        fn: 'perTenant' as const,
        input: { log, tag: `b${index}`, ms: 10, tenant: 'b' },
      })),
    ]);
    await Promise.all([1, 2].map(() => startRunner(module, queue, ['--threads', '2'])));
    const runs = await waitForRuns(log, 12, 60_000);
    const of = (tenant: string) => runs.filter((run) => run.tag.startsWith(tenant));
    expect(mostAtOnce(of('a'))).toBe(1);
    expect(mostAtOnce(of('b'))).toBe(1);
    // b ran alongside a, not after it: all of b was done before a's third job began.
    const aBegins = of('a')
      .map((run) => run.begin)
      .sort((x, y) => x - y);
    expect(Math.max(...of('b').map((run) => run.end))).toBeLessThan(aBegins[2] as number);
  });
});

describe('the claim of a runner whose functions include a limited one', () => {
  it('takes the jobs of functions without a limit as the plain claim does, and skips a full group', () => {
    const store = new QueueStore(join(directory, 'mixed-claim.db'), { durability: 'process', pollMs: 1000 });
    try {
      const limits = claimLimitsOf([
        { name: 'free', payload: 'json' },
        { name: 'single', payload: 'json', limit: { concurrency: 1 } },
      ] as FunctionInfo[]) as ClaimLimits;
      const functions = JSON.stringify(['free', 'single']);
      const job = (functionName: string, priority: number, runAt = 0) => ({
        functionName,
        input: null,
        unique: null,
        priority,
        foreground: false,
        runAt,
        maxAttempts: 1,
        backoff: 0,
        traceparent: null,
      });
      const claim = (limit: number) =>
        store
          .transaction(
            () => store.claimLimited.claim('runner', 1, functions, 1000, 60_000, limit, limits),
            'immediate',
          )
          .jobs.map(({ id, functionName }) => `${functionName} ${id}`);
      store.transaction(
        () =>
          store.insertJobs(
            [job('free', 2), job('single', 0), job('single', 0), job('free', 1), job('free', 2)],
            1000,
          ),
        'immediate',
      );
      // The first ready job is limited: the limited claim takes one of the group and passes the other.
      expect(claim(2)).toEqual(['single 2', 'free 4']);
      // Next in order: the held 'single' (its group full), then 'free' jobs, which are taken.
      expect(claim(5)).toEqual(['free 1', 'free 5']);
      store.transaction(() => store.insertJobs([job('free', 0, -1), job('free', 0, -1)], 1000), 'immediate');
      // Only jobs without a limit ahead of the held one: taken as the plain claim takes them.
      expect(claim(2)).toEqual(['free 6', 'free 7']);
      expect(claim(2)).toEqual([]);
      expect(store.counts.active()).toEqual([
        { functionName: 'free', queued: 0, running: 5 },
        { functionName: 'single', queued: 1, running: 1 },
      ]);
    } finally {
      store.close();
    }
  });
});

describe('a queue file of schema 8 (a start per job)', () => {
  it('becomes a start row per claim and group, undated if any of its starts was, the counts kept', async () => {
    const path = join(directory, 'schema-8.db');
    (await openQueue(path)).close();
    const db = openDatabase(path);
    db.exec(`DROP TABLE limit_starts;
      CREATE TABLE limit_starts (
        function TEXT NOT NULL, limit_key TEXT NOT NULL, job_id INTEGER NOT NULL, lease INTEGER NOT NULL, at INTEGER,
        PRIMARY KEY (function, limit_key, job_id, lease)
      ) WITHOUT ROWID;
      INSERT INTO limit_starts VALUES ('paced', '', 1, 7, 100), ('paced', '', 2, 7, 130), ('paced', '', 3, 8, 120),
        ('paced', '', 4, 8, NULL), ('paced', 'b', 5, 7, 90);
      INSERT INTO limit_groups VALUES ('paced', '', 4), ('paced', 'b', 1);
      PRAGMA user_version = 8`);
    db.close();
    (await openQueue(path)).close();
    const rows = openDatabase(path);
    try {
      expect(rows.prepare('SELECT * FROM limit_starts ORDER BY limit_key, lease').all()).toEqual([
        { function: 'paced', limit_key: '', lease: 7, part: 0, owner: '', starts: 2, at: 130 },
        { function: 'paced', limit_key: '', lease: 8, part: 0, owner: '', starts: 2, at: null },
        { function: 'paced', limit_key: 'b', lease: 7, part: 0, owner: '', starts: 1, at: 90 },
      ]);
      expect(rows.prepare('SELECT starts FROM limit_groups ORDER BY limit_key').values()).toEqual([4, 1]);
    } finally {
      rows.close();
    }
  });
});

describe('limits in the local pool, in memory', () => {
  const clients: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  function open() {
    const client = createClient<typeof limited>({ functions: new URL(`file://${module}`), threads: 2 });
    clients.push(client);
    return client;
  }

  it('keeps concurrency, rate and per-key groups as the queue does', async () => {
    const client = open();
    const log = join(directory, 'local.log');
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: 12 }, (_, index) => client.run('pair', { log, tag: `pair${index}`, ms: 30 })),
      ...Array.from({ length: 12 }, (_, index) => client.run('paced', { log, tag: `paced${index}`, ms: 1 })),
      ...Array.from({ length: 3 }, (_, index) =>
        client.run('perTenant', { log, tag: `a${index}`, ms: 300, tenant: 'a' }),
      ),
      ...Array.from({ length: 3 }, (_, index) =>
        client.run('perTenant', { log, tag: `b${index}`, ms: 10, tenant: 'b' }),
      ),
    ]);
    const runs = runsIn(log);
    const of = (prefix: string) => runs.filter((run) => run.tag.startsWith(prefix));
    expect(mostAtOnce(of('pair'))).toBe(2);
    expect(mostBegunWithin(of('paced'), 500 - 2)).toBeLessThanOrEqual(5);
    // 12 starts at 5 per window: the last began two windows after the first, at the earliest.
    const paced = of('paced').map((run) => run.begin);
    expect(Math.max(...paced) - Math.min(...paced)).toBeGreaterThanOrEqual(1000 - 2);
    expect(mostAtOnce(of('a'))).toBe(1);
    expect(Math.max(...of('b').map((run) => run.end))).toBeLessThan(
      of('a')
        .map((run) => run.begin)
        .sort((x, y) => x - y)[1] as number,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('drops a job held by its limit when its caller stops waiting, and it never runs', async () => {
    const client = open();
    const log = join(directory, 'held.log');
    const first = client.run('perTenant', { log, tag: 'first', ms: 300, tenant: 't' });
    const held = client.run(
      'perTenant',
      { log, tag: 'held', ms: 1, tenant: 't' },
      { signal: AbortSignal.timeout(100) },
    );
    await expect(held).rejects.toThrow();
    await first;
    // The place it would have taken went to nobody: the next job of the group runs at once.
    await client.run('perTenant', { log, tag: 'after', ms: 1, tenant: 't' });
    expect(runsIn(log).map((run) => run.tag)).toEqual(['first', 'after']);
  });
});

describe('limits on a Gearman worker: per process', () => {
  afterEach(stopAllGearmands);

  it.runIf(gearmandInstalled)(
    'a worker process runs at most `concurrency` of a function at once',
    async () => {
      const server = await startGearmand();
      const worker = createWorker({
        functions: new URL(`file://${module}`),
        gearman: { servers: [server.address] },
        threads: 2,
      });
      const gs = createClient<typeof limited>({ gearman: { servers: [server.address] } });
      try {
        await worker.start();
        const log = join(directory, 'gearman.log');
        await Promise.all(
          Array.from({ length: 12 }, (_, index) => gs.run('pair', { log, tag: `g${index}`, ms: 30 })),
        );
        expect(mostAtOnce(runsIn(log))).toBe(2);
      } finally {
        await gs.close();
        await worker.stop(1000);
      }
    },
  );
});

describe('declaring a limit', () => {
  it('refuses a bad limit with a typed error naming the option and what it takes', () => {
    const declare = (limit: unknown) => () =>
      defineFunctions({ send: { handler: () => 1, limit: limit as { concurrency: number } } });
    expect(declare({ concurrency: 0 })).toThrow(InvalidOptionError);
    expect(declare({ concurrency: 0 })).toThrow(/'send'\.limit\.concurrency.*an integer from 1/);
    expect(declare({})).toThrow(/'send'\.limit.*concurrency, rate or both/);
    expect(declare({ rate: { max: 5 } })).toThrow(/'send'\.limit\.rate\.perMs/);
    expect(declare({ concurrency: 1, key: 'a..b' })).toThrow(/'send'\.limit\.key.*names joined by dots/);
    expect(declare({ concurrency: 1, per: 1 })).toThrow(/'send'\.limit\.per.*no such option/);
    expect(() =>
      defineFunctions({ raw: { bytes: (input: Buffer) => input, limit: { concurrency: 1, key: 'tenant' } } }),
    ).toThrow(/'raw'\.limit\.key.*bytes function/);
  });
});
