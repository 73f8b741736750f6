/**
 * npm run bench:console: the console on a large queue file, and what a console left open costs the
 * runners.
 *
 * 1. A file of 1,000,000 jobs (BENCH_CONSOLE_JOBS to change it), made by really running them: 400,000
 *    completed and 50,000 dead (kept: the runner's retention raised to keep them all), then 550,000
 *    queued over three functions with no runner. `gearshift dashboard` (the built CLI, in its own
 *    process, as users run it) serves it; each API call the page makes is timed from this process, the
 *    first call (cold) and the median and slowest of 15 more. Target: each under 200 ms.
 * 2. A drain of 100,000 no-op jobs by a runner with 2 threads, with the console off, and on: the
 *    dashboard process on the same file and a page's traffic from another (bench/console-page.ts). Pairs
 *    alternate which goes first; the medians and their ratio are printed. Target: at most 5% slower.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FunctionName, openQueue } from '../src/index.js';
import { openSqlite, sqliteDriver } from '../src/queue/sqlite/open-sqlite.js';
import type functions from './console-functions.js';
import { drainMs } from './queue-drain.js';

const total = Number(process.env.BENCH_CONSOLE_JOBS ?? 1_000_000);
const drainCount = 100_000;
const pairs = 5;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-bench-console-'));
const functionsModule = new URL('./console-functions.js', import.meta.url);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const keepAll = { completedCount: 100_000_000, completedMs: 30 * 86_400_000 };
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => `${value.toFixed(1)} ms`;
const pause = (wait: number) => new Promise((resolve) => setTimeout(resolve, wait));

async function timed(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Submits `count` jobs of one function, 50,000 to a transaction, to a file with no runner. */
async function submit(path: string, name: FunctionName<typeof functions>, count: number, attempts?: number) {
  const producer = createClient<typeof functions>({ queue: { path, runner: false } });
  for (let done = 0; done < count; done += 50_000) {
    const size = Math.min(50_000, count - done);
    await producer.backgroundAll(
      Array.from({ length: size }, (_, n) =>
        producer.backgroundJob(name, { n: done + n }, attempts ? { attempts } : {}),
      ),
    );
  }
  await producer.close();
}

/** Makes the large file: finished jobs by really running them, then a queued backlog. */
async function largeFile(path: string): Promise<void> {
  const completed = Math.round(total * 0.4);
  const dead = Math.round(total * 0.05);
  const queued = total - completed - dead;
  await submit(path, 'sendPush', completed);
  await submit(path, 'chargeCard', dead, 1);
  const runner = createClient<typeof functions>({
    functions: functionsModule,
    threads: 2,
    queue: { path, retention: keepAll },
  });
  await runner.start();
  const reader = openSqlite(path);
  const finished = reader.prepare('SELECT count(*) FROM jobs WHERE state IN (2, 4)');
  while ((finished.value() as number) < completed + dead) await pause(200);
  reader.close();
  await runner.close();
  await submit(path, 'sendPush', Math.round(queued * 0.5));
  await submit(path, 'resizeImage', Math.round(queued * 0.3));
  await submit(path, 'buildReport', queued - Math.round(queued * 0.5) - Math.round(queued * 0.3));
}

interface Console {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** `gearshift dashboard` on a free port, in its own process; resolves once it listens. */
async function startConsole(path: string): Promise<Console> {
  const child = spawn(process.execPath, [cli, 'dashboard', '--queue', path, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let said = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk;
      const match = /gearshift dashboard: (\S+)/.exec(said);
      if (match) resolve((match[1] as string).replace(/\/?$/, '/'));
    });
    child.once('exit', (code) => reject(new Error(`the dashboard exited (${code}): ${said}`)));
  });
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function get(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.headers.get('content-type')?.includes('json') ? response.json() : response.text();
}

/** The first call, then the median and the slowest of 15 more. */
async function timings(url: string): Promise<{ cold: number; median: number; slowest: number }> {
  const cold = await timed(() => get(url));
  const warm: number[] = [];
  for (let n = 0; n < 15; n++) warm.push(await timed(() => get(url)));
  warm.sort((a, b) => a - b);
  return { cold, median: warm[7] as number, slowest: warm[14] as number };
}

