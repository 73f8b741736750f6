import { describe, expect, it } from 'vitest';
import { createClient, JobFailedError } from '../src/index.js';
import functions, { theError } from './fixtures/inline-functions.js';

describe('inline mode (threads: 0)', () => {
  it("gives the caller the handler's very error object, stack and all, for debugging", async () => {
    const gs = createClient({ functions, threads: 0 });
    const error = await gs.run('throwIt').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).cause).toBe(theError);
    await gs.close();
  });

  it('keeps the caller and the handler from sharing objects, as threads do', async () => {
    const gs = createClient({ functions, threads: 0 });
    const input = { list: [1, 2] };
    expect(await gs.run('mutate', input)).toBe(3);
    expect(input.list).toEqual([1, 2]);
    const result = await gs.run('keep', input);
    expect(result).toEqual([1, 2]);
    expect(result).not.toBe(input.list);
    await gs.close();
  });

  it('lets timers in between synchronous jobs: a long run of them does not hold the event loop', async () => {
    const gs = createClient({ functions, threads: 0 });
    let ended = 0;
    let endedWhenTheTimerFired: number | undefined;
    setTimeout(() => {
      endedWhenTheTimerFired = ended;
    }, 0);
    const jobs = 60;
    await Promise.all(Array.from({ length: jobs }, () => gs.run('spin', 2).then(() => ended++)));
    // A few start on microtasks in the turn that submitted them; then the loop turns and the timer runs.
    expect(endedWhenTheTimerFired).toBeDefined();
    expect(endedWhenTheTimerFired).toBeLessThan(jobs / 2);
    await gs.close();
  });

  it('runs the same module by URL as threads do', async () => {
    const gs = createClient({
      functions: new URL('./fixtures/inline-functions.js', import.meta.url),
      threads: 0,
    });
    expect(await gs.run('keep', { list: [7] })).toEqual([7]);
    await gs.close();
  });
});
