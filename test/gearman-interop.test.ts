/**
 * Interoperability, both ways, through a real gearmand: PHP's GearmanClient (php-gearman, over
 * libgearman) served by a gearshift worker; a gearshift client served by PHP's GearmanWorker; and the
 * `gearman` command-line tool as client and as worker.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  createWorker,
  GearmanAdmin,
  JobFailedError,
  parseServerAddress,
  type Worker,
} from '../src/index.js';
import { gearmandInstalled, startGearmand, stopAllGearmands, type TestGearmand } from './helpers/gearmand.js';

const exec = promisify(execFile);
const phpReady = spawnSync('php', ['-r', 'exit(class_exists("GearmanClient") ? 0 : 1);']).status === 0;
const cliReady = spawnSync('gearman', ['-H']).status !== null && spawnSync('which', ['gearman']).status === 0;
if (gearmandInstalled && (!phpReady || !cliReady)) {
  const message =
    'php-cli with php-gearman, and gearman-tools, are needed for the interoperability tests (apt-get install php-cli php-gearman gearman-tools)';
  if (process.env.CI) throw new Error(`${message}; under CI that is a failure, not a skip`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}
const functionsModule = new URL('./fixtures/functions.js', import.meta.url);
const phpClient = new URL('./fixtures/php/client.php', import.meta.url).pathname;
const phpWorker = new URL('./fixtures/php/worker.php', import.meta.url).pathname;

let server: TestGearmand;
const processes: ChildProcess[] = [];
const workers: Worker[] = [];
beforeAll(async () => {
  if (gearmandInstalled) server = await startGearmand();
});
afterEach(async () => {
  for (const child of processes.splice(0)) child.kill('SIGKILL');
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
});
afterAll(stopAllGearmands);

/** Waits until gearmand lists a worker for `functionName`. */
async function registered(functionName: string): Promise<void> {
  const admin = new GearmanAdmin(parseServerAddress(server.address), {
    connectTimeoutMs: 1000,
    keepAliveMs: 0,
    tls: undefined,
    requestTimeoutMs: 1000,
  });
  for (let tries = 0; tries < 200; tries++) {
    const lines = await admin.status();
    if (lines.some((line) => line.functionName === functionName && line.workers > 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no worker registered ${functionName}`);
}

async function php(mode: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await exec('php', [phpClient, '127.0.0.1', String(server.port), mode], {
    timeout: 30_000,
  });
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.skipIf(!gearmandInstalled || !phpReady || !cliReady)(
  'PHP and gearman-tools with gearshift, through gearmand',
  () => {
    describe('a PHP GearmanClient served by a gearshift worker', () => {
      async function gearshiftWorker(failAs?: 'fail' | 'exception'): Promise<void> {
        const worker = createWorker({
          functions: functionsModule,
          gearman: { servers: [server.address] },
          threads: 2,
          ...(failAs ? { failAs } : {}),
        });
        workers.push(worker);
        await worker.start();
        await registered('add');
      }

      it('doNormal gets the JSON result', async () => {
        await gearshiftWorker();
        expect(await php('do-normal')).toEqual([{ result: '42', code: 0 }]);
      });

      it('a bytes function gets exactly what a non-JSON client sent, NUL included', async () => {
        await gearshiftWorker();
        const [line] = await php('bytes');
        expect(Buffer.from(String(line?.result), 'base64').toString('latin1')).toBe(
          'PLAIN TEXT\u0000WITH A NUL',
        );
      });

      it('addTask + runTasks, with status, data, warning, complete callbacks, and a failure as warning and fail', async () => {
        await gearshiftWorker();
        const lines = await php('tasks');
        const of = (unique: string) => lines.filter((line) => line.unique === unique);
        expect(of('progress-task').map((line) => line.event)).toEqual([
          'status',
          'data',
          'status',
          'data',
          'warning',
          'complete',
        ]);
        expect(of('progress-task')[0]).toMatchObject({ numerator: 1, denominator: 2 });
        expect(of('progress-task')[1]).toMatchObject({ data: '{"step":1}' });
        expect(of('progress-task')[4]).toMatchObject({ data: 'almost done' });
        expect(of('progress-task')[5]).toMatchObject({ data: '{"steps":2}' });
        for (const n of [1, 2, 3])
          expect(of(`add-${n}`)).toEqual([{ event: 'complete', unique: `add-${n}`, data: String(100 + n) }]);
        // By default every client hears the end as WORK_FAIL; the failure comes first, as a warning.
        const [warning, fail] = of('fail-task');
        expect(fail?.event).toBe('fail');
        expect(warning?.event).toBe('warning');
        expect(JSON.parse(String(warning?.data))).toMatchObject({
          code: 'ERR_JOB_FAILED',
          cause: { name: 'CodedError', message: 'from a task' },
        });
      });

      it("with failAs: 'exception', the exception callback gets the failure", async () => {
        await gearshiftWorker('exception');
        const lines = await php('tasks');
        const failures = lines.filter((line) => line.unique === 'fail-task');
        expect(failures.map((line) => line.event)).toEqual(['exception']);
        expect(JSON.parse(String(failures[0]?.data))).toMatchObject({
          code: 'ERR_JOB_FAILED',
          cause: { name: 'CodedError', message: 'from a task' },
        });
      });

      it('doBackground, then jobStatus reads the running job', async () => {
        await gearshiftWorker();
        const [created, status] = await php('background');
        expect(String(created?.handle)).toMatch(/^H:/);
        const [known, running, numerator, denominator] = (status?.status ?? []) as [
          boolean,
          boolean,
          number,
          number,
        ];
        expect([known, running, denominator]).toEqual([true, true, 400]);
        expect(numerator).toBeGreaterThan(0);
      });
    });

    describe('a gearshift client served by a PHP GearmanWorker', () => {
      async function phpWorkerProcess(): Promise<void> {
        processes.push(spawn('php', [phpWorker, '127.0.0.1', String(server.port)], { stdio: 'ignore' }));
        await registered('php_add');
      }

      it('gets JSON results, and sendStatus, sendData and sendWarning as events in order', async () => {
        await phpWorkerProcess();
        const gs = createClient({ gearman: { servers: [server.address] } });
        try {
          expect(await gs.run('php_add', { a: 2, b: 3 })).toBe(5);
          const events: string[] = [];
          const result = await gs.run('php_progress', undefined, {
            on: {
              status: (event) => events.push(`status ${event.numerator}/${event.denominator}`),
              data: (event) => events.push(`data ${JSON.stringify(event.data)}`),
              warning: (event) => events.push(`warning ${event.message}`),
            },
          });
          expect(result).toBe('done');
          expect(events).toEqual(['status 1/2', 'data {"half":true}', 'warning careful', 'status 2/2']);
        } finally {
          await gs.close();
        }
      });

      it('with telemetry, sends the PHP worker the plain JSON input; the trace rides only in the unique', async () => {
        await phpWorkerProcess();
        await import('./fixtures/file-tracing.mjs');
        const gs = createClient({ gearman: { servers: [server.address] }, telemetry: true });
        try {
          const seen = (await gs.run('php_echo', { a: 1 })) as { workload: string; unique: string };
          expect(seen.workload).toBe('{"a":1}');
          expect(seen.unique).toMatch(/^t:[0-9a-f]{50}:[0-9a-f]{8}$/);
          const own = (await gs.run('php_echo', { a: 2 }, { unique: 'mine' })) as { unique: string };
          expect(own.unique).toBe('mine');
        } finally {
          await gs.close();
        }
      });

      it('turns sendFail into JobFailedError, and sendException into JobFailedError with its message', async () => {
        await phpWorkerProcess();
        const gs = createClient({ gearman: { servers: [server.address] } });
        try {
          const failed = await gs.run('php_fail').catch((thrown: unknown) => thrown);
          expect(failed).toBeInstanceOf(JobFailedError);
          expect((failed as Error).cause).toBeUndefined();
          const exception = await gs.run('php_exception').catch((thrown: unknown) => thrown);
          expect(exception).toBeInstanceOf(JobFailedError);
          expect(((exception as Error).cause as Error).message).toBe('the disk is full');
        } finally {
          await gs.close();
        }
      });

      it('exchanges raw bytes with a worker that does not speak JSON, when the input is a Buffer', async () => {
        await phpWorkerProcess();
        const gs = createClient({ gearman: { servers: [server.address] } });
        try {
          const result = await gs.run('php_reverse', Buffer.from('abc\u0000def', 'latin1'));
          expect(Buffer.isBuffer(result)).toBe(true);
          expect((result as Buffer).toString('latin1')).toBe('fed\u0000cba');
        } finally {
          await gs.close();
        }
      });
    });

    describe('the gearman command-line tool', () => {
      it('as a client of a gearshift worker', async () => {
        const worker = createWorker({
          functions: functionsModule,
          gearman: { servers: [server.address] },
          threads: 1,
        });
        workers.push(worker);
        await worker.start();
        await registered('add');
        const { stdout } = await exec(
          'gearman',
          ['-h', '127.0.0.1', '-p', String(server.port), '-f', 'add', '{"a":20,"b":22}'],
          {
            timeout: 30_000,
          },
        );
        expect(stdout.trim()).toBe('42');
      });

      it('as a worker for a gearshift client (a shell command reading the job and writing the result)', async () => {
        processes.push(
          spawn(
            'gearman',
            ['-h', '127.0.0.1', '-p', String(server.port), '-w', '-f', 'cli_upper', '--', 'tr', 'a-z', 'A-Z'],
            {
              stdio: 'ignore',
            },
          ),
        );
        await registered('cli_upper');
        const gs = createClient({ gearman: { servers: [server.address] } });
        try {
          const result = await gs.run('cli_upper', Buffer.from('shout'));
          expect((result as Buffer).toString()).toBe('SHOUT');
        } finally {
          await gs.close();
        }
      });
    });
  },
);
