/**
 * gearshift against Perl's Gearman::Server (Debian's gearman-server): the original implementation, still
 * deployed, which knows only the original protocol. Its worker side has GRAB_JOB but neither GRAB_JOB_UNIQ
 * nor GRAB_JOB_ALL (it answers each with an ERROR), and its client side lacks SUBMIT_JOB_EPOCH and
 * GET_STATUS_UNIQUE. A gearshift worker falls back to GRAB_JOB there; a client asking for what has no
 * fallback gets an UnsupportedError.
 *
 * Events and failures are the conformance suite's, which runs here too, with the differences this server
 * makes, each tested for what happens instead: JOB_ASSIGN carries no unique, so a handler cannot see the
 * unique its caller gave (the server still coalesces by it); WORK_DATA and WORK_WARNING are refused (the
 * caller sees status and the end, no data or warnings); SUBMIT_JOB_LOW is unknown (UnsupportedError).
 * WORK_EXCEPTION it passes on, so failures come back typed. It has no `cancel job`: a queued job whose
 * caller left is still assigned, and the gearshift worker, told by the caller, fails it unrun.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  createWorker,
  GearmanAdmin,
  JobAbortedError,
  JobFailedError,
  parseServerAddress,
  UnsupportedError,
  type Worker,
} from '../src/index.js';
import { conformanceSuite } from './conformance/suite.js';
import type functions from './fixtures/functions.js';
import type timedFunctions from './fixtures/timed-functions.js';
import {
  perlGearmandInstalled,
  startGearmand,
  stopAllGearmands,
  type TestGearmand,
} from './helpers/gearmand.js';
import { startWorkProcess, stopAllRunners } from './helpers/runner-process.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);
const timedModule = new URL('./fixtures/timed-functions.ts', import.meta.url).pathname;

describe.skipIf(!perlGearmandInstalled)("Perl's Gearman::Server", () => {
  let server: TestGearmand;
  const workers: Worker[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'gearshift-perl-'));
  const gearman = () => ({ servers: [server.address] });
  const client = () => createClient<typeof functions>({ functions: functionsModule, gearman: gearman() });
  beforeAll(async () => {
    server = await startGearmand([], 'perl');
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
    await stopAllRunners();
  });
  afterAll(async () => {
    await stopAllGearmands();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A started worker on the Perl server, with `threads` threads. */
  async function worker(threads = 1): Promise<Worker> {
    const started = createWorker({
      functions: functionsModule,
      gearman: gearman(),
      threads,
      abortGrace: 500,
    });
    workers.push(started);
    await started.start();
    return started;
  }

  describe('a gearshift worker and client', () => {
    it('run: the worker falls back to GRAB_JOB and the result comes back', async () => {
      await worker();
      const gs = client();
      try {
        expect(await gs.run('add', { a: 2, b: 40 })).toBe(42);
      } finally {
        await gs.close();
      }
    });

    it('runAll over two worker threads: every result in input order', async () => {
      await worker(2);
      const gs = client();
      try {
        const results = await gs.runAll(Array.from({ length: 50 }, (_, n) => gs.task('add', { a: n, b: 1 })));
        expect(results.map((result) => (result.ok ? result.result : result.error))).toEqual(
          Array.from({ length: 50 }, (_, n) => n + 1),
        );
      } finally {
        await gs.close();
      }
    });

    it('a queued job whose caller left: the started worker, told by the caller, fails it unrun', async () => {
      await worker();
      const gs = client();
      const marker = join(scratch, 'dropped');
      try {
        const controller = new AbortController();
        // CPU-bound, so that it holds the one thread while the next job waits in the server's queue.
        const blocker = gs.run('spin', { ms: 300 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const queued = gs.run('mark', { path: marker, text: 'ran' }, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort('changed my mind');
        expect(await queued.catch((thrown: unknown) => thrown)).toBeInstanceOf(JobAbortedError);
        await blocker;
        await gs.run('mark', { path: marker, text: 'after' });
        expect(readFileSync(marker, 'utf8')).toBe('after\n');
      } finally {
        await gs.close();
      }
    });

    it('a job that fails ends on the server too (this server needs a WORK_FAIL after WORK_EXCEPTION)', async () => {
      await worker();
      const gs = client();
      try {
        const handle = await gs.background('fail', { message: 'no such invoice' });
        let status = await gs.status(handle);
        for (let tries = 0; status.known && tries < 200; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          status = await gs.status(handle);
        }
        expect(status).toMatchObject({ known: false, running: false });
      } finally {
        await gs.close();
      }
    });

    it("a function's timeout reaches the server in seconds: a worker that stops answering has its job failed there", async () => {
      // Registered with CAN_DO_TIMEOUT timeout + max(1 s, 10%) = 2.5 s, sent as 3 (seconds) to this
      // server; in milliseconds it would wait 42 minutes. The worker's own timer cannot fire: its
      // process is stopped.
      const child = await startWorkProcess(timedModule, ['--gearman', server.address, '--threads', '1']);
      const admin = new GearmanAdmin(parseServerAddress(server.address), {
        connectTimeoutMs: 2000,
        keepAliveMs: 0,
        tls: undefined,
        requestTimeoutMs: 2000,
      });
      const gs = createClient<typeof timedFunctions>({ gearman: gearman() });
      try {
        const outcome = gs.run('waitLimited', { ms: 60_000 }).catch((thrown: unknown) => thrown);
        await expect
          .poll(
            async () => (await admin.status()).find((line) => line.functionName === 'waitLimited')?.running,
            {
              timeout: 10_000,
            },
          )
          .toBe(1);
        child.kill('SIGSTOP');
        const stoppedAt = Date.now();
        const error = await Promise.race([
          outcome,
          new Promise((resolve) => setTimeout(() => resolve('no answer within 15 s'), 15_000)),
        ]);
        expect(error).toBeInstanceOf(JobFailedError);
        // The server's answer (WORK_FAIL, no cause), after the backstop: not the worker's JobTimeoutError.
        expect((error as JobFailedError).cause).toBeUndefined();
        expect(Date.now() - stoppedAt).toBeGreaterThan(1000);
      } finally {
        child.kill('SIGCONT');
        await gs.close();
      }
    }, 30_000);

    it('background + status: the job is queued, known while it runs, then forgotten', async () => {
      const gs = client();
      try {
        const handle = await gs.background('progress', { steps: 30 });
        const queued = await gs.status(handle);
        expect(queued).toMatchObject({ handle, known: true, running: false });
        await worker();
        let status = await gs.status(handle);
        // Running comes first, the progress with the job's first WORK_STATUS.
        for (let tries = 0; !(status.running && status.denominator > 0) && tries < 200; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          status = await gs.status(handle);
        }
        expect(status).toMatchObject({ known: true, running: true, denominator: 30 });
        for (let tries = 0; status.known && tries < 500; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          status = await gs.status(handle);
        }
        expect(status.known).toBe(false);
      } finally {
        await gs.close();
      }
    });
  });

  describe('what this server lacks', () => {
    it('a background job with `runAt` or `delay` (SUBMIT_JOB_EPOCH): UnsupportedError naming the packet, and again at once', async () => {
      const gs = client();
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const error = await gs
            .background('add', { a: 1, b: 1 }, { delay: 60_000 })
            .catch((caught) => caught);
          expect(error).toBeInstanceOf(UnsupportedError);
          expect(error.message).toMatch(
            /does not know SUBMIT_JOB_EPOCH \(a background job with `runAt` or `delay`\)/,
          );
        }
        // The connection is still good for what the server does know.
        await worker();
        expect(await gs.run('add', { a: 1, b: 2 })).toBe(3);
      } finally {
        await gs.close();
      }
    });

    it('statusOfUnique (GET_STATUS_UNIQUE): UnsupportedError', async () => {
      const gs = client();
      try {
        const error = await gs.statusOfUnique('nightly-report').catch((caught) => caught);
        expect(error).toBeInstanceOf(UnsupportedError);
        expect(error.message).toMatch(/does not know GET_STATUS_UNIQUE \(statusOfUnique\(\)\)/);
      } finally {
        await gs.close();
      }
    });
  });

  conformanceSuite('perl gearman-server', {
    makeClient: ({ slots }) => {
      const started = createWorker({
        functions: functionsModule,
        gearman: gearman(),
        threads: slots,
        abortGrace: 500,
      });
      workers.push(started);
      void started.start();
      return client();
    },
    // The suite's workers are still starting when it drops a queued job: nobody is there to be told.
    lacks: ['unique at the worker', 'data and warnings', 'low priority', 'dropping a queued job'],
  });
});
