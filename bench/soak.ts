/**
 * npm run soak: a steady mixed load for SOAK_MINUTES (10 by default; SOAK_SECONDS for less) on every
 * backend at once: fan-outs and single calls on local threads, background jobs on a queue file drained
 * by the embedded runner, and (when gearmand is installed) foreground and background jobs through a
 * gearmand served by a worker process. It samples, every tenth of the run, this process's heap after a
 * full garbage collection (run it with --expose-gc), RSS and open handles, and the worker process's RSS.
 *
 * It asserts, and exits 1 when it fails: no job failed; after the warm-up (40% of the run, 2 min at most), the live
 * heap of the last third is within 16 MB and 10% of the first third's (medians), the open handles no
 * more than 5 above, and the worker's RSS within 48 MB and 25% (it is not collected first). `test/soak.test.ts` runs it for a minute
 * in CI; `npm run soak` for ten.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '../src/index.js';
import { gearmandInstalled, startGearmand, type TestGearmand } from '../test/helpers/gearmand.js';
import type functions from './queue-functions.js';

const minutes = process.env.SOAK_SECONDS
  ? Number(process.env.SOAK_SECONDS) / 60
  : Number(process.env.SOAK_MINUTES ?? 10);
const sampleEveryMs = (minutes * 60_000) / 10;
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) {
  console.error(
    'soak: run it with node --expose-gc (npm run soak does), so that the heap sampled is the live one',
  );
  process.exit(2);
}
const functionsModule = new URL('./queue-functions.ts', import.meta.url);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-soak-'));
const withGearmand = gearmandInstalled;

const local = createClient<typeof functions>({ functions: functionsModule, threads: 2, queue: false });
const queued = createClient<typeof functions>({
  functions: functionsModule,
  threads: 1,
  queue: { path: join(directory, 'soak.db') },
});
let server: TestGearmand | undefined;
let worker: ChildProcess | undefined;
let cluster: ReturnType<typeof createClient<typeof functions>> | undefined;
if (withGearmand) {
  server = await startGearmand();
  worker = spawn(
    process.execPath,
    [cli, 'work', functionsModule.pathname, '--gearman', server.address, '--threads', '2'],
    {
      stdio: 'ignore',
    },
  );
  cluster = createClient<typeof functions>({
    functions: functionsModule,
    gearman: { servers: [server.address] },
  });
}

let jobs = 0;
let failures = 0;
/** Counts `size` jobs once `settled` settles: as done, or as failed. */
const count = (settled: PromiseLike<unknown>, size = 1) =>
  Promise.resolve(settled).then(
    () => {
      jobs += size;
    },
    () => {
      failures += size;
    },
  );

/** A fan-out that counts as failed when any of its tasks failed. */
const allOk = (set: PromiseLike<readonly { readonly ok: boolean }[]>) =>
  Promise.resolve(set).then((results) => {
    if (!results.every((result) => result.ok)) throw new Error('a task failed');
  });

/** One round of load: about 1,000 jobs over every backend, awaited before the next round. */
async function round(): Promise<void> {
  const work: Promise<void>[] = [];
  work.push(count(allOk(local.runAll(Array.from({ length: 500 }, () => local.task('noop')))), 500));
  for (let index = 0; index < 50; index++) work.push(count(local.run('stamp')));
  work.push(
    count(queued.backgroundAll(Array.from({ length: 200 }, () => queued.backgroundJob('noop'))), 200),
  );
  if (cluster) {
    work.push(count(allOk(cluster.runAll(Array.from({ length: 200 }, () => cluster.task('noop')))), 200));
    work.push(
      count(cluster.backgroundAll(Array.from({ length: 100 }, () => cluster.backgroundJob('noop'))), 100),
    );
  }
  await Promise.all(work);
}

