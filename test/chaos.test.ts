/**
 * Chaos, on every backend, for a bounded time (CHAOS_SECONDS, 20 by default): a mixed load (background
 * jobs, foreground calls, fan-outs) runs while processes are killed with SIGKILL, worker threads crash
 * (poison jobs) and gearmand restarts. Then the books are checked against a ledger the jobs write
 * themselves: every acknowledged background job ran (or, for poison, ended dead); every foreground call
 * settled, with its own result or with a typed error of a kind a fault explains, and no more calls
 * failed of each kind than were in flight at the faults of that kind; every submission refused was
 * refused with a typed error; a job ran again only after a fault that its run before was exposed to
 * (its process killed or its thread crashed within 2 s after that run ended, or a gearmand restart
 * within 2 s of it; on a queue file, no more jobs than the killed runners held); and a queue file
 * passes `PRAGMA integrity_check`. Each part prints its figures; RELIABILITY.md quotes them.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { type Client, createClient, GearshiftError, WorkerCrashedError } from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands, type TestGearmand } from './helpers/gearmand.js';
import {
  startRunner,
  startWorkProcess,
  stderrOf,
  stopAllRunners,
  stopRunner,
} from './helpers/runner-process.js';
import { jobCounts, queryValue } from './helpers/sqlite.js';

const seconds = Number(process.env.CHAOS_SECONDS ?? 20);
const moduleUrl = new URL('./fixtures/queue-functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-chaos-'));
type Fns = Client<typeof queueFunctions>;
afterEach(async () => {
  await stopAllRunners();
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number) => low + Math.random() * (high - low);

/**
 * A promise whose failure is judged later (by `settle`, which awaits it): marked handled now, so that
 * a failure before then is the test's verdict, not an unhandled rejection.
 */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** What the load did: background jobs acknowledged (tag by handle), foreground calls and how they ended. */
class Books {
  readonly acknowledged = new Map<string, string>();
  readonly poisoned = new Set<string>();
  readonly calls: Promise<'ok' | 'typed error'>[] = [];
  /** Poison calls, which must fail (with WorkerCrashedError), apart from the floor of results. */
  readonly poisonCalls: Promise<unknown>[] = [];
  /** Foreground calls not yet settled. */
  #pending = 0;
  /** The calls in flight at the faults, by kind of fault: the most each kind can explain failing. */
  readonly inFlightAtFaults = new Map<string, number>();
  /** The typed errors of foreground calls, by code. */
  readonly errors = new Map<string, number>();
  /** Background submissions refused (with a typed error, or the test fails), by code. */
  readonly refusals = new Map<string, number>();
  #unexplained: unknown[] = [];
  #tag = 0;

  /** Background jobs the backend acknowledged, with the tags they were given. */
  acknowledge(handles: readonly string[], tags: readonly string[]): void {
    handles.forEach((handle, index) => {
      this.acknowledged.set(handle, tags[index] as string);
    });
  }

  /** Submits background jobs: acknowledged ones are tracked by handle; a refusal must be typed. */
  submit(submitted: PromiseLike<readonly string[]>, tags: readonly string[]): void {
    Promise.resolve(submitted).then(
      (handles) => this.acknowledge(handles, tags),
      (error: unknown) => {
        if (error instanceof GearshiftError)
          this.refusals.set(error.code, (this.refusals.get(error.code) ?? 0) + 1);
        else this.#unexplained.push(error);
      },
    );
  }

  /** Submits a poison job: acknowledged, it must end dead. */
  submitPoison(submitted: PromiseLike<string>): void {
    Promise.resolve(submitted).then(
      (handle) => this.poisoned.add(handle),
      (error: unknown) => this.#unexplained.push(error),
    );
  }

  /** Refusals that were not typed errors (none, or the test fails). */
  get unexplained(): readonly unknown[] {
    return this.#unexplained;
  }

  nextTag(): string {
    return `t${++this.#tag}`;
  }

