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

// 2. Serial round trips: submit, await, repeat. Short rounds, alternated, so that the sides see the
// same moments of a shared machine. Besides piscina as it comes, piscina whose threads wait for tasks
// without blocking their event loops (`atomics: 'async'`), as gearshift's threads must: the floor for a
// pool whose threads serve their sockets and timers between jobs.
const servingPool = new Piscina({
  filename: new URL('./piscina-tasks.ts', import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
  atomics: 'async',
});
await Promise.all(range(5_000).map((n) => servingPool.run(n)));
const serialRounds = 15;
const serialPerRound = serialJobs / 5;
const serial = { piscina: [] as number[], serving: [] as number[], run: [] as number[] };
for (let round = 0; round < serialRounds; round++) {
  serial.piscina.push(
    await timed(async () => {
      for (let n = 0; n < serialPerRound; n++) await pool.run(n);
    }),
  );
  serial.serving.push(
    await timed(async () => {
      for (let n = 0; n < serialPerRound; n++) await servingPool.run(n);
    }),
  );
  serial.run.push(
    await timed(async () => {
      for (let n = 0; n < serialPerRound; n++) await gs.run('inc', n);
    }),
  );
}
await servingPool.destroy();
const piscinaMicros = (median(serial.piscina) * 1000) / serialPerRound;
const servingMicros = (median(serial.serving) * 1000) / serialPerRound;
const runMicros = (median(serial.run) * 1000) / serialPerRound;
console.log(
  `serial round trip, ${fmt(serialPerRound)} in a row (median of ${serialRounds} alternated rounds)`,
);
console.log(`  raw piscina run     ${piscinaMicros.toFixed(1).padStart(10)} us`);
console.log(
  `  raw piscina, threads serving their loops ${servingMicros.toFixed(1).padStart(6)} us  (atomics: 'async'; the floor)`,
);
console.log(
  `  gearshift run       ${runMicros.toFixed(1).padStart(10)} us       ${(piscinaMicros / runMicros).toFixed(2)}x  (target 0.9x); ${(servingMicros / runMicros).toFixed(2)}x the floor\n`,
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

/**
 * A fresh process with a fresh client, run from dist/ as an app runs it (the threads of this benchmark
 * load TypeScript through tsx, which a built app does not): the fan-out's own time, from its JSON line.
 */
async function freshClient(
  scenario: 'io' | 'cpu' | 'cpu-started',
  port = 0,
): Promise<{ ms: number; startMs: number }> {
  const script = fileURLToPath(new URL('./cold/fresh-client.js', import.meta.url));
  const { stdout } = await exec(process.execPath, [script, scenario, String(port)], { timeout: 60_000 });
  return JSON.parse(stdout) as { ms: number; startMs: number };
}

// 4. Fan-out with default options: 10 jobs that each wait 1 s on a socket (the seed's "10 databases,
// 1 second each"). gearshift: no concurrency option, on a fresh client in a fresh process (its first
// call starts the threads and loads the module) and on a client that has run a job. Raw piscina with
// its defaults (one task per thread) and with the concurrentTasksPerWorker one would have to know to set.
const server = await startSlowServer(1_000);
const fanOutFresh = (await freshClient('io', server.port)).ms;
const io = createClient<typeof functions>({ functions: new URL('./functions.js', import.meta.url), threads });
await io.run('inc', 0);
const fanOutWarm = await timed(() =>
  io.runAll(range(10).map(() => io.task('fetchSlow', { port: server.port }))),
);
await io.close();
const piscinaFanOut = async (concurrentTasksPerWorker: number) => {
  const raw = new Piscina({
    filename: new URL('./piscina-tasks.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker,
  });
  await raw.run(0);
  const ms = await timed(() =>
    Promise.all(range(10).map(() => raw.run({ port: server.port }, { name: 'fetchSlow' }))),
  );
  await raw.close();
  return ms;
};
const fanOutPiscina = await piscinaFanOut(1);
const fanOutPiscina5 = await piscinaFanOut(5);
console.log(`fan-out, 10 jobs that each wait 1 s on a socket, default options, ${threads} threads`);
console.log(`  gearshift, fresh client ${fanOutFresh.toFixed(0).padStart(7)} ms   (target at most 1300 ms)`);
console.log(`  gearshift, again        ${fanOutWarm.toFixed(0).padStart(7)} ms   (target at most 1150 ms)`);
console.log(`  raw piscina, defaults   ${fanOutPiscina.toFixed(0).padStart(7)} ms   (one task per thread)`);
console.log(
  `  raw piscina, 5 per thread ${fanOutPiscina5.toFixed(0).padStart(5)} ms   (concurrentTasksPerWorker: 5)\n`,
);

// 5. A mix, submitted together: 10 jobs that wait 1 s and 40 CPU-bound jobs of 50 ms (ideal: both done
// in about 1 s, the waits overlapping the computing). Neither kind may starve the other.
const mixed = createClient<typeof functions>({
  functions: new URL('./functions.js', import.meta.url),
  threads,
});
await mixed.run('spin', { ms: 1 });
const mixStarted = performance.now();
const finished = { wait: 0, spin: 0 };
const track = (kind: 'wait' | 'spin') => () => {
  finished[kind] = Math.max(finished[kind], performance.now() - mixStarted);
};
await Promise.all([
  ...range(10).map(() => mixed.run('fetchSlow', { port: server.port }).then(track('wait'))),
  ...range(cpuJobs).map(() => mixed.run('spin', { ms: cpuMs }).then(track('spin'))),
]);
await mixed.close();
await server.close();
console.log(
  `a mix: 10 jobs that wait 1 s and ${cpuJobs} jobs of ${cpuMs} ms of CPU, together, default options`,
);
console.log(`  the waiting jobs done after ${finished.wait.toFixed(0).padStart(7)} ms`);
console.log(
  `  the CPU jobs done after     ${finished.spin.toFixed(0).padStart(5)} ms   (alone: ${ideal} ms ideal)\n`,
);

// 6. A cold fan-out: 20 CPU-bound jobs of 50 ms of a function that has never run, on a fresh client in
// a fresh process: without start() (the first call starts the threads), and after `await start()`
// (threads up, module loaded in each).
const coldJobs = 20;
const coldIdeal = (coldJobs * cpuMs) / threads;
const coldAlone = await freshClient('cpu');
const coldStarted = await freshClient('cpu-started');
const ofIdeal = (ms: number) => `${((coldIdeal / ms) * 100).toFixed(1)}% of ideal`;
console.log(
  `cold fan-out, ${coldJobs} jobs of ${cpuMs} ms never run before, fresh client (ideal ${coldIdeal} ms)`,
);
console.log(
  `  first call starts the pool ${coldAlone.ms.toFixed(0).padStart(5)} ms   ${ofIdeal(coldAlone.ms)}`,
);
console.log(
  `  after start()              ${coldStarted.ms.toFixed(0).padStart(5)} ms   ${ofIdeal(coldStarted.ms)}  (target 95%; start() took ${coldStarted.startMs.toFixed(0)} ms)\n`,
);

// 7. A cold process to its first result: node starts, imports the library from dist/, makes a pool of
// 2 threads, runs one tiny job, prints it and exits; raw piscina the same. Alternated pairs, so that
// both sides see the same moments of a shared machine, and the ratio is the median of the pairs' own
// (a machine that slows for a while moves both sides of a pair, not the ratio).
const coldPairs = 15;
type ColdSide = 'piscina' | 'gearshift';
/**
 * Raw piscina's runs that died of a signal, run again (up to three times a measurement) and counted:
 * piscina require()s its ES task file in each thread, and Node 22 and 24 abort the process when a
 * thread is terminated during that load (the pool's close can do it; src/local/thread-loader.cjs says
 * why gearshift's threads import() instead). A gearshift run that dies ends the benchmark.
 */
const piscinaDeaths: string[] = [];
const processMs = async (side: ColdSide): Promise<number> => {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      await exec(process.execPath, [fileURLToPath(new URL(`./cold/${side}.js`, import.meta.url))], {
        timeout: 60_000,
      });
      return performance.now() - started;
    } catch (error) {
      const { signal } = error as { signal?: string | null };
      if (side === 'gearshift' || !signal || attempt === 3) throw error;
      piscinaDeaths.push(signal);
    }
  }
};
const coldProcess: Record<ColdSide, number[]> = { piscina: [], gearshift: [] };
await processMs('piscina');
await processMs('gearshift');
for (let pair = 0; pair < coldPairs; pair++) {
  coldProcess.piscina.push(await processMs('piscina'));
  coldProcess.gearshift.push(await processMs('gearshift'));
}
const coldPiscina = median(coldProcess.piscina);
const coldGearshift = median(coldProcess.gearshift);
const coldRatio = median(coldProcess.gearshift.map((ms, pair) => ms / (coldProcess.piscina[pair] as number)));
const deaths =
  piscinaDeaths.length > 0 ? `   (${piscinaDeaths.length} died, run again: ${piscinaDeaths.join(', ')})` : '';
console.log(`cold process to first result, whole process (median of ${coldPairs} alternated pairs)`);
console.log(`  raw piscina         ${coldPiscina.toFixed(0).padStart(10)} ms${deaths}`);
console.log(
  `  gearshift           ${coldGearshift.toFixed(0).padStart(10)} ms   ${coldRatio.toFixed(2)}x of piscina's, pair by pair  (target at most 1.3x)\n`,
);

// 9. Who loads a TypeScript functions module: a pool of one thread starting and loading one (a module
// with a sibling imported as './lib.js'), in fresh processes: plain node (Node's own type stripping on
// 22 and 24; on 20, gearshift's fallback to tsx's CommonJS hook) against `node --import tsx`.
const tsStart = async (viaTsx: boolean) => {
  const script = fileURLToPath(new URL('./cold/ts-start.js', import.meta.url));
  const runs: number[] = [];
  for (let round = 0; round < 3; round++) {
    const { stdout } = await exec(process.execPath, [...(viaTsx ? ['--import', 'tsx'] : []), script], {
      timeout: 60_000,
    });
    runs.push((JSON.parse(stdout) as { ms: number }).ms);
  }
  return median(runs);
};
const strips = Boolean((process.features as { typescript?: unknown }).typescript);
const tsPlain = await tsStart(false);
const tsTsx = await tsStart(true);
console.log('a TypeScript functions module: start() of a pool of one thread (median of 3 fresh processes)');
console.log(
  `  plain node            ${tsPlain.toFixed(0).padStart(8)} ms   (${strips ? "Node's type stripping" : 'tsx, as the fallback: this Node cannot strip types'})`,
);
console.log(
  `  node --import tsx     ${tsTsx.toFixed(0).padStart(8)} ms   ${(tsTsx / tsPlain).toFixed(2)}x\n`,
);

// 8. Peak memory with 100,000 tiny jobs queued at once: each pool in a fresh process (main thread and
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
