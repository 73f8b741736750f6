// The measured round of a client program of bench:gearman (gearshift's, the node:net floor's, the npm
// libraries'):
// a warm-up round, then the timed one, printed as the {"ms", "count"} line bench/gearman.ts reads.
// `roundOf(jobs)` runs that many jobs and resolves with how many were answered right.

/** Runs the warm-up and the measured round, and prints the measured one. */
export async function printTimedRound(roundOf, warmUp, count) {
  await roundOf(warmUp);
  const started = performance.now();
  const right = await roundOf(count);
  const ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ ms, count: right })}\n`);
}
