/**
 * runAll's window: how many of a set's tasks are in flight at once, and when more start. Counted from the
 * set's own events (created, then complete or failed), on the inline pool, whose jobs run in this thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../src/index.js';
import functions from './fixtures/functions.js';

const clients: Client<typeof functions>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
});

/**
 * Runs `count` sleeps, each 1 ms longer than the one before (so they end one at a time, in order), and
 * records how many were in flight each time one more was created.
 */
async function inFlightAtEachStart(count: number, concurrency?: number): Promise<number[]> {
  // Room for every job at once: the window, not the pool, is what limits the set.
  const client = createClient({ functions, threads: 0, concurrency: 2048 });
  clients.push(client);
  let inFlight = 0;
  const seen: number[] = [];
  const ended = () => inFlight--;
  const results = await client.runAll(
    Array.from({ length: count }, (_, index) => client.task('sleep', { ms: 10 + index })),
    {
      concurrency,
      on: {
        created: () => {
          seen.push(inFlight);
          inFlight++;
        },
        complete: ended,
        fail: ended,
      },
    },
  );
  expect(results.every((result) => result.ok)).toBe(true);
  return seen;
}

describe('runAll window', () => {
  it('keeps at most 1,024 tasks in flight by default, and starts more 64 at a time', async () => {
    const seen = await inFlightAtEachStart(1200);
    expect(seen).toHaveLength(1200);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1023);
    // The 1,025th task starts once 64 places are free (refilled as each task ended, it started with 1,023
    // in flight), and the 63 after it with it: a Gearman client sends them in one write rather than one
    // each. A loaded machine may count a few more ends first, never fewer.
    expect(seen[1024]).toBeLessThanOrEqual(960);
    expect(seen[1087]).toBeGreaterThan(seen[1024] as number);
  });

  it('starts the last tasks of a set once there is room for all of them, not a whole step', async () => {
    // 1,030 tasks: 6 wait for the window, and start once 6 places are free (at 1,018 in flight).
    const seen = await inFlightAtEachStart(1030);
    expect(seen[1024]).toBeGreaterThan(960);
    expect(seen[1024]).toBeLessThanOrEqual(1018);
  });

  it('keeps a window the caller sets full: the next task starts as soon as one ends', async () => {
    const seen = await inFlightAtEachStart(40, 8);
    expect(Math.max(...seen)).toBeLessThanOrEqual(7);
    // Each starts with the other 7 places taken; a loaded machine may end two sleeps in one turn now and then.
    expect(seen.slice(8).filter((inFlight) => inFlight === 7).length).toBeGreaterThanOrEqual(24);
  });
});
