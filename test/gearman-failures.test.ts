/**
 * Every client hears every failure of a gearshift worker's jobs, whatever its library: a job that
 * throws, times out or is refused ends for a caller that did not ask for the "exceptions" option as for
 * one that did, on gearmand 1.1 and on Perl's Gearman::Server, with the failure's text wherever that
 * client can take it. The client here is a bare one (test/helpers/bare-gearman-client.ts) that matches
 * handles exactly, as the strictest npm libraries do.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  createWorker,
  JobFailedError,
  type Worker,
  type WorkerEventMap,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { submitBare, submitBareBackground } from './helpers/bare-gearman-client.js';
import { type GearmandKind, gearmandPrograms, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-failures-'));
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A gearmand and a gearshift worker on it, with the worker's log, `refused` and `jobStarted` events kept. */
async function cluster(kind: GearmandKind, failAs?: 'fail' | 'exception') {
  const server = await startGearmand([], kind);
  const lines: string[] = [];
  const refused: WorkerEventMap['refused'][] = [];
  const started: string[] = [];
  const worker = createWorker({
    functions: functionsModule,
    gearman: { servers: server.address },
    threads: 1,
    log: (line) => lines.push(line),
    ...(failAs ? { failAs } : {}),
  });
  workers.push(worker);
  worker.on('refused', (event) => refused.push(event));
  worker.on('jobStarted', (event) => started.push(event.handle));
  await worker.start();
  return { address: server.address, lines, refused, started };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

for (const kind of ['c', 'perl'] as const) {
  const name = kind === 'c' ? 'gearmand 1.1' : "Perl's Gearman::Server";
  describe.skipIf(gearmandPrograms[kind] === undefined)(`a failed job, through ${name}`, () => {
    it('ends for a client that did not ask for exceptions, with the failure as a warning where the server relays one', async () => {
      const { address } = await cluster(kind);
      const { end, packets } = await submitBare(address, 'fail', json({ message: 'disk full' }));
      expect(end.name).toBe('WORK_FAIL');
      const warning = packets.find((packet) => packet.name === 'WORK_WARNING');
      if (kind === 'c')
        expect(JSON.parse(warning?.data ?? '{}')).toMatchObject({
          code: 'ERR_JOB_FAILED',
          cause: { message: 'disk full' },
        });
      // Perl's server knows no WORK_WARNING, and keeps WORK_EXCEPTION for those who asked.
      else expect(packets.map((packet) => packet.name)).toEqual(['JOB_CREATED', 'WORK_FAIL']);
    });

    it('ends for a client that asked for exceptions, with the failure', async () => {
      const { address } = await cluster(kind);
      const { end, packets } = await submitBare(address, 'fail', json({ message: 'disk full' }), {
        exceptions: true,
      });
      const text = packets.find(
        (packet) => packet.name === (kind === 'c' ? 'WORK_WARNING' : 'WORK_EXCEPTION'),
      );
      expect(JSON.parse(text?.data ?? '{}')).toMatchObject({
        code: 'ERR_JOB_FAILED',
        cause: { message: 'disk full' },
      });
      expect(end.name).toBe(kind === 'c' ? 'WORK_FAIL' : 'WORK_EXCEPTION');
    });

    it('ends a job that overran its timeout for a client without exceptions', async () => {
      const { address } = await cluster(kind);
      const { end, packets } = await submitBare(address, 'slowDefault', Buffer.alloc(0));
      expect(end.name).toBe('WORK_FAIL');
      if (kind === 'c')
        expect(packets.find((packet) => packet.name === 'WORK_WARNING')?.data).toMatch(
          /"code":"ERR_JOB_TIMEOUT"/,
        );
    });

    it('refuses a job whose input is not JSON: said on its log and as an event, and its caller hears the end', async () => {
      const { address, lines, refused, started } = await cluster(kind);
      const { end, handle } = await submitBare(address, 'add', Buffer.from('not json'));
      expect(end.name).toBe('WORK_FAIL');
      // It never reached the pool: it did not start.
      expect(started).not.toContain(handle);
      expect(refused).toEqual([
        expect.objectContaining({
          handle,
          functionName: 'add',
          source: address,
          error: expect.objectContaining({ code: 'ERR_PAYLOAD' }),
        }),
      ]);
      expect(lines).toContainEqual(
        expect.stringMatching(
          new RegExp(`refused job ${handle} \\(add\\) from ${address}: add: input is not JSON`),
        ),
      );
    });

    it('runs a background job whose JSON payload a client ended with NUL bytes', async () => {
      const { address } = await cluster(kind);
      const marker = join(directory, `nul-${kind}`);
      await submitBareBackground(
        address,
        'mark',
        Buffer.concat([json({ path: marker, text: 'ran' }), Buffer.from([0, 0])]),
      );
      for (let tries = 0; tries < 200 && !existsSync(marker); tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(readFileSync(marker, 'utf8')).toBe('ran\n');
    });

    it('gives a gearshift client the same typed error, whichever way the worker tells it', async () => {
      for (const failAs of ['fail', 'exception'] as const) {
        const { address } = await cluster(kind, failAs);
        const client = createClient<typeof functions>({
          functions: functionsModule,
          gearman: { servers: address },
        });
        try {
          const warnings: string[] = [];
          const error = await client
            .run(
              'fail',
              { message: 'disk full' },
              { on: { warning: (event) => warnings.push(event.message) } },
            )
            .catch((thrown: unknown) => thrown);
          expect(error).toBeInstanceOf(JobFailedError);
          expect((error as Error).cause).toMatchObject({
            name: 'CodedError',
            message: 'disk full',
            code: 'E_CODED',
          });
          // The failure's warning is not a warning of the job's.
          expect(warnings).toEqual([]);
        } finally {
          await client.destroy();
          await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
          await stopAllGearmands();
        }
      }
    });
  });
}

describe.skipIf(gearmandPrograms.c === undefined)("failAs: 'exception', through gearmand 1.1", () => {
  it('sends WORK_EXCEPTION, which a client with the option gets, and one without waits on for ever', async () => {
    const { address } = await cluster('c', 'exception');
    const { end } = await submitBare(address, 'fail', json({ message: 'x' }), { exceptions: true });
    expect(end.name).toBe('WORK_EXCEPTION');
    expect(JSON.parse(end.data)).toMatchObject({ code: 'ERR_JOB_FAILED' });
    // gearmand's WORK_FAIL for a client without the option carries the handle with a NUL after it.
    const error = await submitBare(address, 'fail', json({ message: 'x' }), { timeoutMs: 1500 }).catch(
      (thrown: Error) => thrown,
    );
    expect((error as Error).message).toMatch(
      /no end of the job within 1500 ms; saw .*"WORK_FAIL","H:[^"]*\\u0000"/,
    );
  });
});
