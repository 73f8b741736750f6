/**
 * What a Gearman connection reads stays whole. Each read of a TCP socket lands in one buffer that the
 * next read overwrites (node:net's `onread`, which skips the readable stream), so the start of a packet
 * kept until the rest comes, and the data of jobs a worker holds while it reads more, must be copies.
 * Real gearmand, a worker and a client in this process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient, createWorker, type Worker } from '../src/index.js';
import type functions from './fixtures/functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands, type TestGearmand } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);

/** `length` lowercase letters, none repeating in step with a read's size. */
function letters(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    bytes[index] = 0x61 + (state % 26);
  }
  return bytes;
}

describe.skipIf(!gearmandInstalled)('reads from a job server', () => {
  let server: TestGearmand;
  let client: Client<typeof functions>;
  let worker: Worker;
  beforeAll(async () => {
    server = await startGearmand();
  });
  afterEach(async () => {
    await client?.destroy();
    await worker?.destroy();
  });
  afterAll(stopAllGearmands);

  async function start(threads: number): Promise<void> {
    const gearman = { servers: [server.address] };
    worker = createWorker({ functions: functionsModule, gearman, threads });
    await worker.start();
    client = createClient<typeof functions>({ functions: functionsModule, gearman });
  }

  it('carries a payload of many reads whole, to the worker and back', async () => {
    await start(1);
    const input = letters(1_500_000, 7);
    const result = await client.run('upper', input);
    expect(Buffer.from(result).equals(Buffer.from(input.toString('latin1').toUpperCase(), 'latin1'))).toBe(
      true,
    );
  });

  it('keeps the data of every job a worker holds while it reads more', async () => {
    await start(2);
    const inputs = Array.from({ length: 400 }, (_, index) => letters(200 + (index % 37), index + 1));
    const results = await client.runAll(inputs.map((input) => client.task('upper', input)));
    const wrong = results.filter(
      (result, index) =>
        !result.ok ||
        !Buffer.from(result.result).equals(
          Buffer.from((inputs[index] as Buffer).toString('latin1').toUpperCase(), 'latin1'),
        ),
    );
    expect(wrong).toEqual([]);
  });
});
