/**
 * Prometheus metrics of a queue file and Gearman job servers, through prom-client, read at each scrape
 * (a scrape costs the file a few index reads, and an exporter's restart loses nothing the file keeps):
 *
 * - `gearshift_jobs{function,state,backend}` (gauge): jobs in each state now (on Gearman: queued, running);
 * - `gearshift_workers{function,backend}` (gauge): live runners (workers) that run the function;
 * - `gearshift_jobs_submitted_total`, `gearshift_jobs_completed_total`, `gearshift_jobs_failed_total`
 *   (failed and dead), `gearshift_jobs_cancelled_total` `{function,backend}` (counters): since the file
 *   began, through retention (a queue file only: gearmand keeps no counts);
 * - `gearshift_job_wait_seconds`, `gearshift_job_run_seconds` `{function,backend}` (histograms): the jobs
 *   completed since the exporter started, each observed once (wait: from submitted, or due, to started;
 *   run: from started to its end).
 */
import { createRequire } from 'node:module';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FilledGearmanOptions } from '../gearman/gearman-options.js';
import type { FunctionOverview, QueueView } from '../queue/queue-view.js';
import type { FinishedCursor } from '../queue/sql/console-reads.js';
import { gearmanView } from './gearman-view.js';

/** What a scrape reads. */
export interface MetricsSources {
  readonly view?: QueueView | undefined;
  readonly gearman?: FilledGearmanOptions | undefined;
}

/** The metrics of a console or of `gearshift metrics`. */
export interface Metrics {
  readonly registry: Registry;
  /** Reads the file and the servers, and answers the registry's text (Prometheus' exposition format). */
  scrape(): Promise<string>;
}

/** Buckets of the wait and run histograms, in seconds: a millisecond to an hour. */
const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** The most jobs observed per function and state in one scrape (the rest, at the next). */
const observePerScrape = 10_000;

type Labels = 'function' | 'backend';

/** Makes the registry. prom-client loads here, on first use. */
export function createMetrics(sources: MetricsSources): Metrics {
  const client = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  const registry = new client.Registry();
  const registers = [registry];
  const labelNames = ['function', 'backend'] as const;
  const jobs: Gauge<Labels | 'state'> = new client.Gauge({
    name: 'gearshift_jobs',
    help: 'Jobs in each state now',
    labelNames: ['function', 'state', 'backend'],
    registers,
  });
  const workers: Gauge<Labels> = new client.Gauge({
    name: 'gearshift_workers',
    help: 'Live runners or workers that run the function',
    labelNames,
    registers,
  });
  const totals: [Counter<Labels>, (fn: FunctionOverview) => number][] = [
    [
      new client.Counter({
        name: 'gearshift_jobs_submitted_total',
        help: 'Jobs submitted since the queue file began',
        labelNames,
        registers,
      }),
      (fn) => fn.submitted,
    ],
    [
      new client.Counter({
        name: 'gearshift_jobs_completed_total',
        help: 'Jobs completed since the queue file began',
        labelNames,
        registers,
      }),
      (fn) => fn.totals.completed,
    ],
    [
      new client.Counter({
        name: 'gearshift_jobs_failed_total',
        help: 'Jobs failed or dead since the queue file began',
        labelNames,
        registers,
      }),
      (fn) => fn.totals.failed + fn.totals.dead,
    ],
    [
      new client.Counter({
        name: 'gearshift_jobs_cancelled_total',
        help: 'Jobs cancelled since the queue file began',
        labelNames,
        registers,
      }),
      (fn) => fn.totals.cancelled,
    ],
  ];
  const wait: Histogram<Labels> = new client.Histogram({
    name: 'gearshift_job_wait_seconds',
    help: 'From submitted (or due) to started, of the jobs completed since this exporter started',
    labelNames,
    buckets,
    registers,
  });
  const run: Histogram<Labels> = new client.Histogram({
    name: 'gearshift_job_run_seconds',
    help: 'From started to completed, of the jobs completed since this exporter started',
    labelNames,
    buckets,
    registers,
  });
  const cursors = new Map<string, FinishedCursor>();
  const since = Date.now();

  const refresh = async () => {
    const { view, gearman } = sources;
    jobs.reset();
    workers.reset();
    if (view) {
      for (const fn of view.overview().functions) {
        const queue = { function: fn.functionName, backend: 'queue' };
        for (const [state, count] of Object.entries(fn.states)) jobs.set({ ...queue, state }, count);
        workers.set(queue, fn.workers);
        // A counter's value is what the file says: set by resetting it and adding the whole.
        for (const [counter, count] of totals) {
          counter.remove(queue);
          counter.inc(queue, count(fn));
        }
      }
      for (const { functionName, state, jobs: ended, key } of view.endedSince(
        cursors,
        since,
        observePerScrape,
      )) {
        const last = ended.at(-1);
        if (last) cursors.set(key, { finishedAt: last.finishedAt, id: last.id });
        if (state !== 'completed') continue;
        for (const job of ended) {
          if (job.startedAt === null) continue;
          const queue = { function: functionName, backend: 'queue' };
          wait.observe(queue, Math.max(0, job.startedAt - job.createdAt) / 1000);
          run.observe(queue, Math.max(0, job.finishedAt - job.startedAt) / 1000);
        }
      }
    }
    if (gearman) {
      for (const server of await gearmanView(gearman)) {
        for (const fn of server.functions) {
          const cluster = { function: fn.functionName, backend: 'gearman' };
          jobs.inc({ ...cluster, state: 'queued' }, fn.queued);
          jobs.inc({ ...cluster, state: 'running' }, fn.running);
          workers.inc(cluster, fn.workers);
        }
      }
    }
  };

  return {
    registry,
    async scrape() {
      await refresh();
      return registry.metrics();
    },
  };
}
