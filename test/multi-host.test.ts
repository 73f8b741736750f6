/**
 * Several hosts on one machine (network namespaces on a bridge: helpers/netns.ts): gearmand on one host,
 * two worker hosts running `gearshift work`, a client host. Each scenario asserts that no job is lost and
 * that every caller gets an answer, a result or a typed error, within a stated bound.
 *
 * Timeouts in play, and why (RELIABILITY.md says the same):
 * - gearmand runs with `--keepalive --keepalive-idle 2 --keepalive-interval 1 --keepalive-count 3`: a
 *   worker whose link dies is noticed about 5 s later and its job is given to another worker. Without
 *   keepalive gearmand waits on a silent connection for ever.
 * - every host runs with `net.ipv4.tcp_retries2 = 5`: a connection with unacknowledged data on a dead link
 *   fails after about 12 s instead of the default 15 minutes (keepalive does not cover that case).
 * - the worker gives a server `requestTimeoutMs` (10 s) to answer a grab, then reconnects; clients and
 *   workers turn TCP keepalive on (`keepAliveMs`, 10 s).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gearmandInstalled, gearmandPrograms } from './helpers/gearmand.js';
import { type Host, Network, netnsAvailable } from './helpers/netns.js';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const functionsModule = new URL('./fixtures/functions.ts', import.meta.url).pathname;
const clientScript = new URL('./fixtures/netns-client.ts', import.meta.url).pathname;
/** Inside its own namespace, gearmand's port cannot clash with anything on this machine. */
const gearmanPort = 4730;

interface JobLine {
  readonly index: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { readonly name: string; readonly code: string; readonly message: string };
  readonly events: readonly string[];
  readonly ms: number;
  /** When the job ended, by the clock (the hosts share this machine's clock). */
  readonly at: number;
}

