/**
 * Compile-time guarantees: `npm test` type-checks this file (tsc), so every expectTypeOf below and every
 * line marked @ts-expect-error is checked; at run time the assertions are no-ops.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  type Client,
  createClient,
  defineFunctions,
  type JobContext,
  type JobEvent,
  type JobRun,
  type TaskEvent,
  type TaskResult,
} from '../src/index.js';
import type functions from './fixtures/functions.js';

declare const gs: Client<typeof functions>;

describe('types inferred from typeof functions', () => {
  it('infers results from handlers, through JSON', () => {
    expectTypeOf(gs.run('add', { a: 1, b: 2 })).toEqualTypeOf<JobRun<number>>();
    expectTypeOf(gs.run('progress', { steps: 1 })).resolves.toEqualTypeOf<{ steps: number }>();
    // A Date becomes its ISO string; an undefined property disappears; undefined in an array becomes null.
    expectTypeOf(gs.run('dated')).resolves.toEqualTypeOf<{ at: string; list: (number | null)[] }>();
    expectTypeOf(gs.run('upper', 'text')).resolves.toEqualTypeOf<Buffer>();
  });

  it('makes a wrong function name a compile error', () => {
    // @ts-expect-error 'nope' is not a function of the module
    gs.run('nope', {});
  });

  it('makes a wrong input a compile error', () => {
    // @ts-expect-error b is missing
    gs.run('add', { a: 1 });
    // @ts-expect-error a must be a number
    gs.run('add', { a: '1', b: 2 });
    // @ts-expect-error a bytes function takes bytes or text
    gs.run('upper', 42);
  });

  it('lets the input be left out only where the function takes none', () => {
    gs.run('noInput');
    // @ts-expect-error add needs its input
    gs.run('add');
  });

  it('types events by the result of their job', () => {
    gs.run(
      'add',
      { a: 1, b: 2 },
      {
        on: {
          complete: (event) => expectTypeOf(event.result).toEqualTypeOf<number>(),
          status: (event) => expectTypeOf(event.numerator).toEqualTypeOf<number>(),
        },
      },
    );
    expectTypeOf<Extract<JobEvent<number>, { type: 'complete' }>['result']>().toEqualTypeOf<number>();
  });

  it('types runAll results position by position', async () => {
    const results = await gs.runAll([gs.task('add', { a: 1, b: 2 }), gs.task('upper', 'x')] as const);
    expectTypeOf(results[0]).toEqualTypeOf<TaskResult<number>>();
    expectTypeOf(results[1]).toEqualTypeOf<TaskResult<Buffer>>();
    const many = await gs.runAll([1, 2].map((a) => gs.task('add', { a, b: 1 })));
    expectTypeOf(many).toEqualTypeOf<TaskResult<number>[]>();
  });

  it("types runAll events by the union of the tasks' results", () => {
    const set = gs.runAll([gs.task('add', { a: 1, b: 2 }), gs.task('noInput')], {
      on: { complete: (event) => expectTypeOf(event.result).toEqualTypeOf<number | string>() },
    });
    expectTypeOf(set).toMatchTypeOf<AsyncIterable<TaskEvent<number | string>>>();
  });

  it('infers the functions from a FunctionSet given inline', () => {
    const local = defineFunctions({ twice: (input: { n: number }) => input.n * 2 });
    const client = createClient({ functions: local, threads: 0 });
    expectTypeOf(client.run('twice', { n: 2 })).resolves.toEqualTypeOf<number>();
    // @ts-expect-error n must be a number
    client.run('twice', { n: 'two' });
  });

  it('types the job context of every handler form', () => {
    defineFunctions({
      plain: (_input: number, job) => expectTypeOf(job).toEqualTypeOf<JobContext>(),
      withOptions: {
        timeout: 10,
        handler: (_input: number, job) => expectTypeOf(job).toEqualTypeOf<JobContext>(),
      },
      raw: {
        bytes: (input, job) => {
          expectTypeOf(input).toEqualTypeOf<Buffer>();
          expectTypeOf(job).toEqualTypeOf<JobContext>();
          return input;
        },
      },
    });
  });

  it('accepts anything on a client without the functions type', () => {
    const untyped = createClient({ functions: new URL('file:///functions.js') });
    expectTypeOf(untyped.run('whatever', { any: 'thing' })).resolves.toEqualTypeOf<unknown>();
  });
});
