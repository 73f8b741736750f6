/**
 * What limits cost a drain (issue 20's bound: no more than 10% off): part of `npm run bench:queue`, and
 * run alone by `npm run bench:limits`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DrainedJobs, drainQueuedMs } from './queue-drain.js';

const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const rate = (count: number, ms: number) => (count / ms) * 1000;

// What limits cost a drain: 20,000 no-op jobs, already in the file, of a function with a limit that
// never binds (so the claim does all a limit's work and the drain is not slowed by the limit itself): a
// concurrency limit, the same per key over 1,000 keys, and a rate; each against the same jobs without a
// limit drained just before or just after it (the order alternates by round), so that each pair shares
// the machine's weather, which on this virtual machine swings a drain by half from one second to the
// next. Per limit: the median of its pairs' ratios, and the range of the middle half of them.
export async function printLimitCost(fresh: (name: string) => string): Promise<void> {
  const count = 20_000;
  const rounds = 9;
  const unlimited: DrainedJobs = { functionName: 'noop' };
  const variants: [string, DrainedJobs][] = [
    ['concurrency limit', { functionName: 'concurrencyLimited' }],
    [
      'concurrency per key, 1,000 keys',
      { functionName: 'keyLimited', input: (index) => ({ key: index % 1000 }) },
    ],
    ['rate limit', { functionName: 'rateLimited' }],
  ];
  const drain = async (jobs: DrainedJobs) =>
    rate(count, await drainQueuedMs(fresh('gearshift-limits'), count, jobs));
  const pairs = variants.map((): [number, number][] => []);
  for (let round = 0; round < rounds; round++)
    for (const [index, [, jobs]] of variants.entries()) {
      const [first, second] = round % 2 === 0 ? [unlimited, jobs] : [jobs, unlimited];
      const [a, b] = [await drain(first), await drain(second)];
      pairs[index]?.push(round % 2 === 0 ? [a, b] : [b, a]);
    }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const at = (values: number[], share: number) =>
    sorted(values)[Math.floor((values.length - 1) * share)] as number;
  console.log(
    `\n  drain 20,000 no-op jobs already queued, under a limit that never binds (${rounds} pairs each)`,
  );
  console.log(
    `    ${''.padEnd(32)} ${'limited'.padStart(8)} ${'unlimited'.padStart(10)}   ratio  (middle half)   best of each`,
  );
  for (const [index, [label]] of variants.entries()) {
    const own = pairs[index] as [number, number][];
    const ratios = own.map(([free, limited]) => limited / free);
    const limited = own.map(([, value]) => value);
    const free = own.map(([value]) => value);
    // The fastest drain of each side: on a shared machine, interference only ever slows a drain, so the
    // best of nine is the figure least disturbed by it.
    const best = Math.max(...limited) / Math.max(...free);
    console.log(
      `    ${label.padEnd(32)} ${fmt(at(limited, 0.5)).padStart(8)} ${fmt(at(free, 0.5)).padStart(10)}  ${at(
        ratios,
        0.5,
      ).toFixed(
        3,
      )}x  (${at(ratios, 0.25).toFixed(3)} to ${at(ratios, 0.75).toFixed(3)})  ${best.toFixed(3)}x  jobs/s`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const directory = mkdtempSync(join(tmpdir(), 'gearshift-bench-limits-'));
  let files = 0;
  console.log(`gearshift bench:limits  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
  try {
    await printLimitCost((name) => join(directory, `${name}-${++files}.db`));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
