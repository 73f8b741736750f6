/**
 * The queue's guarantees at the level of the file: leases fenced by token, attempts counted at claim,
 * and group commit. Real SQLite files, driven directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QueueStore } from '../src/queue/queue-store.js';
import { uncountedAtMost } from '../src/queue/sql/function-counts.js';
import type { NewJob } from '../src/queue/sql/insert-jobs.js';
import { State } from '../src/queue/stored-codes.js';

const directory = mkdtempSync(join(tmpdir(), 'gearshift-store-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const stores: QueueStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

let files = 0;
function store(): QueueStore {
  const opened = new QueueStore(join(directory, `s-${++files}.db`), { durability: 'process', pollMs: 1000 });
  stores.push(opened);
  return opened;
}

function job(overrides: Partial<NewJob> = {}): NewJob {
  return {
    functionName: 'work',
    input: '{"n":1}',
    unique: null,
    priority: 1,
    foreground: false,
    runAt: 0,
    maxAttempts: 3,
    backoff: 0,
    traceparent: null,
    ...overrides,
  };
}

const functions = JSON.stringify(['work']);
const write = <T>(queue: QueueStore, operation: () => T) => queue.transaction(operation, 'immediate');

describe('leases', () => {
  it('fence every write by token: a runner that lost its lease can neither complete nor fail the job', () => {
    const queue = store();
    const [id] = write(queue, () => queue.insertJobs([job()], 1000)) as [number];
    const [first] = write(queue, () => queue.claimJobs.claim('runner-a', 111, functions, 1000, 100, 10));
    expect(first).toMatchObject({ id, attempts: 1 });

    // Runner A stalls past its lease; another runner takes the job back and claims it.
    expect(write(queue, () => queue.claimJobs.reapExpired(2000))).toBe(1);
    const [second] = write(queue, () => queue.claimJobs.claim('runner-b', 222, functions, 2000, 100, 10));
    expect(second).toMatchObject({ id, attempts: 2 });

    const held = { id, functionName: 'work' };
    expect(write(queue, () => queue.settle.complete(held, 111, '"from a"', 2050))).toBe(false);
    expect(write(queue, () => queue.settle.fail(held, 111, State.dead, 0, '{}', 2050))).toBe(false);
    expect(write(queue, () => queue.settle.release(held, 111, 2050))).toBe(false);
    expect(write(queue, () => queue.settle.complete(held, 222, '"from b"', 2060))).toBe(true);
    // The runner that lost the lease moved no count; the one that held it moved one job to completed.
    expect(queue.counts.all()).toEqual([{ functionName: 'work', state: State.completed, count: 1 }]);
    expect(queue.readJobs.byId(id)).toMatchObject({
      state: State.completed,
      result: '"from b"',
      attempts: 2,
    });
  });

  it('keep a renewed lease: only an expired one goes back to the queue', () => {
    const queue = store();
    const [id] = write(queue, () => queue.insertJobs([job()], 1000)) as [number];
    write(queue, () => queue.claimJobs.claim('runner-a', 7, functions, 1000, 100, 10));
    // The renewal says which jobs the runner still holds, and under which lease token.
    expect(write(queue, () => queue.leases.renew('runner-a', 5000))).toEqual(new Map([[id, 7]]));
    expect(write(queue, () => queue.leases.renew('runner-b', 5000))).toEqual(new Map());
    expect(write(queue, () => queue.claimJobs.reapExpired(4000))).toBe(0);
    expect(write(queue, () => queue.claimJobs.reapExpired(6000))).toBe(1);
  });

  it('count attempts at claim: a lease lost on the last attempt ends the job (dead, or failed for a caller)', () => {
    const queue = store();
    const ids = write(queue, () =>
      queue.insertJobs([job({ maxAttempts: 1 }), job({ maxAttempts: 1, foreground: true })], 1000),
    );
    write(queue, () => queue.claimJobs.claim('runner-a', 1, functions, 1000, 100, 10));
    write(queue, () => queue.claimJobs.reapExpired(2000));
    const [background, foreground] = ids.map((id) => queue.readJobs.byId(id));
    expect(background).toMatchObject({ state: State.dead, attempts: 1 });
    expect(foreground).toMatchObject({ state: State.failed, attempts: 1 });
    expect(JSON.parse(background?.error ?? '{}')).toMatchObject({ code: 'ERR_WORKER_CRASHED' });
  });

  it('claim ready jobs in priority order across functions, then oldest first, and only functions the runner knows', () => {
    const queue = store();
    write(queue, () =>
      queue.insertJobs(
        [
          job({ functionName: 'work', priority: 2 }),
          job({ functionName: 'other', priority: 0 }),
          job({ functionName: 'work', priority: 0 }),
          job({ functionName: 'work', priority: 1, runAt: 5000 }),
          job({ functionName: 'unknown', priority: 0 }),
        ],
        1000,
      ),
    );
    const claimed = write(queue, () =>
      queue.claimJobs.claim('runner', 1, JSON.stringify(['work', 'other']), 1000, 1000, 10),
    );
    expect(claimed.map((row) => [row.functionName, row.priority])).toEqual([
      ['other', 0],
      ['work', 0],
      ['work', 2],
    ]);
    expect(queue.claimJobs.nextReadyAt(functions, 1000)).toBe(5000);
  });
});

describe('adding jobs', () => {
  it('writes a bulk call in chunks, each job with its own values, its id in order, a unique joined once', () => {
    const queue = store();
    const [kept] = write(queue, () => queue.insertJobs([job({ unique: 'kept' })], 1000)) as [number];
    // 200 jobs: three whole chunks of rows and a rest, with unique jobs among them; the 100th joins
    // the 10th of the same call, and the 150th joins a job kept before.
    const jobs = Array.from({ length: 200 }, (_, n) =>
      job({
        input: `{"n":${n}}`,
        priority: n % 3,
        runAt: 2000 + n,
        unique: n === 10 || n === 100 ? 'twice' : n === 150 ? 'kept' : null,
        functionName: n % 2 === 0 ? 'work' : 'other',
      }),
    );
    const ids = write(queue, () => queue.insertJobs(jobs, 1000));
    const newIds = ids.filter((_, n) => n !== 100 && n !== 150);
    expect(newIds).toEqual(Array.from({ length: 198 }, (_, n) => kept + 1 + n));
    expect(ids[100]).toBe(ids[10]);
    expect(ids[150]).toBe(kept);
    for (const n of [0, 10, 63, 64, 127, 191, 192, 199]) {
      expect(queue.readJobs.detail(ids[n] as number), `job ${n}`).toMatchObject({
        functionName: n % 2 === 0 ? 'work' : 'other',
        input: `{"n":${n}}`,
        priority: n % 3,
        runAt: 2000 + n,
        state: State.queued,
      });
    }
    expect(queue.db.prepare('SELECT count(*) FROM jobs').value()).toBe(199);
    expect(queue.counts.active()).toEqual([
      { functionName: 'other', queued: 100, running: 0 },
      // 98 of this call's (two joined) and the one kept before.
      { functionName: 'work', queued: 99, running: 0 },
    ]);
  });
});

describe('adding jobs alike', () => {
  it('writes a bulk call of one function and the same options with each input in its row', () => {
    const queue = store();
    // Two whole chunks and a rest, inputs of each kind: JSON text, bytes, none.
    const inputs = Array.from({ length: 140 }, (_, n) =>
      n % 3 === 0 ? `{"n":${n}}` : n % 3 === 1 ? new Uint8Array([n, 255 - n]) : null,
    );
    const ids = write(queue, () =>
      queue.insertJobs(
        inputs.map((input) => job({ input })),
        1000,
      ),
    );
    expect(ids).toEqual(Array.from({ length: 140 }, (_, n) => n + 1));
    const stored = queue.db
      .prepare('SELECT id, input, function, priority, max_attempts FROM jobs ORDER BY id')
      .all();
    expect(stored).toEqual(
      inputs.map((input, n) => ({
        id: n + 1,
        input:
          input instanceof Uint8Array
            ? expect.toSatisfy((bytes: Uint8Array) => Buffer.from(bytes).equals(input))
            : input,
        function: 'work',
        priority: 1,
        max_attempts: 3,
      })),
    );
  });
});

describe('counting jobs', () => {
  /** The counts as the readers tell them, and as the rows count them. */
  const both = (queue: QueueStore) => ({
    told: queue.counts.all(),
    rows: queue.db
      .prepare(
        'SELECT function AS functionName, state, count(*) AS count FROM jobs GROUP BY 1, 2 ORDER BY 1, 2',
      )
      .all(),
  });
  const stored = (queue: QueueStore) =>
    queue.db.prepare('SELECT count(*) FROM function_counts WHERE count != 0').value();

  it('leaves a single enqueue uncounted, which readers count, and counts them all before many pile up', () => {
    const queue = store();
    for (let n = 0; n < 3; n++) write(queue, () => queue.insertJobs([job()], 1000));
    // The point: those commits wrote no count.
    expect(stored(queue)).toBe(0);
    expect(queue.counts.active()).toEqual([{ functionName: 'work', queued: 3, running: 0 }]);
    expect(queue.counts.current('work', State.queued)).toBe(3);
    // A job claimed while uncounted: queued in the range, moved in the stored counts.
    write(queue, () => queue.claimJobs.claim('runner', 1, functions, 1000, 100, 1));
    expect(queue.counts.active()).toEqual([{ functionName: 'work', queued: 2, running: 1 }]);
    for (let n = 0; n < uncountedAtMost; n++) write(queue, () => queue.insertJobs([job()], 1000));
    const uncounted = queue.db
      .prepare("SELECT count(*) FROM jobs WHERE id > (SELECT value FROM queue_info WHERE key = 'counted_id')")
      .value() as number;
    expect(uncounted).toBeLessThan(uncountedAtMost);
    expect(queue.counts.current('work', State.queued)).toBe(uncountedAtMost + 2);
    const { told, rows } = both(queue);
    expect(told).toEqual(rows);
  });

  it('keeps a call of many jobs whole or not at all in a shared batch, with the counts', async () => {
    const queue = store();
    // A failure no check can foresee (a full disk, say), injected at the 700th job of a call of 1,200:
    // enough for the call to count its jobs as it adds them.
    queue.db.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.input = '{"n":700}'
       BEGIN SELECT RAISE(ABORT, 'the disk is full'); END`,
    );
    const many = Array.from({ length: 1200 }, (_, n) => job({ input: `{"n":${n}}` }));
    const [before, failing, after] = await Promise.allSettled([
      queue.writes.write(() => queue.insertJobs([job({ functionName: 'other' })], 1000)),
      queue.writes.write(() => queue.insertJobs(many, 1000)),
      queue.writes.write(() => queue.insertJobs([job({ functionName: 'other' })], 1000)),
    ]);
    expect(failing).toMatchObject({
      status: 'rejected',
      reason: { message: expect.stringMatching(/disk is full/) },
    });
    expect([before.status, after.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(queue.counts.active()).toEqual([{ functionName: 'other', queued: 2, running: 0 }]);
    const { told, rows } = both(queue);
    expect(told).toEqual(rows);
  });

  it('counts the jobs a delete takes before it takes them', () => {
    const queue = store();
    const ids = [1, 2, 3].map(() => write(queue, () => queue.insertJobs([job()], 1000))[0] as number);
    write(queue, () => queue.claimJobs.claim('runner', 1, functions, 1000, 100, 2));
    for (const id of ids.slice(0, 2))
      write(queue, () => queue.settle.complete({ id, functionName: 'work' }, 1, 'null', 1100));
    expect(write(queue, () => queue.control.remove({ ids }))).toBe(2);
    write(queue, () => queue.insertJobs([job()], 1000));
    expect(queue.counts.active()).toEqual([{ functionName: 'work', queued: 2, running: 0 }]);
    const { told, rows } = both(queue);
    expect(told).toEqual(rows);
  });
});

describe('the change signal', () => {
  it("wakes a waiter once for this process's own commit, and soon for another connection's", async () => {
    const path = join(directory, `signal-${++files}.db`);
    const own = new QueueStore(path, { durability: 'process', pollMs: 60_000 });
    const other = new QueueStore(path, { durability: 'process', pollMs: 60_000 });
    stores.push(own, other);
    let wakes = 0;
    const unsubscribe = own.changes.subscribe(() => wakes++);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      wakes = 0;
      await own.writes.write(() => own.insertJobs([job()], 1000));
      // The watch sees the WAL written too; that sign is this process's own commit, told already.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(wakes).toBe(1);
      await other.writes.write(() => other.insertJobs([job()], 1000));
      await expect.poll(() => wakes, { timeout: 1000, interval: 5 }).toBe(2);
    } finally {
      unsubscribe();
    }
  });
});

describe('group commit', () => {
  it('commits every write asked for together in one commit, and a failing write fails alone', async () => {
    const queue = store();
    let commits = 0;
    const { WriteBatcher } = await import('../src/queue/write-batcher.js');
    const batcher = new WriteBatcher(
      queue.db,
      (work) => queue.transaction(work, 'immediate'),
      () => commits++,
      false,
    );
    const writes = Array.from({ length: 100 }, () => batcher.write(() => queue.insertJobs([job()], 1000)[0]));
    const failing = batcher.write(() => queue.db.prepare('INSERT INTO nowhere VALUES (1)').run());
    const ids = await Promise.all(writes);
    await expect(failing).rejects.toThrow(/no such table: nowhere/);
    expect(commits).toBe(1);
    expect(new Set(ids).size).toBe(100);
    expect(queue.db.prepare('SELECT count(*) FROM jobs').value()).toBe(100);
    expect(queue.counts.active()).toEqual([{ functionName: 'work', queued: 100, running: 0 }]);
  });

  it("with durability 'power', gathers the writes of a whole event-loop turn into one commit (one disk flush)", async () => {
    const queue = store();
    let commits = 0;
    const { WriteBatcher } = await import('../src/queue/write-batcher.js');
    const batcher = new WriteBatcher(
      queue.db,
      (work) => queue.transaction(work, 'immediate'),
      () => commits++,
      true,
    );
    const first = batcher.write(() => queue.insertJobs([job()], 1000));
    // Later in the same turn (after other callbacks' microtasks): still the same commit.
    await Promise.resolve();
    const second = batcher.write(() => queue.insertJobs([job()], 1000));
    await Promise.all([first, second]);
    expect(commits).toBe(1);
  });

  it('answers writeThen in the flush, before what the commit wakes; a callback that throws costs no other write its answer', async () => {
    const queue = store();
    const heard: string[] = [];
    const { WriteBatcher } = await import('../src/queue/write-batcher.js');
    const batcher = new WriteBatcher(
      queue.db,
      (work) => queue.transaction(work, 'immediate'),
      () => heard.push('committed'),
      false,
    );
    const thrown = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    batcher.writeThen(
      () => queue.insertJobs([job()], 1000)[0],
      () => {
        heard.push('first answered');
        throw new Error('a defect in a callback');
      },
      () => heard.push('first failed'),
    );
    const second = batcher.write(() => queue.insertJobs([job()], 1000)[0]);
    batcher.flush();
    // Synchronously: the first callback ran, then the commit hook; the promise's answer is on its way.
    expect(heard).toEqual(['first answered', 'committed']);
    expect(typeof (await second)).toBe('number');
    expect(((await thrown) as Error).message).toBe('a defect in a callback');
    expect(queue.db.prepare('SELECT count(*) FROM jobs').value()).toBe(2);
  });
});

describe('opening a new file', () => {
  it('from several processes at the same moment: every one of them opens it (rounds of four)', async () => {
    const { execFile } = await import('node:child_process');
    const open = `import('${new URL('../dist/index.js', import.meta.url).href}').then(async ({ openQueue }) => (await openQueue(process.argv[1])).close())`;
    for (let round = 0; round < 16; round++) {
      const path = join(directory, `together-${round}.db`);
      const exits = await Promise.all(
        [1, 2, 3, 4].map(
          () =>
            new Promise<string>((resolve) => {
              execFile(
                process.execPath,
                ['--input-type=module', '-e', open, path],
                (error, _stdout, stderr) => resolve(error ? stderr : 'ok'),
              );
            }),
        ),
      );
      expect(exits).toEqual(['ok', 'ok', 'ok', 'ok']);
    }
  });

  it('from four threads released together, 300 files: never mistaken for a foreign database', async () => {
    // Threads meet at a barrier before each file, so their opens overlap far more closely than
    // processes' can: a check that read the application id and the tables apart saw ~4% of these
    // opens fail with "a SQLite database of something else".
    const { Worker } = await import('node:worker_threads');
    const threads = 4;
    const rounds = 300;
    const arrivals = new Int32Array(new SharedArrayBuffer(4));
    const body = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { join } = require('node:path');
      import(workerData.dist).then(async ({ openQueue }) => {
        const { arrivals, directory, threads, rounds } = workerData;
        const failures = [];
        for (let round = 1; round <= rounds; round++) {
          Atomics.add(arrivals, 0, 1);
          while (Atomics.load(arrivals, 0) < threads * round) Atomics.wait(arrivals, 0, Atomics.load(arrivals, 0), 5);
          try {
            (await openQueue(join(directory, 'threads-' + round + '.db'))).close();
          } catch (error) {
            failures.push(error.message);
          }
        }
        parentPort.postMessage(failures);
      });`;
    const workerData = {
      arrivals,
      directory,
      threads,
      rounds,
      dist: new URL('../dist/index.js', import.meta.url).href,
    };
    const failures = await Promise.all(
      Array.from(
        { length: threads },
        () =>
          new Promise<string[]>((resolve, reject) => {
            const worker = new Worker(body, { eval: true, workerData });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    expect(failures.flat()).toEqual([]);
  });
});