  /**
   * Tracks a poison call: it must fail, with WorkerCrashedError, or like any call in flight at a fault
   * (a gearmand restart while the job was in its hands), with a typed error that fault explains.
   */
  trackPoison(call: PromiseLike<unknown>): void {
    this.#pending++;
    for (const kind of this.#during)
      this.inFlightAtFaults.set(kind, (this.inFlightAtFaults.get(kind) ?? 0) + 1);
    this.poisonCalls.push(
      settledLater(
        Promise.resolve(call)
          .finally(() => {
            this.#pending--;
          })
          .then(
            () => {
              throw new Error('a poison call succeeded');
            },
            (error: unknown) => {
              if (!(error instanceof WorkerCrashedError)) this.#typed(error);
            },
          ),
      ),
    );
  }

  /** Tracks a foreground call: it must settle with its tag as result, or a typed error. */
  track(call: PromiseLike<unknown>, tag: string): void {
    this.#pending++;
    for (const kind of this.#during)
      this.inFlightAtFaults.set(kind, (this.inFlightAtFaults.get(kind) ?? 0) + 1);
    this.calls.push(
      settledLater(
        Promise.resolve(call)
          .finally(() => {
            this.#pending--;
          })
          .then(
            (result) => {
              if (result !== tag) throw new Error(`call ${tag} got ${String(result)}`);
              return 'ok' as const;
            },
            (error: unknown) => this.#typed(error),
          ),
      ),
    );
  }

  /** Faults in progress: calls started while one is may fail because of it too. */
  readonly #during = new Set<string>();

  /**
   * A fault of `kind` happens until `fault` resolves: the calls in flight at its start, and those
   * started before it ends, may fail because of it.
   */
  async fault(kind: string, fault: () => Promise<void>): Promise<void> {
    this.inFlightAtFaults.set(kind, (this.inFlightAtFaults.get(kind) ?? 0) + this.#pending);
    this.#during.add(kind);
    try {
      await fault();
    } finally {
      this.#during.delete(kind);
    }
  }

  #typed(error: unknown): 'typed error' {
    if (!(error instanceof GearshiftError)) throw error;
    this.errors.set(error.code, (this.errors.get(error.code) ?? 0) + 1);
    return 'typed error';
  }
}

/** Runs `load` every few tens of ms and `chaos` every 1 to 3 s, for `seconds`. */
async function underChaos(load: () => void, chaos: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  const loading = (async () => {
    while (Date.now() < deadline) {
      load();
      await pause(between(20, 60));
    }
  })();
  while (Date.now() < deadline) {
    await pause(between(1000, 3000));
    if (Date.now() < deadline) await chaos();
  }
  await loading;
}

/** Background record jobs, one foreground record call, one fan-out of four, now and then a poison job. */
function mixedLoad(
  gs: Fns,
  books: Books,
  ledger: string,
  background: (jobs: ReturnType<Fns['backgroundJob']>[], tags: string[]) => void,
): void {
  const tags = Array.from({ length: 10 }, () => books.nextTag());
  background(
    tags.map((tag) => gs.backgroundJob('record', { log: ledger, tag, ms: Math.floor(between(0, 20)) })),
    tags,
  );
  const tag = books.nextTag();
  books.track(gs.run('record', { log: ledger, tag }), tag);
  const fanOut = Array.from({ length: 4 }, () => books.nextTag());
  const set = gs.runAll(fanOut.map((each) => gs.task('record', { log: ledger, tag: each })));
  fanOut.forEach((each, index) => {
    books.track(
      set.then((results) => {
        const result = results[index];
        if (result?.ok) return result.result;
        throw result?.error;
      }),
      each,
    );
  });
}

/** The typed errors of foreground calls, as `3 ERR_CONNECTION, 1 ERR_WORKER_CRASHED`. */
function describeErrors(books: Books): string {
  return [...books.errors].map(([code, count]) => `${count} ${code}`).join(', ') || 'none';
}

/** One run of a record job, from its ledger line: the process that ran it, and when it ended. */
interface Run {
  pid: number;
  at: number;
}

/** The ledger's lines as tag, process id and time: record jobs' runs, and poison jobs' thread crashes. */
function ledgerLines(ledger: string): { tag: string; pid: number; at: number }[] {
  const text = existsSync(ledger) ? readFileSync(ledger, 'utf8') : '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [tag, pid, at] = line.split(' ') as [string, string, string];
      return { tag, pid: Number(pid), at: Number(at) };
    });
}

