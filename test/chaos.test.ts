/**
 * Chaos, on every backend, for a bounded time (CHAOS_SECONDS, 20 by default): a mixed load (background
 * jobs, foreground calls, fan-outs) runs while processes are killed with SIGKILL, worker threads crash
 * (poison jobs) and gearmand restarts. Then the books are checked: every acknowledged background job
 * ran (or, for poison, ended dead), every foreground call settled with a result or a typed error, jobs
 * ran twice only where at-least-once allows it, and a queue file passes `PRAGMA integrity_check`.
 * Each part prints its figures; RELIABILITY.md quotes them.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, GearshiftError, WorkerCrashedError } from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands, type TestGearmand } from './helpers/gearmand.js';
import { startRunner, startWorkProcess, stopAllRunners, stopRunner } from './helpers/runner-process.js';
import { queryValue } from './helpers/sqlite.js';

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

/** What the load did: background jobs acknowledged (tag by handle), foreground calls and how they ended. */
class Books {
  readonly acknowledged = new Map<string, string>();
  readonly poisoned = new Set<string>();
  readonly calls: Promise<'ok' | 'typed error'>[] = [];
  /** The typed errors of foreground calls, by code. */
  readonly errors = new Map<string, number>();
  #tag = 0;

  /** Background jobs the backend acknowledged, with the tags they were given. */
  acknowledge(handles: readonly string[], tags: readonly string[]): void {
    handles.forEach((handle, index) => {
      this.acknowledged.set(handle, tags[index] as string);
    });
  }

  nextTag(): string {
    return `t${++this.#tag}`;
  }

  /** Tracks a call that must fail, with a typed error. */
  trackFailure(call: PromiseLike<unknown>): void {
    this.calls.push(
      Promise.resolve(call).then(
        () => {
          throw new Error('a call that must fail succeeded');
        },
        (error: unknown) => this.#typed(error),
      ),
    );
  }

  /** Tracks a foreground call: it must settle with its tag as result, or a typed error. */
  track(call: PromiseLike<unknown>, tag: string): void {
    this.calls.push(
      Promise.resolve(call).then(
        (result) => {
          if (result !== tag) throw new Error(`call ${tag} got ${String(result)}`);
          return 'ok' as const;
        },
        (error: unknown) => this.#typed(error),
      ),
    );
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

/** How many times each tag ran. */
function executions(ledger: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = existsSync(ledger) ? readFileSync(ledger, 'utf8') : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const tag = line.split(' ')[0] as string;
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return counts;
}

async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${limitMs} ms for ${what}`);
    await pause(100);
  }
}

/** The books, checked: settled calls, executions, duplicates. Returns the figures for the summary. */
async function settle(
  books: Books,
  ledger: string,
): Promise<{ ok: number; typed: number; duplicates: number }> {
  const outcomes = await Promise.all(books.calls);
  const counts = executions(ledger);
  const lost = [...books.acknowledged.values()].filter((tag) => !counts.has(tag));
  expect(lost).toEqual([]);
  const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
  return {
    ok: outcomes.filter((outcome) => outcome === 'ok').length,
    typed: outcomes.filter((outcome) => outcome === 'typed error').length,
    duplicates,
  };
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
      let kills = 0;
      let heldAtKills = 0;

      await underChaos(
        () => {
          mixedLoad(gs, books, ledger, (jobs, tags) => {
            gs.backgroundAll(jobs).then((handles) => books.acknowledge(handles, tags));
          });
          if (Math.random() < 0.1)
            gs.background('poison', undefined, { attempts: 2 }).then((handle) => books.poisoned.add(handle));
        },
        async () => {
          const victim = Math.floor(Math.random() * runners.length);
          const runner = runners[victim] as ChildProcess;
          await stopRunner(runner, 'SIGKILL');
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
      const figures = await settle(books, ledger);
      for (const handle of books.acknowledged.keys())
        expect((await gs.status(handle)).state).toBe('completed');
      for (const handle of books.poisoned) expect((await gs.status(handle)).state).toBe('dead');
      // A job runs twice only when its runner died holding it.
      expect(figures.duplicates).toBeLessThanOrEqual(heldAtKills);
      expect(queryValue(queue, 'PRAGMA integrity_check')).toBe('ok');
      await gs.close();
      console.log(
        `chaos, queue file: ${seconds} s, ${kills} runner kills (SIGKILL), ${books.poisoned.size} poison jobs (${books.poisoned.size * 2} thread crashes), ${books.acknowledged.size} background jobs acknowledged, 0 lost, ${figures.duplicates} run twice (of ${heldAtKills} held by killed runners), ${books.calls.length} foreground calls settled (${figures.ok} results, ${figures.typed} typed errors: ${describeErrors(books)}), integrity_check ok`,
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
      const gs = createClient<typeof queueFunctions>({
        functions: moduleUrl,
        gearman: { servers: [server.address], retryMs: 50, requestTimeoutMs: 3000 },
      });
      const books = new Books();
      let kills = 0;
      let restarts = 0;
      let poison = 0;

      await underChaos(
        () => {
          mixedLoad(gs, books, ledger, (jobs, tags) => {
            // A submission refused while gearmand is down is not acknowledged, and not counted.
            gs.backgroundAll(jobs).then(
              (handles) => books.acknowledge(handles, tags),
              () => {},
            );
          });
          if (Math.random() < 0.1) {
            poison++;
            books.trackFailure(gs.run('poison'));
          }
        },
        async () => {
          // Every third fault is a gearmand restart, so that each run has both kinds.
          if ((kills + restarts) % 3 === 1) {
            await server.restart();
            restarts++;
          } else {
            const victim = Math.floor(Math.random() * workers.length);
            await stopRunner(workers[victim] as ChildProcess, 'SIGKILL');
            kills++;
            workers[victim] = await startWorkProcess(moduleUrl.pathname, workerArgs);
          }
        },
      );

      const figures = await settle(books, ledger).catch(async (error: unknown) => {
        // The acknowledged jobs may still be queued: give the workers time to drain before judging.
        await until('every acknowledged job to run', () => {
          const counts = executions(ledger);
          return [...books.acknowledged.values()].every((tag) => counts.has(tag));
        }).catch(() => {
          throw error;
        });
        return settle(books, ledger);
      });
      const crashed = await gs.run('poison').catch((error: unknown) => error);
      expect(crashed).toBeInstanceOf(WorkerCrashedError);
      await gs.destroy();
      console.log(
        `chaos, gearmand: ${seconds} s, ${kills} worker kills (SIGKILL), ${restarts} gearmand restarts, ${poison} poison jobs (thread crashes), ${books.acknowledged.size} background jobs acknowledged, 0 lost, ${figures.duplicates} run twice, ${books.calls.length} foreground calls settled (${figures.ok} results, ${figures.typed} typed errors: ${describeErrors(books)})`,
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
      expect(tags.every((tag) => counts.get(tag) === 1)).toBe(true);
      await gs.close();
      console.log(
        `chaos, local threads: ${Math.ceil(seconds / 2)} s, ${tasks} tasks in fan-outs of 20, ${crashes} thread crashes, every other task completed exactly once`,
      );
    },
    (seconds + 60) * 1000,
  );
});
