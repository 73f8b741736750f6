/**
 * Run by bench/pool.ts in a fresh process per pool: queues 100,000 tiny jobs at once and reports the
 * process's peak resident memory (main thread and workers) before and after, as JSON on stdout.
 */
import { Piscina } from 'piscina';
import { createClient } from '../src/index.js';
import type functions from './functions.js';

const jobs = 100_000;
const threads = 2;
const peakMb = () => process.resourceUsage().maxRSS / 1024;

const submitAll =
  process.argv[2] === 'piscina'
    ? (() => {
        const pool = new Piscina({
          filename: new URL('./piscina-tasks.ts', import.meta.url).href,
          minThreads: threads,
          maxThreads: threads,
        });
        return (count: number) => Promise.all(Array.from({ length: count }, (_, n) => pool.run(n)));
      })()
    : (() => {
        const gs = createClient<typeof functions>({
          functions: new URL('./functions.js', import.meta.url),
          threads,
        });
        return (count: number) => Promise.all(Array.from({ length: count }, (_, n) => gs.run('inc', n)));
      })();

await submitAll(1_000);
const before = peakMb();
await submitAll(jobs);
console.log(JSON.stringify({ before, after: peakMb() }));
process.exit(0);