/** Each tag's runs, in the order the ledger has them. */
function executions(ledger: string): Map<string, Run[]> {
  const runs = new Map<string, Run[]>();
  for (const { tag, pid, at } of ledgerLines(ledger)) {
    if (tag === 'poison') continue;
    const list = runs.get(tag) ?? [];
    list.push({ pid, at });
    runs.set(tag, list);
  }
  return runs;
}

/**
 * A fault that may make a job run again: a process killed, or a thread of one crashed by a poison job
 * (what it had run and not yet reported done runs again), or a gearmand restart (what was in flight
 * across it runs again from gearmand's queue).
 */
type Fault =
  | { kind: 'kill' | 'crash'; pid: number; at: number }
  | { kind: 'restart'; from: number; to: number };

/** The poison jobs' thread crashes the ledger has, as faults. */
function threadCrashes(ledger: string): Fault[] {
  return ledgerLines(ledger)
    .filter((line) => line.tag === 'poison')
    .map(({ pid, at }) => ({ kind: 'crash', pid, at }));
}

/**
 * How long before a fault (or after a restart) a run may have ended and still not be reported done: a
 * result on its way from the job's thread, a report in a socket's buffer or a batched commit.
 */
const faultReachMs = 2000;

/**
 * The runs again that no fault explains, as `tag: run 2 of 3` (none, or the test fails): each run after
 * a job's first must come after a fault that the run before it was exposed to: a run that ended shortly
 * before its process was killed or one of its threads crashed, or one that ended around a restart.
 */
function unexplainedReruns(runs: Map<string, Run[]>, faults: readonly Fault[]): string[] {
  const explains = (earlier: Run, run: Run, fault: Fault) =>
    fault.kind === 'restart'
      ? earlier.at >= fault.from - faultReachMs &&
        earlier.at <= fault.to + faultReachMs &&
        run.at >= fault.from
      : fault.pid === earlier.pid &&
        earlier.at <= fault.at &&
        fault.at - earlier.at <= faultReachMs &&
        run.at >= fault.at;
  const unexplained: string[] = [];
  for (const [tag, list] of runs)
    list.forEach((run, index) => {
      const earlier = list[index - 1];
      if (earlier && !faults.some((fault) => explains(earlier, run, fault)))
        unexplained.push(
          `${tag}: run ${index + 1} of ${list.length} (pid ${run.pid}, after pid ${earlier.pid})`,
        );
    });
  return unexplained;
}

