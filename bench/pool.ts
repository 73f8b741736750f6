/**
 * npm run bench:pool: the local thread pool against raw piscina, in one process, same thread count.
 * Prints rates and ratios; the README quotes them with the date.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Piscina } from 'piscina';
import { createClient } from '../src/index.js';
import type functions from './functions.js';
import { startSlowServer } from './slow-server.js';

const exec = promisify(execFile);
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const threads = 2;
const tinyJobs = 100_000;
const serialJobs = 20_000;
const rounds = 5;

const pool = new Piscina({
  filename: new URL('./piscina-tasks.ts', import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
});
const gs = createClient<typeof functions>({ functions: new URL('./functions.js', import.meta.url), threads });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function timed(work: () => PromiseLike<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const range = (count: number) => Array.from({ length: count }, (_, index) => index);
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
const fmt = (value: number) => value.toLocaleString('en-US');

console.log(`gearshift bench:pool  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log(
  `${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores; ${threads} threads on each side\n`,
);

// Warm-up: threads started, modules loaded, functions measured, JIT settled.
for (let round = 0; round < 3; round++) {
  await Promise.all(range(5_000).map((n) => pool.run(n)));
  await gs.runAll(range(5_000).map((n) => gs.task('inc', n)));
}

// 1. Tiny jobs, all submitted at once.
const pipelined = { piscina: [] as number[], run: [] as number[], runAll: [] as number[] };
for (let round = 0; round < rounds; round++) {
  pipelined.piscina.push(await timed(() => Promise.all(range(tinyJobs).map((n) => pool.run(n)))));
  pipelined.run.push(await timed(() => Promise.all(range(tinyJobs).map((n) => gs.run('inc', n)))));
  pipelined.runAll.push(await timed(() => gs.runAll(range(tinyJobs).map((n) => gs.task('inc', n)))));
}
const piscinaRate = rate(tinyJobs, median(pipelined.piscina));
const runRate = rate(tinyJobs, median(pipelined.run));
const runAllRate = rate(tinyJobs, median(pipelined.runAll));
console.log(`tiny jobs, ${fmt(tinyJobs)} submitted at once (median of ${rounds})`);
console.log(`  raw piscina run     ${fmt(piscinaRate).padStart(10)} jobs/s`);
console.log(
  `  gearshift run       ${fmt(runRate).padStart(10)} jobs/s   ${(runRate / piscinaRate).toFixed(2)}x  (target 0.9x)`,
);
console.log(
  `  gearshift runAll    ${fmt(runAllRate).padStart(10)} jobs/s   ${(runAllRate / piscinaRate).toFixed(2)}x  (target 1.0x)\n`,
);

// 2. Serial round trips: submit, await, repeat. Short rounds, alternated, so that both sides see the
// same moments of a shared machine.
const serialRounds = 15;
const serialPerRound = serialJobs / 5;
const serial = { piscina: [] as number[], run: [] as number[] };
for (let round = 0; round < serialRounds; round++) {
  serial.piscina.push(
    await timed(async () => {
      for (let n = 0; n < serialPerRound; n++) await pool.run(n);
    }),
  );
  serial.run.push(
    await timed(async () => {
      for (let n = 0; n < serialPerRound; n++) await gs.run('inc', n);
    }),
  );
}
const piscinaMicros = (median(serial.piscina) * 1000) / serialPerRound;
const runMicros = (median(serial.run) * 1000) / serialPerRound;
console.log(
  `serial round trip, ${fmt(serialPerRound)} in a row (median of ${serialRounds} alternated rounds)`,
);
console.log(`  raw piscina run     ${piscinaMicros.toFixed(1).padStart(10)} us`);
console.log(
  `  gearshift run       ${runMicros.toFixed(1).padStart(10)} us       ${(piscinaMicros / runMicros).toFixed(2)}x  (target 0.9x)\n`,
);

// 3. CPU-bound efficiency: 40 jobs of 50 ms on every thread, against the ideal.
const cpuJobs = 40;
const cpuMs = 50;
const ideal = (cpuJobs * cpuMs) / threads;
const cpuPiscina = await timed(() =>
  Promise.all(range(cpuJobs).map(() => pool.run({ ms: cpuMs }, { name: 'spin' }))),
);
const cpuGearshift = await timed(() => gs.runAll(range(cpuJobs).map(() => gs.task('spin', { ms: cpuMs }))));
console.log(`CPU-bound, ${cpuJobs} jobs of ${cpuMs} ms on ${threads} threads (ideal ${ideal} ms)`);
console.log(
  `  raw piscina         ${cpuPiscina.toFixed(0).padStart(10)} ms   ${((ideal / cpuPiscina) * 100).toFixed(1)}% of ideal`,
);
console.log(
  `  gearshift runAll    ${cpuGearshift.toFixed(0).padStart(10)} ms   ${((ideal / cpuGearshift) * 100).toFixed(1)}% of ideal  (target 97%)\n`,
);

// 4. Fan-out: 10 jobs that each wait 1 s on a socket finish together.
const server = await startSlowServer(1_000);
const io = createClient<typeof functions>({
  functions: new URL('./functions.js', import.meta.url),
  threads,
  concurrency: 5,
});
await io.run('inc', 0);
const fanOut = await timed(() => io.runAll(range(10).map(() => io.task('fetchSlow', { port: server.port }))));
console.log(`fan-out, 10 jobs that each wait 1 s on a socket (${threads} threads x concurrency 5)`);
console.log(`  gearshift runAll    ${fanOut.toFixed(0).padStart(10)} ms   (target at most 1100 ms)\n`);
await io.close();
await server.close();

// 5. Peak memory with 100,000 tiny jobs queued at once: each pool in a fresh process (main thread and
// workers), so that what earlier rounds left on the heap does not hide the growth.
async function peakRss(pool: 'piscina' | 'gearshift'): Promise<{ before: number; after: number }> {
  const probe = fileURLToPath(new URL('./rss-probe.ts', import.meta.url));
  const { stdout } = await exec(process.execPath, [tsx, probe, pool], { timeout: 120_000 });
  return JSON.parse(stdout) as { before: number; after: number };
}
const rssPiscina = await peakRss('piscina');
const rssGearshift = await peakRss('gearshift');
const mb = ({ before, after }: { before: number; after: number }) =>
  `${after.toFixed(0).padStart(6)} MB peak, ${(after - before).toFixed(0).padStart(4)} MB more than before`;
console.log(`peak RSS with ${fmt(tinyJobs)} tiny jobs queued at once (whole process, fresh for each)`);
console.log(`  raw piscina run     ${mb(rssPiscina)}`);
console.log(`  gearshift run       ${mb(rssGearshift)}`);

await gs.close();
await pool.close();
