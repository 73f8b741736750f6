/**
 * The conformance suite: every behaviour of the client API that does not depend on the backend, written
 * once. Each backend's test file calls `conformanceSuite` with a factory for clients over that backend.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  ClientClosedError,
  InvalidOptionError,
  JobAbortedError,
  type JobEvent,
  JobFailedError,
  JobTimeoutError,
  PayloadError,
  type TaskEvent,
  UnknownFunctionError,
  UnsupportedError,
} from '../../src/index.js';
import type functions from '../fixtures/functions.js';

/** A backend under test. */
export interface ConformanceTarget {
  /** Makes a client over the backend under test that runs at most `slots` jobs at once. */
  makeClient(options: { slots: number }): Client<typeof functions>;
  /**
   * What the backend cannot carry, each tested for what happens instead: Perl's Gearman::Server assigns
   * jobs with JOB_ASSIGN (no unique), drops WORK_DATA and WORK_WARNING, has no SUBMIT_JOB_LOW, and no
   * `cancel job` (only a worker that is there to be told can drop a queued job).
   */
  lacks?: readonly ConformanceGap[];
}

/** A behaviour of the suite that a backend may lack (see ConformanceTarget.lacks). */
export type ConformanceGap =
  | 'unique at the worker'
  | 'data and warnings'
  | 'low priority'
  | 'dropping a queued job';

type FixtureClient = Client<typeof functions>;