async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${limitMs} ms for ${what}`);
    await pause(100);
  }
}

/**
 * The books, checked: every call settled with its result or an error that a fault explains (`explained`:
 * each error code, and the kind of fault that may cause it; no more of them than calls in flight at
 * those faults); refusals typed and explained; every acknowledged job ran. Returns the summary's figures.
 */
async function settle(
  books: Books,
  ledger: string,
  explained: Readonly<Record<string, string>>,
  faults: readonly Fault[],
): Promise<{ ok: number; typed: number; duplicates: number }> {
  const outcomes = await Promise.all(books.calls);
  await Promise.all(books.poisonCalls);
  const counts = executions(ledger);
  const lost = [...books.acknowledged.values()].filter((tag) => !counts.has(tag));
  expect(lost).toEqual([]);
  expect(books.unexplained).toEqual([]);
  expect([...books.refusals.keys()].filter((code) => !(code in explained))).toEqual([]);
  for (const [code, count] of books.errors) {
    const fault = explained[code];
    expect(fault, `${count} calls failed with ${code}, which no fault here explains`).toBeDefined();
    expect(count, `${code}: more calls failed than were in flight at the ${fault}s`).toBeLessThanOrEqual(
      books.inFlightAtFaults.get(fault as string) ?? 0,
    );
  }
  const ok = outcomes.filter((outcome) => outcome === 'ok').length;
  expect(ok).toBeGreaterThan(0);
  expect(books.acknowledged.size).toBeGreaterThan(0);
  expect(unexplainedReruns(counts, [...faults, ...threadCrashes(ledger)])).toEqual([]);
  const duplicates = [...counts.values()].reduce((sum, runs) => sum + runs.length - 1, 0);
  return { ok, typed: outcomes.length - ok, duplicates };
}

describe('chaos', () => {
  it(
    `a queue file: runners killed with SIGKILL and poison jobs crashing threads, for ${seconds} s`,
    async () => {
      const queue = join(directory, 'chaos.db');
      const ledger = join(directory, 'queue-ledger.txt');
      const runnerArgs = ['--threads', '2', '--lease-ms', '1500'];
      const runners: ChildProcess[] = await Promise.all(
        [1, 2].map(() => startRunner(moduleUrl.pathname, queue, runnerArgs)),
      );
      const gs = createClient<typeof queueFunctions>({
        queue: { path: queue, runner: false, attempts: 5, backoff: 50 },
      });
      const books = new Books();
      const faults: Fault[] = [];
      let kills = 0;
      let heldAtKills = 0;

      await underChaos(
        () => {
          mixedLoad(gs, books, ledger, (jobs, tags) => books.submit(gs.backgroundAll(jobs), tags));
          if (Math.random() < 0.1)
            books.submitPoison(gs.background('poison', { log: ledger }, { attempts: 2 }));
        },
        async () => {
          const victim = Math.floor(Math.random() * runners.length);
          const runner = runners[victim] as ChildProcess;
          await books.fault('runner kill', () => stopRunner(runner, 'SIGKILL'));
          faults.push({ kind: 'kill', pid: runner.pid ?? -1, at: Date.now() });
          kills++;
          // What the dead runner held (its leases stay until they expire) may run again: nothing else may.
          heldAtKills += Number(
            queryValue(
              queue,
              'SELECT count(*) FROM jobs JOIN runners ON jobs.lease_owner = runners.id WHERE jobs.state = 1 AND runners.pid = ?',
              runner.pid ?? -1,
            ),
          );
          runners[victim] = await startRunner(moduleUrl.pathname, queue, runnerArgs);
        },
      );

      await until('the queue to drain', async () => {
        return queryValue(queue, 'SELECT count(*) FROM jobs WHERE state IN (0, 1)') === 0;
      });
      // A foreground call's runner may die holding it: the one failure a runner kill explains.
      const figures = await settle(books, ledger, { ERR_WORKER_CRASHED: 'runner kill' }, faults);
      for (const handle of books.acknowledged.keys())
        expect((await gs.status(handle)).state).toBe('completed');
      for (const handle of books.poisoned) expect((await gs.status(handle)).state).toBe('dead');
      // A job runs twice only when its runner died holding it.
      expect(figures.duplicates).toBeLessThanOrEqual(heldAtKills);
      expect(queryValue(queue, 'PRAGMA integrity_check')).toBe('ok');
      await gs.close();
      // Through the kills, the poison and the retries, every change of a job was counted.
      const { kept, counted } = jobCounts(queue);
      expect(kept).toEqual(counted);
      console.log(
        `chaos, queue file: ${seconds} s, ${kills} runner kills (SIGKILL), ${books.poisoned.size} poison jobs (${books.poisoned.size * 2} thread crashes), ${books.acknowledged.size} background jobs acknowledged, 0 lost, ${figures.duplicates} run twice (of ${heldAtKills} held by killed runners), ${books.calls.length} foreground calls settled (${figures.ok} results, ${figures.typed} typed errors: ${describeErrors(books)}), integrity_check ok, counts per function and state agree with the rows`,
      );
    },
    (seconds + 120) * 1000,
  );

  it.skipIf(!gearmandInstalled)(
    `gearmand (sqlite queue): workers killed, gearmand restarted, poison jobs crashing threads, for ${seconds} s`,
    async () => {
      const database = join(directory, 'gearmand.db');
      const ledger = join(directory, 'gearman-ledger.txt');
      const server: TestGearmand = await startGearmand(['-q', 'libsqlite3', '--libsqlite3-db', database]);
      const workerArgs = ['--gearman', server.address, '--threads', '2'];
      const workers: ChildProcess[] = await Promise.all(
        [1, 2].map(() => startWorkProcess(moduleUrl.pathname, workerArgs)),
      );
      // A client of a lone gearmand rides out its restarts (waitForServerMs): what fails is what was in
      // flight when it went down.
      const gs = createClient<typeof queueFunctions>({
        functions: moduleUrl,
        gearman: { servers: [server.address], retryMs: 50, requestTimeoutMs: 3000, waitForServerMs: 5000 },
      });
      const books = new Books();
      let kills = 0;
      let restarts = 0;
      let poison = 0;
      const faults: Fault[] = [];
      // What each worker process said (a connection lost, a job refused), for a failure's reader.
      const everyWorker = [...workers];
      onTestFailed(() => {
        for (const worker of everyWorker) console.log(`worker ${worker.pid}:\n${stderrOf(worker)}`);
      });

      await underChaos(
        () => {
          mixedLoad(gs, books, ledger, (jobs, tags) => books.submit(gs.backgroundAll(jobs), tags));
          if (Math.random() < 0.1) {
            poison++;
            books.trackPoison(gs.run('poison', { log: ledger }));
          }
        },
        async () => {
          // Every third fault is a gearmand restart, so that each run has both kinds.
          if ((kills + restarts) % 3 === 1) {
            const from = Date.now();
            await books.fault('gearmand restart', () => server.restart());
            faults.push({ kind: 'restart', from, to: Date.now() });
            restarts++;
          } else {
            const victim = Math.floor(Math.random() * workers.length);
            const worker = workers[victim] as ChildProcess;
            await books.fault('worker kill', () => stopRunner(worker, 'SIGKILL'));
            faults.push({ kind: 'kill', pid: worker.pid ?? -1, at: Date.now() });
            kills++;
            workers[victim] = await startWorkProcess(moduleUrl.pathname, workerArgs);
            everyWorker.push(workers[victim] as ChildProcess);
          }
        },
      );

      // The acknowledged jobs may still be queued: the workers drain them before the books are judged.
      await until('every acknowledged job to run', () => {
        const counts = executions(ledger);
        return [...books.acknowledged.values()].every((tag) => counts.has(tag));
      }).catch(() => {});
      // In flight at a restart or on a killed worker's threads (the poison jobs' crashes are theirs).
      const figures = await settle(
        books,
        ledger,
        { ERR_CONNECTION: 'gearmand restart', ERR_WORKER_CRASHED: 'worker kill' },
        faults,
      );
      const crashed = await gs.run('poison').catch((error: unknown) => error);
      expect(crashed).toBeInstanceOf(WorkerCrashedError);
      await gs.destroy();
      console.log(
        `chaos, gearmand: ${seconds} s, ${kills} worker kills (SIGKILL), ${restarts} gearmand restarts, ${poison} poison jobs (thread crashes), ${books.acknowledged.size} background jobs acknowledged (${[...books.refusals.values()].reduce((sum, count) => sum + count, 0)} submissions refused), 0 lost, ${figures.duplicates} run twice (each explained by a fault), ${books.calls.length} foreground calls settled (${figures.ok} results, ${figures.typed} typed errors: ${describeErrors(books)})`,
      );
    },
    (seconds + 180) * 1000,
  );

  it(
    `local threads: fan-outs mixed with poison jobs, for ${Math.ceil(seconds / 2)} s`,
    async () => {
      const ledger = join(directory, 'local-ledger.txt');
      const gs = createClient<typeof queueFunctions>({ functions: moduleUrl, threads: 2, queue: false });
      const deadline = Date.now() + (seconds / 2) * 1000;
      let tasks = 0;
      let crashes = 0;
      const tags: string[] = [];
      while (Date.now() < deadline) {
        const batch = Array.from({ length: 20 }, (_, index) =>
          index === 7 ? undefined : `l${tasks + index}`,
        );
        const results = await gs.runAll(
          batch.map((tag) => (tag ? gs.task('record', { log: ledger, tag }) : gs.task('poison'))),
        );
        results.forEach((result, index) => {
          const tag = batch[index];
          if (tag) {
            expect(result).toMatchObject({ ok: true, result: tag });
            tags.push(tag);
          } else {
            expect(result.ok ? undefined : result.error).toBeInstanceOf(WorkerCrashedError);
            crashes++;
          }
        });
        tasks += batch.length;
      }
      const counts = executions(ledger);
      // No queue, no retry: every job ran exactly once, the crashed ones' batch-mates included.
      expect(tags.every((tag) => counts.get(tag)?.length === 1)).toBe(true);
      await gs.close();
      console.log(
        `chaos, local threads: ${Math.ceil(seconds / 2)} s, ${tasks} tasks in fan-outs of 20, ${crashes} thread crashes, every other task completed exactly once`,
      );
    },
    (seconds + 60) * 1000,
  );
});
