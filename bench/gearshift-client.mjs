// bench:gearman's gearshift client: the built package (dist, as an application imports it), in a process
// of its own, as every other side's client is; it takes the floor's client arguments and prints the same
// {"ms", "count"}, timing only its measured round.
//
//   node gearshift-client.mjs <host> <port> <function> <serial|tasks|background> <count> <warm-up count>
//
// Measured inside bench/gearman.ts's own process (the source through tsx, after the rows before it), the
// same client was 7 to 10% slower on serial background submissions than here (2026-12-07).
import { createClient } from '../dist/index.js';
import { printTimedRound } from './timed-round.mjs';

const [host, port, functionName, mode, count, warmUp] = process.argv.slice(2);
const gs = createClient({ gearman: { servers: [`${host}:${port}`] } });

/** Runs `jobs` jobs of the mode, and resolves with how many were answered right. */
async function roundOf(jobs) {
  let right = 0;
  if (mode === 'serial') {
    for (let n = 0; n < jobs; n++) right += (await gs.run(functionName, n)) === n + 1 ? 1 : 0;
  } else if (mode === 'tasks') {
    const results = await gs.runAll(Array.from({ length: jobs }, (_, n) => gs.task(functionName, n)));
    right = results.filter((result, n) => result.ok && result.result === n + 1).length;
  } else if (mode === 'background') {
    // Nobody serves this name: the jobs stay queued in gearmand, as in the other sides' rounds.
    for (let n = 0; n < jobs; n++) right += (await gs.background(`${functionName}_queued`, n)) ? 1 : 0;
  } else throw new Error(`unknown mode ${mode}: serial, tasks or background`);
  return right;
}

await printTimedRound(roundOf, Number(warmUp), Number(count));
await gs.destroy();
