/**
 * Nothing silent: a worker says when it cannot reach its server and when it reconnects (on stderr and as
 * an event); `gearshift submit` says while no live runner of a queue file runs its job's function; a
 * queue file shows jobs of functions no live runner knows; with the functions module at hand, an
 * unknown function is refused before anything is written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  createWorker,
  openQueue,
  UnknownFunctionError,
  type WorkerEventMap,
} from '../src/index.js';
import { gearshift } from './helpers/cli.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startRunner, startWorkProcess, stderrOf, stopAllRunners } from './helpers/runner-process.js';

const functions = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-notices-'));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stopAllRunners();
  await stopAllGearmands();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Polls `check` until it returns a value, for at most `ms`. */
async function until<T>(check: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!gearmandInstalled)('a Gearman worker whose server is down', () => {
  it('`gearshift work` says it cannot reach the server, then that it reconnected', async () => {
    const gearmand = await startGearmand();
    await gearmand.down();
    const worker = await startWorkProcess(functions, ['--gearman', gearmand.address, '--threads', '1']);
    const unreachable = new RegExp(
      `gearshift worker \\d+: cannot reach ${gearmand.address.replace(/\./g, '\\.')}: .*ECONNREFUSED.*; trying again in \\d+\\.\\d s`,
    );
    await until(() => (unreachable.test(stderrOf(worker)) ? true : undefined));
    // Said once per outage, not at every retry.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stderrOf(worker).match(/cannot reach/g)).toHaveLength(1);
    await gearmand.up();
    await until(() => (stderrOf(worker).includes(`reconnected to ${gearmand.address}`) ? true : undefined));
  });

  it('createWorker emits `connection` events (unreachable, connected) and writes them to its log', async () => {
    const gearmand = await startGearmand();
    await gearmand.down();
    const lines: string[] = [];
    const events: WorkerEventMap['connection'][] = [];
    const worker = createWorker({
      functions,
      gearman: { servers: gearmand.address, retryMs: 50 },
      threads: 1,
      log: (line) => lines.push(line),
    });
    cleanups.push(() => worker.destroy());
    worker.on('connection', (event) => events.push(event));
    await worker.start();
    await until(() => (events.some((event) => event.state === 'unreachable') ? true : undefined));
    const down = events.find((event) => event.state === 'unreachable');
    expect(down?.error?.message).toMatch(/ECONNREFUSED/);
    expect(down?.retryInMs).toBeGreaterThan(0);
    await gearmand.up();
    await until(() => (events.some((event) => event.state === 'connected') ? true : undefined));
    expect(lines.some((line) => line.includes(`reconnected to ${gearmand.address}`))).toBe(true);
  });
});

describe('a queue file whose jobs no live runner runs', () => {
  it('`gearshift submit` says it waits for a runner, then prints the result once one runs it', async () => {
    const queue = join(directory, 'waiting.db');
    // The file exists (a background job put it there), with no runner at all.
    await gearshift('submit', 'noop', '--background', '--queue', queue);
    const child = spawn(process.execPath, [cli, 'submit', 'square', '{"n":7}', '--queue', queue], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    cleanups.push(async () => {
      child.kill('SIGKILL');
    });
    await until(() => (stderr.includes('waiting: no live runner') ? true : undefined));
    expect(stderr).toContain(`waiting: no live runner of ${queue} runs square; the job runs when one starts`);
    await startRunner(functions, queue, ['--threads', '1']);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(stdout).toBe('49\n');
  });

  it('status names a function with jobs and no live runner (a typo), in the table and on stderr', async () => {
    const queue = join(directory, 'typo.db');
    await gearshift('submit', 'sqaure', '{"n":2}', '--background', '--queue', queue);
    await startRunner(functions, queue, ['--threads', '1']);
    const status = await gearshift('status', '--queue', queue);
    expect(status.stdout).toContain('sqaure\t1\t0\t0\n');
    expect(status.stdout).toContain('square\t0\t0\t1\n');
    expect(status.stderr).toContain('sqaure: 1 queued and no live worker runs it');
    const file = await openQueue(queue, { create: false });
    try {
      expect(file.functions().find((line) => line.functionName === 'sqaure')).toMatchObject({
        queued: 1,
        workers: 0,
      });
    } finally {
      file.close();
    }
  });

  it('with the functions module at hand, an unknown function is refused before anything is written', async () => {
    const queue = join(directory, 'refused.db');
    const cliRefusal = await gearshift(
      'submit',
      'sqaure',
      '{}',
      '--background',
      '--queue',
      queue,
      '--functions',
      functions,
    );
    expect(cliRefusal.code).toBe(1);
    expect(cliRefusal.stderr).toMatch(
      /^gearshift: Unknown function 'sqaure': the functions are 'noop', 'square'/,
    );
    const client = createClient({ functions, threads: 1, queue: { path: queue, runner: false } });
    cleanups.push(() => client.close());
    await expect(client.background('sqaure')).rejects.toThrow(UnknownFunctionError);
    await expect(
      client.backgroundAll([client.backgroundJob('noop'), client.backgroundJob('sqaure')]),
    ).rejects.toThrow(UnknownFunctionError);
    // Not a row written: not even the file.
    expect(existsSync(queue)).toBe(false);
  });
});
