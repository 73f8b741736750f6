/**
 * Durations of any length: Node's timers hold at most 2^31-1 ms (about 24.8 days) and fire a longer one
 * after 1 ms, so a job due in a month once made every idle runner spin. Timers go through one helper
 * (src/shared/timers.ts; the lint forbids setTimeout and setInterval elsewhere in src/) that waits as
 * long as it is told; options past the longest duration (10 years) are refused, naming the option.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createWorker, defineFunctions, InvalidOptionError } from '../src/index.js';
import * as timers from '../src/shared/timers.js';
import { gearshift } from './helpers/cli.js';
import { startRunner, stderrOf, stopAllRunners } from './helpers/runner-process.js';

const day = 86_400_000;
const functions = new URL('./fixtures/queue-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-long-'));
afterEach(stopAllRunners);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** CPU time (user + system) a process has used, in milliseconds, from /proc. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The CPU a process uses over `ms` of wall time, as a share of one core. */
async function cpuShare(pid: number, ms: number): Promise<number> {
  const before = cpuMs(pid);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (cpuMs(pid) - before) / ms;
}

describe('the timer helper', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires a timeout of 30 and of 400 days then, not before, and says nothing', () => {
    vi.useFakeTimers();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      for (const days of [30, 400]) {
        const fired = vi.fn();
        timers.after(days * day, fired);
        vi.advanceTimersByTime(days * day - 1);
        expect(fired).not.toHaveBeenCalled();
        vi.advanceTimersByTime(1);
        expect(fired).toHaveBeenCalledOnce();
      }
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('repeats an interval longer than a Node timer holds, at its period, until closed', () => {
    vi.useFakeTimers();
    const beat = vi.fn();
    const timer = timers.every(40 * day, beat);
    vi.advanceTimersByTime(40 * day - 1);
    expect(beat).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(40 * day);
    expect(beat).toHaveBeenCalledTimes(2);
    timer.close();
    vi.advanceTimersByTime(80 * day);
    expect(beat).toHaveBeenCalledTimes(2);
  });

  it('takes a short delay as Node does, and throws for one that is not a finite number from 0', () => {
    expect(timers.maxTimerMs).toBe(2 ** 31 - 1);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect(() => timers.after(bad, () => {})).toThrow(RangeError);
    }
  });
});

describe('options of any length up to the longest duration, and no further', () => {
  it('refuses a duration past 10 years or not a number, naming the option, the value and the range', async () => {
    const client = createClient({ queue: { path: join(directory, 'refuse.db') } });
    try {
      const range = /up to 315576000000 \(10 years\), got `1000000000000` \(number\)/;
      await expect(client.background('noop', undefined, { delay: 1e12 })).rejects.toThrow(range);
      await expect(client.background('noop', undefined, { runAt: Date.now() + 1e12 })).rejects.toThrow(
        /`options\.runAt` to be a valid Date or a number of milliseconds since the epoch, at most 315576000000 \(10 years\) from now/,
      );
      await expect(client.background('noop', undefined, { backoff: Number.NaN })).rejects.toThrow(
        /`options\.backoff` .* got `NaN`/,
      );
      expect(() => createClient({ queue: { leaseMs: 1e12 } })).toThrow(InvalidOptionError);
      expect(() => createWorker({ functions, queue: { path: 'x.db', leaseMs: 1e12 } })).toThrow(
        /`queue\.leaseMs` to be a number of milliseconds from 100 up to 315576000000/,
      );
      expect(() => defineFunctions({ slow: { handler: () => 1, timeout: 1e12 } })).toThrow(
        /`defineFunctions\(\): 'slow'.timeout` to be a number of milliseconds above 0 up to/,
      );
      expect(timers.maxDurationMs).toBe(3652.5 * day);
    } finally {
      await client.close();
    }
    const cli = await gearshift(
      'work',
      functions,
      '--queue',
      join(directory, 'refuse.db'),
      '--lease-ms',
      '1e12',
    );
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(
      /^gearshift: Expected `--lease-ms` to be a number of milliseconds from 100 up to/,
    );
  });

  it('keeps a job due in 30 days and one in 400: an idle runner and an idle app use no CPU and print nothing', async () => {
    const queue = join(directory, 'month.db');
    const client = createClient({ queue: { path: queue } });
    const soon = await client.background('noop', undefined, { delay: 30 * day });
    await client.background('noop', undefined, { runAt: new Date(Date.now() + 400 * day) });
    const later = await client.status(soon);
    expect(later).toMatchObject({ state: 'queued' });
    expect((later.runAt?.getTime() ?? 0) - Date.now()).toBeGreaterThan(30 * day - 60_000);
    await client.close();

    const runner = await startRunner(functions, queue, ['--threads', '1']);
    // An app with its own runner on the same file, idle too.
    const app = spawn(
      process.execPath,
      [
        '--input-type=module',
        '--eval',
        `const { createClient } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
         const gs = createClient({ functions: ${JSON.stringify(functions)}, threads: 1, queue: ${JSON.stringify(queue)} });
         await gs.start();
         // An app's own server would hold it open; this stands in for one.
         setInterval(() => {}, 1 << 30);
         console.log('ready');`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let appErr = '';
    app.stderr.on('data', (chunk: Buffer) => {
      appErr += chunk.toString();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        app.stdout.on('data', (chunk: Buffer) =>
          chunk.toString().includes('ready') ? resolve() : undefined,
        );
        app.once('exit', (code) => reject(new Error(`the app exited with ${code}: ${appErr}`)));
      });
      // Let both settle after their start, then measure a few seconds of idling.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const [runnerShare, appShare] = await Promise.all([
        cpuShare(runner.pid as number, 3000),
        cpuShare(app.pid as number, 3000),
      ]);
      console.log(
        `idle with jobs due in 30 and 400 days: runner ${(runnerShare * 100).toFixed(1)}% of a core, app ${(appShare * 100).toFixed(1)}%`,
      );
      // A spinning runner took about a quarter of a core; an idle one looks at the file once a second.
      expect(runnerShare).toBeLessThan(0.03);
      expect(appShare).toBeLessThan(0.03);
      expect(stderrOf(runner)).not.toMatch(/TimeoutOverflowWarning|Warning/);
      expect(appErr).not.toMatch(/TimeoutOverflowWarning|Warning/);
    } finally {
      app.kill('SIGKILL');
    }
  });
});
