import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, JobTimeoutError, WorkerCrashedError } from '../src/index.js';
import type crashers from './fixtures/crashers.js';

const crashersModule = new URL('./fixtures/crashers.js', import.meta.url);
const clients: Client<typeof crashers>[] = [];
function open(options: { threads?: number; abortGrace?: number; maxOldGenerationSizeMb?: number } = {}) {
  const { maxOldGenerationSizeMb, ...rest } = options;
  const client = createClient<typeof crashers>({
    functions: crashersModule,
    threads: 1,
    ...rest,
    ...(maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb } } : {}),
  });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
});

async function crashOf(job: PromiseLike<unknown>): Promise<WorkerCrashedError> {
  const error = await Promise.resolve(job).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(WorkerCrashedError);
  return error as WorkerCrashedError;
}

describe('a job that kills its thread', () => {
  it('process.exit(): that job fails with WorkerCrashedError, the thread is replaced', async () => {
    const client = open();
    const before = await client.run('threadId');
    const error = await crashOf(client.run('exitOn', { value: 1, exitOn: 1 }));
    expect(error.code).toBe('ERR_WORKER_CRASHED');
    expect(error.message).toMatch(/exitOn \(H:.*\) lost its worker: its thread exited with code 3/);
    const after = await client.run('threadId');
    expect(after).not.toBe(before);
  });

  it('jobs that each kill their thread, one after another: every thread is replaced, the job after them runs', async () => {
    const client = open();
    const results = await client.runAll([
      ...Array.from({ length: 3 }, () => client.task('exitOn', { value: 1, exitOn: 1 })),
      client.task('exitOn', { value: 2, exitOn: 1 }),
    ]);
    expect(results.map((result) => (result.ok ? result.result : result.error.code))).toEqual([
      'ERR_WORKER_CRASHED',
      'ERR_WORKER_CRASHED',
      'ERR_WORKER_CRASHED',
      2,
    ]);
  });

  it('process.exit() inside a batch of tiny jobs: only that job fails, every other one completes', async () => {
    const client = open();
    // Measured as tiny first, so that the jobs below travel many to a batch.
    await client.runAll(
      Array.from({ length: 50 }, (_, value) => client.task('exitOn', { value, exitOn: -1 })),
    );
    const results = await client.runAll(
      Array.from({ length: 300 }, (_, value) => client.task('exitOn', { value, exitOn: 137 })),
    );
    const failed = results.flatMap((result, index) => (result.ok ? [] : [index]));
    expect(failed).toEqual([137]);
    expect(
      results.map((result) => (result.ok ? result.result : -1)).filter((value) => value >= 0),
    ).toHaveLength(299);
  });

  it('an uncaught error thrown outside its handler: WorkerCrashedError naming it', async () => {
    const client = open();
    const error = await crashOf(client.run('throwLater'));
    expect(error.message).toMatch(/uncaught Error: escaped its handler/);
    expect(await client.run('exitOn', { value: 5, exitOn: -1 })).toBe(5);
  });

  it('null thrown outside its handler: WorkerCrashedError saying so, and the process goes on', async () => {
    const client = open();
    const error = await crashOf(client.run('throwNullLater'));
    expect(error.message).toMatch(/its thread died of an uncaught null/);
    expect(await client.run('exitOn', { value: 6, exitOn: -1 })).toBe(6);
  });

  it('exhausting its heap under resourceLimits: WorkerCrashedError, others on other threads complete', async () => {
    const client = open({ threads: 2, maxOldGenerationSizeMb: 48 });
    const [hog, ...others] = await client.runAll([
      client.task('hog'),
      ...Array.from({ length: 20 }, (_, value) => client.task('exitOn', { value, exitOn: -1 })),
    ]);
    expect(!hog?.ok && hog?.error).toBeInstanceOf(WorkerCrashedError);
    expect(!hog?.ok && hog?.error.message).toMatch(/ran out of memory/);
    expect(others.every((result) => result.ok)).toBe(true);
  });
});

describe('a thread that dies while idle', () => {
  it('is replaced, with a warning that says what it died of, and the job that left the timer keeps its result', async () => {
    const client = open();
    const warned = new Promise<Error>((resolve) => {
      const listener = (warning: Error) => {
        if (warning.name !== 'GearshiftWarning') return;
        process.off('warning', listener);
        resolve(warning);
      };
      process.on('warning', listener);
    });
    const before = await client.run('strayThrow');
    expect(typeof before).toBe('number');
    expect((await warned).message).toBe('a worker thread died while idle: Error: a stray timer threw');
    const after = await client.run('threadId');
    expect(after).not.toBe(before);
  });
});

describe('a job that ignores its abort', () => {
  it('times out for its caller at once, and its thread is terminated and replaced after the grace period', async () => {
    const client = open({ abortGrace: 200 });
    const before = await client.run('threadId');
    const started = Date.now();
    const error = await client
      .run('ignoreAbort', { ms: 20_000 }, { timeout: 100 })
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(JobTimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);
    // The only thread was spinning for 20 s; a reply well before that means it was replaced.
    const after = await client.run('threadId');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(after).not.toBe(before);
  });

  it('the jobs queued behind it still run, on the replacement thread', async () => {
    const client = open({ abortGrace: 100 });
    const stuck = client
      .run('ignoreAbort', { ms: 20_000 }, { timeout: 50 })
      .catch((thrown: unknown) => thrown);
    const behind = Array.from({ length: 5 }, (_, value) => client.run('exitOn', { value, exitOn: -1 }));
    expect(await stuck).toBeInstanceOf(JobTimeoutError);
    expect(await Promise.all(behind)).toEqual([0, 1, 2, 3, 4]);
  });
});