/** An open page of the console, in a process of its own; resolves once its live stream has a push. */
async function openPage(base: string): Promise<() => Promise<void>> {
  const page = fork(new URL('./console-page.ts', import.meta.url).pathname, [base], {
    execArgv: ['--import', 'tsx'],
  });
  await new Promise<void>((resolve, reject) => {
    page.once('message', () => resolve());
    page.once('exit', (code) => reject(new Error(`the page's process exited (${code})`)));
  });
  return () =>
    new Promise<void>((resolve) => {
      page.removeAllListeners('exit');
      if (page.exitCode !== null) return resolve();
      page.once('exit', () => resolve());
      page.kill('SIGTERM');
    });
}

console.log(
  `bench:console on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ` +
    `SQLite driver ${sqliteDriver()}`,
);

// 1. The large file.
const large = join(directory, 'large.db');
const madeIn = await timed(() => largeFile(large));
console.log(`\n  a file of ${fmt(total)} jobs, made by running them, in ${(madeIn / 1000).toFixed(1)} s`);
const server = await startConsole(large);
try {
  const probe = (await get(`${server.url}api/jobs?state=queued&limit=1`)) as {
    jobs: { handle: string }[];
  };
  const handle = probe.jobs[0]?.handle as string;
  let deep = '';
  {
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const next = (await get(
        `${server.url}api/jobs?state=completed${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )) as { next?: string };
      cursor = next.next;
    }
    deep = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
  }
  const calls: [string, string][] = [
    ['overview (counts per function)', 'api/overview'],
    ['queued jobs, first page of 50', 'api/jobs?state=queued'],
    ['queued jobs of one function', 'api/jobs?state=queued&function=resizeImage'],
    ['completed jobs, 101st page', `api/jobs?state=completed${deep}`],
    ['dead jobs, first page', 'api/jobs?state=dead'],
    ['one job (input, events)', `api/jobs/${encodeURIComponent(handle)}`],
    ['search by handle', `api/search?q=${encodeURIComponent(handle)}`],
    ['charts (the last hour)', 'api/throughput'],
    ['Prometheus scrape', 'metrics'],
  ];
  console.log(
    `\n  ${'call'.padEnd(34)} ${'cold'.padStart(10)} ${'median'.padStart(10)} ${'slowest'.padStart(10)}`,
  );
  let worst = 0;
  for (const [label, path] of calls) {
    const { cold, median, slowest } = await timings(`${server.url}${path}`);
    worst = Math.max(worst, cold, slowest);
    console.log(
      `  ${label.padEnd(34)} ${ms(cold).padStart(10)} ${ms(median).padStart(10)} ${ms(slowest).padStart(10)}`,
    );
  }
  console.log(`  slowest answer of all: ${ms(worst)} (target: under 200 ms)`);
} finally {
  await server.stop();
}
rmSync(large, { force: true });

// 2. The drain, console off and on.
let files = 0;
const drains: Record<'off' | 'on', number[]> = { off: [], on: [] };
const drainOnce = async (withConsole: boolean) => {
  const path = join(directory, `drain-${++files}.db`);
  // The file exists before the console opens it (the console creates nothing).
  (await openQueue(path)).close();
  let stop = async () => {};
  if (withConsole) {
    const opened = await startConsole(path);
    const closePage = await openPage(opened.url);
    stop = async () => {
      await closePage();
      await opened.stop();
    };
  }
  try {
    drains[withConsole ? 'on' : 'off'].push(await drainMs(path, drainCount, keepAll));
  } finally {
    await stop();
  }
  rmSync(path, { force: true });
};
for (let pair = 0; pair < pairs; pair++) {
  const order = pair % 2 === 0 ? [false, true] : [true, false];
  for (const withConsole of order) await drainOnce(withConsole);
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const rateOf = (values: number[]) => (drainCount / median(values)) * 1000;
const off = rateOf(drains.off);
const on = rateOf(drains.on);
const each = (values: number[]) => values.map((value) => fmt((drainCount / value) * 1000)).join(', ');
console.log(`\n  drain ${fmt(drainCount)} no-op jobs, 2 threads, ${pairs} pairs (median jobs/s)`);
console.log(`  console off   ${fmt(off).padStart(8)}   (${each(drains.off)})`);
console.log(`  console open  ${fmt(on).padStart(8)}   (${each(drains.on)})`);
console.log(
  `  cost of an open console: ${((1 - on / off) * 100).toFixed(1)}% of the rate (target: at most 5%)`,
);
rmSync(directory, { recursive: true, force: true });
