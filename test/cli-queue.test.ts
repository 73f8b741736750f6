import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { gearshift } from './helpers/cli.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';

const functions = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-cli-queue-'));
afterEach(stopAllRunners);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('gearshift and a queue file', () => {
  it('submits in the background (a handle), runs it with `work`, shows it with `status`', async () => {
    const queue = join(directory, 'a.db');
    const submitted = await gearshift(
      'submit',
      'noop',
      '--background',
      '--queue',
      queue,
      '--priority',
      'high',
    );
    expect(submitted.code).toBe(0);
    const handle = submitted.stdout.trim();
    expect(handle).toMatch(/^Q:[0-9a-f]{8}:1$/);
    expect((await gearshift('status', '--queue', queue, handle)).stdout).toMatch(/state: queued/);
    await startRunner(functions, queue);
    // A foreground job through the file: the runner process runs it, this one prints the result.
    const foreground = await gearshift(
      'submit',
      'record',
      `{"log":"${join(directory, 'a.log')}","tag":"fg"}`,
      '--queue',
      queue,
    );
    expect(foreground).toMatchObject({ code: 0, stdout: '"fg"\n' });
    const done = await gearshift('status', '--queue', queue, handle);
    expect(done.stdout).toMatch(/state: completed/);
    const table = await gearshift('status', '--queue', queue);
    expect(table.stdout).toMatch(/^FUNCTION\tQUEUED\tRUNNING\tWORKERS\n/);
    expect(table.stdout).toMatch(/\nnoop\t0\t0\t1\n/);
  });

  it('lists dead jobs with their last error, and requeue puts them back', async () => {
    const queue = join(directory, 'b.db');
    const marker = join(directory, 'never');
    const { stdout } = await gearshift(
      'submit',
      'flaky',
      `{"marker":"${marker}"}`,
      '--background',
      '--queue',
      queue,
      '--attempts',
      '1',
    );
    const handle = stdout.trim();
    await startRunner(functions, queue);
    let listed = '';
    for (let tries = 0; tries < 100 && !listed.includes(handle); tries++) {
      listed = (await gearshift('jobs', '--queue', queue)).stdout;
    }
    expect(listed).toContain(
      `${handle}\tflaky\tdead\t1/1\tERR_JOB_FAILED: flaky (${handle}) failed: Error: no marker at`,
    );
    expect((await gearshift('requeue', '--queue', queue, handle)).stdout).toBe(`${handle}: queued again\n`);
    expect(await gearshift('requeue', '--queue', queue, 'Q:00000000:9')).toMatchObject({ code: 1 });
  });

  it('refuses wrong command lines with the usage', async () => {
    expect(await gearshift('work', functions)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('work needs --queue <file>'),
    });
    expect(await gearshift('submit', 'noop', '--background', '--functions', functions)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--background needs --queue <file>'),
    });
    expect(await gearshift('jobs', '--queue', join(directory, 'c.db'), '--state', 'lost')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "Expected `--state` to be 'queued', 'running', 'completed', 'failed', 'dead' or 'cancelled', got `\"lost\"` (string)",
      ),
    });
  });
});