interface Sample {
  readonly minute: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly handles: number;
  readonly workerRssMb: number | undefined;
}
const samples: Sample[] = [];
const megabytes = (bytes: number) => Math.round(bytes / 1024 / 1024);
function sample(started: number): void {
  collect?.();
  const memory = process.memoryUsage();
  let workerRssMb: number | undefined;
  if (worker?.pid) {
    const status = readFileSync(`/proc/${worker.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    workerRssMb = kb ? Math.round(Number(kb) / 1024) : undefined;
  }
  samples.push({
    minute: (Date.now() - started) / 60_000,
    rssMb: megabytes(memory.rss),
    heapMb: megabytes(memory.heapUsed),
    handles: process.getActiveResourcesInfo().length,
    workerRssMb,
  });
  const last = samples.at(-1) as Sample;
  console.log(
    `  ${last.minute.toFixed(1).padStart(5)} min  rss ${String(last.rssMb).padStart(4)} MB  heap ${String(last.heapMb).padStart(4)} MB  handles ${String(last.handles).padStart(3)}${last.workerRssMb === undefined ? '' : `  worker rss ${last.workerRssMb} MB`}  jobs ${jobs.toLocaleString('en-US')}`,
  );
}

console.log(
  `gearshift soak  ${new Date().toISOString().slice(0, 10)}  ${minutes} min  node ${process.version}`,
);
console.log(
  `backends: local threads, queue file${withGearmand ? ', gearmand + a worker process' : ' (no gearmand here)'}\n`,
);
const started = Date.now();
const timer = setInterval(() => sample(started), sampleEveryMs);
while (Date.now() - started < minutes * 60_000) await round();
clearInterval(timer);
// No sample after the last round: every sample is taken by the timer, in the midst of the load, so that
// they compare (one taken as the last round's jobs wind down counted 205 handles against 11).

// Node 24 lets a busy process's heap, and so its RSS, settle for the first half-minute or so; a short
// soak judges what comes after (the first 40% of it, at most 2 minutes, is warm-up).
const settled = samples.filter((each) => each.minute >= Math.min(minutes * 0.4, 2));
const first = settled[0] as Sample;
const last = settled.at(-1) as Sample;
const most = (pick: (each: Sample) => number) => Math.max(...settled.map(pick));
console.log(`\n${jobs.toLocaleString('en-US')} jobs done (background ones: accepted), ${failures} failed`);
console.log(`after warm-up (from ${first.minute.toFixed(1)} min):`);
console.log(`  rss     ${first.rssMb} MB -> ${last.rssMb} MB (max ${most((each) => each.rssMb)} MB)`);
console.log(
  `  heap    ${first.heapMb} MB -> ${last.heapMb} MB (max ${most((each) => each.heapMb)} MB), live after a GC`,
);
console.log(`  handles ${first.handles} -> ${last.handles} (max ${most((each) => each.handles)})`);
if (first.workerRssMb !== undefined)
  console.log(
    `  worker  ${first.workerRssMb} MB -> ${last.workerRssMb} MB (max ${most((each) => each.workerRssMb ?? 0)} MB)`,
  );

/** The median of a measure over the first and the last third of the samples after the warm-up. */
function thirds(pick: (each: Sample) => number): [number, number] {
  const third = Math.max(1, Math.floor(settled.length / 3));
  const median = (values: number[]) => {
    const sorted = values.sort((a, b) => a - b);
    const middle = sorted.length / 2;
    return Number.isInteger(middle)
      ? ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
      : (sorted[Math.floor(middle)] as number);
  };
  return [median(settled.slice(0, third).map(pick)), median(settled.slice(-third).map(pick))];
}
const problems: string[] = [];
if (failures > 0) problems.push(`${failures} jobs failed`);
if (jobs === 0) problems.push('no job ran');
const [heapBefore, heapAfter] = thirds((each) => each.heapMb);
if (heapAfter > heapBefore * 1.1 + 16)
  problems.push(`the live heap grew from ${heapBefore} MB to ${heapAfter} MB`);
const [handlesBefore, handlesAfter] = thirds((each) => each.handles);
if (handlesAfter > handlesBefore + 5)
  problems.push(`open handles grew from ${handlesBefore} to ${handlesAfter}`);
if (first.workerRssMb !== undefined) {
  const [workerBefore, workerAfter] = thirds((each) => each.workerRssMb ?? 0);
  if (workerAfter > workerBefore * 1.25 + 48)
    problems.push(`the worker's RSS grew from ${workerBefore} MB to ${workerAfter} MB`);
}
console.log(
  problems.length === 0 ? '\nsoak: no growth, no failure' : `\nsoak: FAILED: ${problems.join('; ')}`,
);
process.exitCode = problems.length === 0 ? 0 : 1;

await Promise.all([local.close(), queued.close(), cluster?.close()]);
worker?.kill('SIGTERM');
await server?.stop();
rmSync(directory, { recursive: true, force: true });
