/**
 * What limits cost a drain (issue 20's bound: no more than 10% off): part of `npm run bench:queue`, and
 * run alone by `npm run bench:limits`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DrainedJobs, type DrainTime, drainQueued } from './queue-drain.js';

const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const rate = (count: number, ms: number) => (count / ms) * 1000;

// What limits cost a drain: 20,000 no-op jobs, already in the file, of a function with a limit that
// never binds (so the claim does all a limit's work and the drain is not slowed by the limit itself): a
// concurrency limit, the same per key over 1,000 keys, and a rate; each against the same jobs without a
// limit drained just before or just after it (the order alternates by round), so that each pair shares
// the machine's weather, which on this virtual machine swings a drain by half from one second to the
// next. Per limit: the median of its pairs' ratios, the range of the middle half of them, and the ratio
// of each side's best drain. And the CPU time a job costs (every thread of the process, the runner's
// and the pool's), unlimited over limited: steadier than the wall clock here, since a neighbour that
// takes the CPU away for a while lengthens a drain but not the CPU time it spends.
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
  const drain = (jobs: DrainedJobs) => drainQueued(fresh('gearshift-limits'), count, jobs);
  /** Per limit, its pairs: [unlimited, limited]. */
  const pairs = variants.map((): [DrainTime, DrainTime][] => []);
  for (let round = 0; round < rounds; round++)
    for (const [index, [, jobs]] of variants.entries()) {
      const [first, second] = round % 2 === 0 ? [unlimited, jobs] : [jobs, unlimited];
      const [a, b] = [await drain(first), await drain(second)];
      pairs[index]?.push(round % 2 === 0 ? [a, b] : [b, a]);
    }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const at = (values: number[], share: number) =>
    sorted(values)[Math.floor((values.length - 1) * share)] as number;
  const x = (ratio: number) => `${ratio.toFixed(3)}x`;
  console.log(
    `\n  drain 20,000 no-op jobs already queued, under a limit that never binds (${rounds} pairs each)`,
  );
  console.log(
    `    ${''.padEnd(32)} ${'limited'.padStart(8)} ${'unlimited'.padStart(10)}   ratio  (middle half)   best of each   CPU per job`,
  );
  for (const [index, [label]] of variants.entries()) {
    const own = pairs[index] as [DrainTime, DrainTime][];
    const rates = own.map(([free, limited]) => [rate(count, free.ms), rate(count, limited.ms)] as const);
    const ratios = rates.map(([free, limited]) => limited / free);
    const limited = rates.map(([, value]) => value);
    const free = rates.map(([value]) => value);
    // The fastest drain of each side: on a shared machine, interference only ever slows a drain, so the
    // best of nine is the figure least disturbed by it.
    const best = Math.max(...limited) / Math.max(...free);
    const cpu = at(
      own.map(([free, limited]) => free.cpuMs / limited.cpuMs),
      0.5,
    );
    console.log(
      `    ${label.padEnd(32)} ${fmt(at(limited, 0.5)).padStart(8)} ${fmt(at(free, 0.5)).padStart(10)}  ${x(
        at(ratios, 0.5),
      )}  (${at(ratios, 0.25).toFixed(3)} to ${at(ratios, 0.75).toFixed(3)})  ${x(best)}         ${x(cpu)}`,
    );
  }
  console.log(
    '    (jobs/s; a ratio is limited over unlimited; CPU per job: unlimited over limited, the median pair)',
  );
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
