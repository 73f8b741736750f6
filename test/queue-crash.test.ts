/**
 * At least once, under kill -9: a runner process is killed with SIGKILL at random moments during a
 * 2,000-job drain, at least ten times, and restarted each time. At the end every acknowledged job has
 * completed, duplicates happened only for jobs the killed runner held at its death, and the file is
 * sound. And with three runners on one file and nobody killed, no job runs twice.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import type queueFunctions from './fixtures/queue-functions.js';
import { startRunner, stopAllRunners, stopRunner } from './helpers/runner-process.js';
import { jobCounts, openDatabase, queryValue } from './helpers/sqlite.js';

const module = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-crash-'));
afterEach(stopAllRunners);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Enqueues `count` record jobs (with `ms` of work each) through a client that runs nothing. */
async function enqueue(queue: string, log: string, count: number, ms: number): Promise<string[]> {
  const producer = createClient<typeof queueFunctions>({ queue: { path: queue } });
  const handles = await producer.backgroundAll(
    Array.from({ length: count }, (_, index) =>
      producer.backgroundJob('record', { log, tag: `job-${index}`, ms }),
    ),
  );
  await producer.close();
  return handles;
}

/** How many times each tag was run, and by which processes. */
function executions(log: string): { counts: Map<string, number>; pids: Set<string> } {
  const counts = new Map<string, number>();
  const pids = new Set<string>();
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const [tag, pid] = line.split(' ') as [string, string];
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
    pids.add(pid);
  }
  return { counts, pids };
}

function states(queue: string): { completed: number; running: number[] } {
  const db = openDatabase(queue);
  try {
    const completed = db.prepare('SELECT count(*) FROM jobs WHERE state = 2').value() as number;
    const running = db.prepare('SELECT id FROM jobs WHERE state = 1').values() as number[];
    return { completed, running };
  } finally {
    db.close();
  }
}

describe('runners killed with SIGKILL', () => {
  it('lose no acknowledged job over a 2,000-job drain with at least 10 kills; duplicates only of held jobs', async () => {
    const queue = join(directory, 'crash.db');
    const log = join(directory, 'crash.log');
    const handles = await enqueue(queue, log, 2000, 5);
    expect(handles).toHaveLength(2000);
    // One job at a time per thread, so that the drain lasts through ten kills (jobs that wait would
    // otherwise run many at once); the chaos test kills runners at their default concurrency.
    const runnerArgs = ['--threads', '2', '--concurrency', '1', '--lease-ms', '600'];
    /** Jobs the killed runners held at their deaths: the only ones allowed to run twice. */
    const heldAtKill = new Set<number>();
    let kills = 0;
    let killedMidDrain = 0;
    while (kills < 10 && states(queue).completed < 2000) {
      const runner = await startRunner(module, queue, runnerArgs);
      await new Promise((resolve) => setTimeout(resolve, 80 + Math.random() * 320));
      await stopRunner(runner, 'SIGKILL');
      kills++;
      if (states(queue).completed < 2000) killedMidDrain++;
      // Nobody else runs: what is still leased was the dead runner's.
      for (const id of states(queue).running) heldAtKill.add(id);
    }
    const last = await startRunner(module, queue, runnerArgs);
    const deadline = Date.now() + 120_000;
    while (states(queue).completed < 2000 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await stopRunner(last, 'SIGTERM');

    expect(killedMidDrain).toBeGreaterThanOrEqual(10);
    expect(states(queue).completed).toBe(2000);
    const { counts } = executions(log);
    const idOf = new Map(handles.map((handle, index) => [`job-${index}`, Number(handle.split(':')[2])]));
    for (let index = 0; index < 2000; index++)
      expect(counts.get(`job-${index}`) ?? 0).toBeGreaterThanOrEqual(1);
    const duplicated = [...counts].filter(([, count]) => count > 1).map(([tag]) => idOf.get(tag) as number);
    for (const id of duplicated) expect(heldAtKill.has(id)).toBe(true);
    expect(queryValue(queue, 'PRAGMA integrity_check')).toBe('ok');
    // The jobs the dead runners held were counted back where they went.
    const { kept, counted } = jobCounts(queue);
    expect(kept).toEqual(counted);
    console.log(
      `crash test: ${kills} kills, ${heldAtKill.size} jobs held at a kill, ${duplicated.length} ran twice`,
    );
  }, 240_000);
});

describe('several runner processes on one file', () => {
  it('share the work and run no job twice when nobody dies', async () => {
    const queue = join(directory, 'shared.db');
    const log = join(directory, 'shared.log');
    await enqueue(queue, log, 600, 2);
    const runners = await Promise.all([1, 2, 3].map(() => startRunner(module, queue, ['--threads', '1'])));
    const deadline = Date.now() + 60_000;
    while (states(queue).completed < 600 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await Promise.all(runners.map((runner) => stopRunner(runner)));
    const { counts, pids } = executions(log);
    expect(states(queue).completed).toBe(600);
    expect(counts.size).toBe(600);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    expect(pids.size).toBeGreaterThanOrEqual(2);
    const { kept, counted } = jobCounts(queue);
    expect(kept).toEqual(counted);
  }, 120_000);
});