export function conformanceSuite(name: string, target: ConformanceTarget): void {
  const lacks = (gap: ConformanceGap) => target.lacks?.includes(gap) ?? false;
  describe(`${name} conformance`, () => {
    const clients: FixtureClient[] = [];
    const scratch = mkdtempSync(join(tmpdir(), 'gearshift-conformance-'));
    const open = (slots = 2): FixtureClient => {
      const client = target.makeClient({ slots });
      clients.push(client);
      return client;
    };
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.destroy()));
    });
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    describe('results and errors', () => {
      it('returns what a sync handler returns', async () => {
        expect(await open().run('add', { a: 2, b: 40 })).toBe(42);
      });

      it('returns what an async handler resolves', async () => {
        expect(await open().run('sleep', { ms: 5 })).toBe(5);
      });

      it('runs a function that takes no input', async () => {
        expect(await open().run('noInput')).toBe('nothing needed');
      });

      it("gives the handler its job's handle, unique and function name", async () => {
        const client = open();
        const job = client.run('describeJob', undefined, { unique: 'who-am-i' });
        const seen = await job;
        const unique = lacks('unique at the worker') ? undefined : 'who-am-i';
        expect(seen).toEqual({ handle: job.handle, unique, functionName: 'describeJob' });
        expect(job.handle).toMatch(/\S/);
      });

      it("rejects with JobFailedError carrying the handler's error: name, message, code, stack, properties", async () => {
        const error = await open()
          .run('fail', { message: 'the disk is full' })
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(error).toBeInstanceOf(JobFailedError);
        const failed = error as JobFailedError;
        expect(failed.code).toBe('ERR_JOB_FAILED');
        expect(failed.functionName).toBe('fail');
        expect(failed.message).toContain('fail');
        expect(failed.message).toContain('the disk is full');
        const cause = failed.cause as Error & { code?: string; detail?: number };
        expect(cause.name).toBe('CodedError');
        expect(cause.message).toBe('the disk is full');
        expect(cause.code).toBe('E_CODED');
        expect(cause.detail).toBe(42);
        expect(cause.stack).toContain('functions.ts');
      });

      it('rebuilds built-in error classes thrown by async handlers', async () => {
        const error = await open()
          .run('failAsync', { message: 'wrong type' })
          .catch((thrown: unknown) => thrown);
        expect((error as JobFailedError).cause).toBeInstanceOf(TypeError);
      });

      it('gives results JSON semantics: toJSON applied, undefined properties dropped, array holes null', async () => {
        expect(await open().run('dated')).toEqual({ at: '1970-01-01T00:00:00.000Z', list: [null, 1] });
      });

      it('fails with PayloadError when a result cannot be carried as JSON', async () => {
        const error = await open()
          .run('badResult')
          .catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(PayloadError);
        expect((error as PayloadError).message).toMatch(/result\.big.*BigInt/);
      });

      it('passes raw bytes to and from a bytes function, NUL bytes included', async () => {
        const client = open();
        const result = await client.run('upper', Buffer.from([0x61, 0x00, 0x62, 0xff]));
        expect(Buffer.isBuffer(result)).toBe(true);
        expect([...result]).toEqual([0x41, 0x00, 0x42, 0xff]);
        expect((await client.run('bytesLength', 'héllo')).toString()).toBe('6 bytes for bytesLength');
      });

      it('refuses a bytes function input that is not bytes, before it runs', async () => {
        const client = open();
        // @ts-expect-error a bytes function takes a Buffer, a Uint8Array or a string
        const error = await client.run('upper', { text: 'hi' }).catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(PayloadError);
        expect((error as PayloadError).message).toContain('takes bytes');
      });
    });

    describe('refusals at submit', () => {
      it('refuses an unknown function and lists the functions that exist', async () => {
        const client = open() as unknown as Client;
        const error = await client.run('nope', 1).catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(UnknownFunctionError);
        expect((error as UnknownFunctionError).known).toContain('add');
        expect((error as Error).message).toMatch(/Unknown function 'nope'.*'add'/);
      });

      const unserializable: [string, unknown, RegExp][] = [
        ['a function', { a: () => 1 }, /input\.a is a function/],
        ['a symbol', [Symbol('s')], /input\[0\] is a symbol/],
        [
          'a class instance with methods',
          {
            when: new (class Point {
              x = 1;
              norm() {
                return 1;
              }
            })(),
          },
          /input\.when is an instance of Point/,
        ],
        ['a Date', { when: new Date() }, /input\.when is a Date/],
        ['a BigInt', { n: 1n }, /input\.n is a BigInt/],
        [
          'a cycle',
          (() => {
            const o: Record<string, unknown> = {};
            o.self = o;
            return o;
          })(),
          /input\.self refers back to itself/,
        ],
        ['NaN', { n: Number.NaN }, /input\.n is NaN/],
        ['a Map', { m: new Map() }, /input\.m is a Map/],
      ];
      for (const [what, input, message] of unserializable) {
        it(`refuses an input holding ${what}, naming where, and runs nothing`, async () => {
          const client = open() as unknown as Client;
          const marker = join(scratch, `refused-${what.replaceAll(' ', '-')}`);
          const error = await client.run('echo', input).catch((thrown: unknown) => thrown);
          expect(error).toBeInstanceOf(PayloadError);
          expect((error as Error).message).toMatch(message);
          await client.run('mark', { path: marker, text: 'ran' });
          expect(readFileSync(marker, 'utf8')).toBe('ran\n');
        });
      }

      it('refuses bad options with InvalidOptionError naming the option', async () => {
        const client = open() as unknown as Client;
        const cases: [unknown, RegExp][] = [
          [{ priority: 'urgent' }, /`options\.priority` to be 'high', 'normal' or 'low', got `"urgent"`/],
          [{ unique: 'x'.repeat(65) }, /`options\.unique` to be at most 64 bytes/],
          [
            { timeout: -1 },
            /`options\.timeout` to be a number of milliseconds above 0 up to 315576000000 \(10 years\), got `-1`/,
          ],
          [
            { timeout: 1e12 },
            /`options\.timeout` to be a number of milliseconds above 0 up to 315576000000 \(10 years\), got `1000000000000`/,
          ],
          [{ timeout: Number.NaN }, /`options\.timeout` to be a number of milliseconds .* got `NaN`/],
          [{ signal: 'stop' }, /`options\.signal` to be an AbortSignal/],
          [{ on: { status: 3 } }, /`options\.on\.status` to be a function/],
        ];
        for (const [options, message] of cases) {
          const error = await client
            .run('add', { a: 1, b: 1 }, options as object)
            .catch((thrown: unknown) => thrown);
          expect(error).toBeInstanceOf(InvalidOptionError);
          expect((error as Error).message).toMatch(message);
        }
      });
    });

    describe('events', () => {
      const expectedTypes = lacks('data and warnings')
        ? ['created', 'status', 'status', 'complete']
        : ['created', 'status', 'data', 'status', 'data', 'warning', 'complete'];

      it('calls back for created, status, data, warning and complete, in order', async () => {
        const seen: JobEvent[] = [];
        const record = (event: JobEvent) => seen.push(event);
        const on = { created: record, status: record, data: record, warning: record, complete: record };
        const result = await open().run('progress', { steps: 2 }, { on });
        expect(result).toEqual({ steps: 2 });
        expect(seen.map((event) => event.type)).toEqual(expectedTypes);
        expect(seen[1]).toMatchObject({ type: 'status', numerator: 1, denominator: 2 });
        if (!lacks('data and warnings')) {
          expect(seen[4]).toMatchObject({ type: 'data', data: { step: 2 } });
          expect(seen[5]).toMatchObject({ type: 'warning', message: 'almost done' });
        }
        expect(new Set(seen.map((event) => event.handle)).size).toBe(1);
      });

      it('yields the same events from an async iterator, which then ends', async () => {
        const types: string[] = [];
        for await (const event of open().run('progress', { steps: 2 })) types.push(event.type);
        expect(types).toEqual(expectedTypes);
      });

      it('reports exception then fail for a handler that throws, and the iterator does not throw', async () => {
        const events: JobEvent[] = [];
        for await (const event of open().run('fail', { message: 'nope' })) events.push(event);
        expect(events.map((event) => event.type)).toEqual(['created', 'exception', 'fail']);
        expect((events[1] as { error: Error }).error.message).toBe('nope');
        expect((events[2] as { error: Error }).error).toBeInstanceOf(JobFailedError);
      });

      it('shows the progress of a fan-out as it happens, each event tagged with its task', async () => {
        const client = open();
        const set = client.runAll([
          client.task('progress', { steps: 3 }),
          client.task('progress', { steps: 1 }),
        ]);
        const events: TaskEvent[] = [];
        for await (const event of set) events.push(event);
        const statuses = events.filter((event) => event.type === 'status');
        expect(statuses.filter((event) => event.index === 0)).toHaveLength(3);
        expect(statuses.filter((event) => event.index === 1)).toHaveLength(1);
        expect(
          events
            .filter((event) => event.type === 'complete')
            .map((event) => event.index)
            .sort(),
        ).toEqual([0, 1]);
        expect((await set).every((result) => result.ok)).toBe(true);
      });
    });

    describe('runAll', () => {
      it('gives results in input order, each settled on its own', async () => {
        const client = open();
        const results = await client.runAll([
          client.task('sleep', { ms: 30 }),
          client.task('fail', { message: 'only this one' }),
          client.task('add', { a: 1, b: 2 }),
        ]);
        expect(results[0]).toMatchObject({ ok: true, result: 30 });
        expect(results[1].ok).toBe(false);
        expect(!results[1].ok && results[1].error).toBeInstanceOf(JobFailedError);
        expect(results[2]).toMatchObject({ ok: true, result: 3 });
        expect(results.every((result) => typeof result.handle === 'string')).toBe(true);
      });

      it('keeps at most `concurrency` tasks in flight', async () => {
        const client = open(4);
        let inFlight = 0;
        let most = 0;
        const tasks = Array.from({ length: 8 }, () => client.task('sleep', { ms: 20 }));
        const results = await client.runAll(tasks, {
          concurrency: 2,
          on: {
            created: () => {
              inFlight++;
              most = Math.max(most, inFlight);
            },
            complete: () => inFlight--,
          },
        });
        expect(results.every((result) => result.ok)).toBe(true);
        expect(most).toBe(2);
      });

      it('resolves an empty set at once', async () => {
        expect(await open().runAll([])).toEqual([]);
      });

      it('aborts every task not ended when its signal fires', async () => {
        const client = open(1);
        const controller = new AbortController();
        const tasks = [client.task('sleep', { ms: 5_000 }), client.task('add', { a: 1, b: 1 })];
        const set = client.runAll(tasks, { signal: controller.signal });
        setTimeout(() => controller.abort(new Error('user left')), 50);
        const started = Date.now();
        const results = await set;
        expect(Date.now() - started).toBeLessThan(4_000);
        for (const result of results) {
          expect(result.ok).toBe(false);
          expect(!result.ok && result.error).toBeInstanceOf(JobAbortedError);
        }
      });
    });

    describe('priority and unique', () => {
      it('runs queued jobs high before normal before low', async () => {
        const client = open(1);
        const log = join(scratch, 'priority');
        const blocker = client.run('sleep', { ms: 200 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const low = client.run('mark', { path: log, text: 'low' }, { priority: 'low' });
        const jobs = [
          client.run('mark', { path: log, text: 'normal' }),
          client.run('mark', { path: log, text: 'high' }, { priority: 'high' }),
        ];
        if (lacks('low priority')) {
          expect(await low.catch((thrown: unknown) => thrown)).toBeInstanceOf(UnsupportedError);
          await Promise.all([blocker, ...jobs]);
          expect(readFileSync(log, 'utf8')).toBe('high\nnormal\n');
          return;
        }
        await Promise.all([blocker, low, ...jobs]);
        expect(readFileSync(log, 'utf8')).toBe('high\nnormal\nlow\n');
      });

      it('coalesces jobs with the same function and unique while in flight: one run, one result for all', async () => {
        const client = open();
        const first = client.run('token', { ms: 100 }, { unique: 'report:7' });
        const second = client.run('token', { ms: 100 }, { unique: 'report:7' });
        const other = client.run('token', { ms: 100 }, { unique: 'report:8' });
        const [a, b, c] = await Promise.all([first, second, other]);
        expect(a).toBe(b);
        expect(c).not.toBe(a);
        expect(first.handle).toBe(second.handle);
        const later = await client.run('token', { ms: 1 }, { unique: 'report:7' });
        expect(later).not.toBe(a);
      });
    });

    describe('timeouts and aborts', () => {
      it('counts the timeout from when the job starts, not from when it was queued', async () => {
        const client = open(1);
        const blocker = client.run('sleep', { ms: 400 });
        const queued = client.run('sleep', { ms: 20 }, { timeout: 250 });
        expect(await queued).toBe(20);
        await blocker;
      });

      it('fails a running job that overruns with JobTimeoutError and aborts its signal, freeing its slot', async () => {
        const client = open(1);
        const started = Date.now();
        const error = await client
          .run('sleep', { ms: 10_000 }, { timeout: 100 })
          .catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(JobTimeoutError);
        expect((error as JobTimeoutError).timeout).toBe(100);
        // The handler honours its signal, so the only slot is free again long before 10 s.
        expect(await client.run('add', { a: 1, b: 1 })).toBe(2);
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it("applies the function's own timeout when the caller gives none", async () => {
        const error = await open()
          .run('slowDefault')
          .catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(JobTimeoutError);
      });

      it('drops a queued job at once when its signal fires: it never runs', async () => {
        const client = open(1);
        const marker = join(scratch, 'dropped');
        const controller = new AbortController();
        // The blocker holds the one slot for 3 s: an abort that waited for the slot would take that long.
        const blocker = client.run('sleep', { ms: 3000 });
        const queued = client.run('mark', { path: marker, text: 'ran' }, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const abortedAt = Date.now();
        controller.abort('changed my mind');
        const error = await queued.catch((thrown: unknown) => thrown);
        expect(Date.now() - abortedAt).toBeLessThan(1000);
        expect(error).toBeInstanceOf(JobAbortedError);
        expect((error as Error).message).toContain('changed my mind');
        await blocker;
        await client.run('mark', { path: marker, text: 'after' });
        expect(readFileSync(marker, 'utf8')).toBe(
          lacks('dropping a queued job') ? 'ran\nafter\n' : 'after\n',
        );
      });

      it('aborts a running job when its signal fires', async () => {
        const client = open(1);
        const controller = new AbortController();
        const running = client.run('sleep', { ms: 10_000 }, { signal: controller.signal });
        setTimeout(() => controller.abort(), 100);
        expect(await running.catch((thrown: unknown) => thrown)).toBeInstanceOf(JobAbortedError);
        expect(await client.run('add', { a: 2, b: 2 })).toBe(4);
      });

      it('refuses a job whose signal has already fired, without running it', async () => {
        const error = await open()
          .run('add', { a: 1, b: 1 }, { signal: AbortSignal.abort() })
          .catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(JobAbortedError);
      });
    });

    describe('status', () => {
      it("tells a running job's progress by handle, and that a finished one no longer runs", async () => {
        const client = open();
        let resolveHandle: (handle: string) => void = () => {};
        const statusSeen = new Promise<string>((resolve) => {
          resolveHandle = resolve;
        });
        const job = client.run(
          'progress',
          { steps: 40 },
          { on: { status: (event) => event.numerator === 2 && resolveHandle(event.handle as string) } },
        );
        const handle = await statusSeen;
        const running = await client.status(handle);
        expect(running).toMatchObject({ handle, known: true, running: true, denominator: 40 });
        expect(running.numerator).toBeGreaterThanOrEqual(2);
        await job;
        // A backend may forget a finished job (as gearmand does) or keep it (as a queue file does).
        const finished = await client.status(handle);
        expect(finished.running).toBe(false);
        expect(finished.known ? finished.state : 'forgotten').toMatch(/^(forgotten|completed)$/);
        expect(await client.status('H:nowhere:1')).toMatchObject({ known: false });
      });
    });

    describe('close and destroy', () => {
      it('close() finishes queued and running jobs, then refuses new ones', async () => {
        const client = open(1);
        const jobs = [client.run('sleep', { ms: 50 }), client.run('add', { a: 1, b: 1 })];
        const closing = client.close();
        const refused = await client.run('add', { a: 1, b: 1 }).catch((thrown: unknown) => thrown);
        expect(refused).toBeInstanceOf(ClientClosedError);
        expect(await Promise.all(jobs)).toEqual([50, 2]);
        await closing;
      });

      it('destroy() rejects every job in flight at once', async () => {
        const client = open(1);
        const running = client.run('sleep', { ms: 10_000 }).catch((thrown: unknown) => thrown);
        const queued = client.run('add', { a: 1, b: 1 }).catch((thrown: unknown) => thrown);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const destroyedAt = Date.now();
        await client.destroy();
        expect(await running).toBeInstanceOf(ClientClosedError);
        expect(await queued).toBeInstanceOf(ClientClosedError);
        expect(Date.now() - destroyedAt).toBeLessThan(2_000);
      });
    });
  });
}
