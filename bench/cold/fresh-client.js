// A fresh process and a fresh client, from dist/ as an app runs it: prints how long one fan-out takes.
//   node fresh-client.js io <port>        10 jobs that each wait 1 s on the slow server
//   node fresh-client.js cpu              20 jobs of 50 ms of CPU; the first call starts the pool
//   node fresh-client.js cpu-started      the same after `await start()` (also prints how long it took)
import { createClient } from 'gearshift';

const [scenario, port] = process.argv.slice(2);
const gs = createClient({ functions: new URL('./functions.js', import.meta.url), threads: 2, queue: false });
const timed = async (work) => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};
const startMs = scenario === 'cpu-started' ? await timed(() => gs.start()) : 0;
const tasks =
  scenario === 'io'
    ? Array.from({ length: 10 }, () => gs.task('fetchSlow', { port: Number(port) }))
    : Array.from({ length: 20 }, () => gs.task('spin', { ms: 50 }));
const ms = await timed(() => gs.runAll(tasks));
await gs.close();
console.log(JSON.stringify({ ms, startMs }));
