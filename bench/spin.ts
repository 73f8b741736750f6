/** Keeps a core busy for `ms` milliseconds and returns how many loop turns that took. */
export function spin(ms: number): number {
  const end = performance.now() + ms;
  let turns = 0;
  while (performance.now() < end) turns++;
  return turns;
}