describe.skipIf(!netnsAvailable || !gearmandInstalled)(
  'several hosts: gearmand, two workers, a client',
  () => {
    let network: Network;
    let gearmandHost: Host;
    let workerA: Host;
    let workerB: Host;
    let clientHost: Host;
    let directory: string;
    const server = () => `${gearmandHost.address}:${gearmanPort}`;

    beforeAll(() => {
      directory = mkdtempSync(join(tmpdir(), 'gearshift-hosts-'));
      network = new Network();
      gearmandHost = network.addHost('gearmand');
      workerA = network.addHost('worker-a');
      workerB = network.addHost('worker-b');
      clientHost = network.addHost('client');
      for (const host of network.hosts)
        execFileSync('ip', [
          'netns',
          'exec',
          host.namespace,
          'sysctl',
          '-q',
          '-w',
          'net.ipv4.tcp_retries2=5',
        ]);
    });
    afterEach(async () => {
      for (const host of network.hosts) {
        host.restoreLink();
        host.losePackets(0);
        await host.killAll();
      }
    });
    afterAll(async () => {
      await network?.teardown();
      rmSync(directory, { recursive: true, force: true });
    });

    /** Starts gearmand on its host (with keepalive, and a sqlite queue when `database` is given). */
    async function startGearmand(database?: string): Promise<void> {
      const args = [
        '-p',
        String(gearmanPort),
        '-L',
        gearmandHost.address,
        '-l',
        join(directory, 'gearmand.log'),
      ];
      args.push(
        '--keepalive',
        '--keepalive-idle',
        '2',
        '--keepalive-interval',
        '1',
        '--keepalive-count',
        '3',
      );
      if (database) args.push('-q', 'libsqlite3', '--libsqlite3-db', database);
      gearmandHost.spawn(gearmandPrograms.c ?? 'gearmand', args);
      await until('gearmand to listen', () => statusLines() !== undefined);
    }

    /** gearmand's status table (function, total, running, workers), or undefined while it does not answer. */
    function statusLines(): { name: string; total: number; running: number; workers: number }[] | undefined {
      const done = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          clientHost.namespace,
          'gearadmin',
          '-h',
          gearmandHost.address,
          '-p',
          String(gearmanPort),
          '--status',
        ],
        { encoding: 'utf8', timeout: 2000 },
      );
      if (done.status !== 0) return undefined;
      return done.stdout
        .split('\n')
        .filter((line) => line.includes('\t'))
        .map((line) => {
          const [name, total, running, workers] = line.split('\t');
          return {
            name: name as string,
            total: Number(total),
            running: Number(running),
            workers: Number(workers),
          };
        });
    }
    const line = (name: string) => statusLines()?.find((status) => status.name === name);

    /** Starts `gearshift work` on a host; resolves with its pid once gearmand lists it. */
    async function startWorker(host: Host): Promise<number> {
      const before = line('pidAfter')?.workers ?? 0;
      const child = host.spawn(process.execPath, [
        cli,
        'work',
        functionsModule,
        '--gearman',
        server(),
        '--threads',
        '1',
      ]);
      await until(`the worker on ${host.name} to register`, () => (line('pidAfter')?.workers ?? 0) > before);
      return child.pid as number;
    }

    /** Runs the client host's plan; resolves with its job lines (and the time it took) once it is done. */
    async function runClient(plan: object, boundMs: number): Promise<{ jobs: JobLine[]; ms: number }> {
      const child = clientHost.spawn(
        process.execPath,
        [tsx, clientScript, JSON.stringify({ server: server(), ...plan })],
        {
          stdio: 'pipe',
        },
      );
      let output = '';
      let errors = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        errors += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      const lines = output
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((text) => JSON.parse(text) as JobLine & { done?: boolean });
      const done = lines.find((each) => each.done);
      if (code !== 0 || !done)
        throw new Error(`the client did not finish within ${boundMs} ms (${code}): ${errors}`);
      return {
        jobs: lines.filter((each) => typeof each.index === 'number').sort((a, b) => a.index - b.index),
        ms: done.ms,
      };
    }

    it("a worker host's link cut mid-job: gearmand gives the job to the other worker, every caller gets its result", async () => {
      await startGearmand();
      const pidA = await startWorker(workerA);
      const jobs = Array.from({ length: 3 }, () => ({ functionName: 'pidAfter', input: { ms: 3000 } }));
      const outcome = runClient({ jobs }, 60_000);
      await until('worker A to run a job', () => (line('pidAfter')?.running ?? 0) >= 1);
      const pidB = await startWorker(workerB);
      await until('worker B to run a job too', () => (line('pidAfter')?.running ?? 0) >= 2);
      workerA.cutLink();

      const { jobs: results, ms } = await outcome;
      expect(results.map((job) => job.ok)).toEqual([true, true, true]);
      // Nothing from A can arrive: every result was computed by B, A's job included.
      expect(results.map((job) => job.result)).toEqual([pidB, pidB, pidB]);
      expect(results.map((job) => job.result)).not.toContain(pidA);
      expect(ms).toBeLessThan(30_000);

      // Once its link is back, A finds gearmand again by itself.
      workerA.restoreLink();
      const restoredAt = Date.now();
      await until('worker A to register again', () => (line('pidAfter')?.workers ?? 0) === 2, 60_000);
      console.log(
        `multi-host, link cut: 3 of 3 results (all from worker B) ${ms} ms after the client started; worker A registered again ${Date.now() - restoredAt} ms after its link came back`,
      );
    });

    it('a worker host killed mid-job: the other worker runs the job', async () => {
      await startGearmand();
      await startWorker(workerA);
      const pidB = await startWorker(workerB);
      const jobs = Array.from({ length: 2 }, () => ({ functionName: 'pidAfter', input: { ms: 2000 } }));
      const outcome = runClient({ jobs }, 60_000);
      await until('both workers to run a job', () => (line('pidAfter')?.running ?? 0) >= 2);
      await workerA.killAll();
      const { jobs: results, ms } = await outcome;
      expect(results.map((job) => [job.ok, job.result])).toEqual([
        [true, pidB],
        [true, pidB],
      ]);
      expect(ms).toBeLessThan(20_000);
      console.log(
        `multi-host, worker host killed: 2 of 2 results (both from worker B) ${ms} ms after the client started`,
      );
    });

    it('the gearmand host restarted: queued background jobs survive (sqlite queue), a caller in flight gets a typed error', async () => {
      const database = join(directory, 'restart.db');
      const marks = join(directory, 'marks.txt');
      await startGearmand(database);
      const background = Array.from({ length: 30 }, (_, index) => ({
        functionName: 'mark',
        input: { path: marks, text: `job ${index}` },
      }));
      await runClient({ background, jobs: [] }, 30_000);
      await gearmandHost.killAll(); // SIGKILL: a crash, not a shutdown
      await startGearmand(database);
      await startWorker(workerA);
      const lines = () => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);
      await until('the 30 background jobs to run after the restart', () => lines().length >= 30);
      expect(new Set(lines())).toEqual(new Set(background.map((job) => job.input.text)));

      // A foreground job in flight when gearmand dies: its caller hears so at once, typed.
      const outcome = runClient({ jobs: [{ functionName: 'pidAfter', input: { ms: 5000 } }] }, 30_000);
      await until('the foreground job to run', () => (line('pidAfter')?.running ?? 0) >= 1);
      const killedAt = Date.now();
      await gearmandHost.killAll();
      const { jobs: results } = await outcome;
      expect(results[0]).toMatchObject({
        ok: false,
        error: { name: 'GearmanConnectionError', code: 'ERR_CONNECTION' },
      });
      expect(results[0]?.error?.message).toMatch(/went away while pidAfter/);
      console.log(
        `multi-host, gearmand host restarted: 30 of 30 queued background jobs ran after the restart; the caller in flight got ${results[0]?.error?.name} ${(results[0]?.at ?? 0) - killedAt} ms after gearmand was killed`,
      );
    });

    it("packet loss (10%, both ways) and 20 ms of delay on the client's link: every result arrives, each job's events in order", async () => {
      await startGearmand();
      await startWorker(workerA);
      await startWorker(workerB);
      clientHost.losePackets(10);
      const jobs = Array.from({ length: 40 }, () => ({ functionName: 'progress', input: { steps: 5 } }));
      const { jobs: results, ms } = await runClient({ jobs, delayMs: 20 }, 120_000);
      const expected = ['created'];
      for (let step = 1; step <= 5; step++) expected.push(`status ${step}/5`, 'data');
      expected.push('warning', 'complete');
      expect(results).toHaveLength(40);
      for (const job of results) {
        expect(job.ok).toBe(true);
        expect(job.result).toEqual({ steps: 5 });
        expect(job.events).toEqual(expected);
      }
      expect(ms).toBeLessThan(60_000);
      expect(clientHost.droppedPackets()).toBeGreaterThan(0);
      console.log(
        `multi-host, 10% loss and 20 ms delay on the client's link: 40 of 40 results, events in order, in ${ms} ms (${clientHost.droppedPackets()} packets dropped)`,
      );
    });
  },
);

/** Polls until `check` holds, or fails after `limitMs` saying what it waited for. */
async function until(what: string, check: () => boolean, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waited ${limitMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
