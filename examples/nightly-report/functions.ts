/**
 * The job functions of the nightly-report example: a schedule's job starts the night's flow, one job
 * per shop totals that shop's sales, and the flow's continuation adds the shops up.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { FlowOutcome } from '../../src/index.js';
import { createClient, defineFunctions } from '../../src/index.js';

/** One shop's night. */
export interface ShopTotal {
  readonly shop: string;
  readonly orders: number;
  readonly revenueCents: number;
}

/** What the continuation writes: the night's total, and the shops that failed. */
export interface NightReport {
  readonly day: string;
  readonly shops: number;
  readonly orders: number;
  readonly revenueCents: number;
  readonly failed: string[];
}

export default defineFunctions({
  /**
   * What the schedule enqueues each night: keeps the night's flow in the same queue file, one child per
   * shop and the report as its continuation, then ends. The flow is kept in one transaction, and named
   * after the slot (the job's unique, `nightly-report@<slot>`): run again after a crash, this job finds
   * the night's flow instead of starting a second one.
   */
  async startNight(input: { queue: string; shops: string[]; out: string }, job): Promise<string> {
    const slot = job.unique?.slice(job.unique.indexOf('@') + 1) ?? new Date().toISOString();
    // Untyped: this module's own type is what is being defined here.
    const gs = createClient({ queue: { path: input.queue, runner: false } });
    try {
      const { handle } = await gs.flow({
        children: input.shops.map((dbPath) => gs.backgroundJob('shopTotal', { dbPath }, { attempts: 3 })),
        continuation: gs.backgroundJob(
          'nightReport',
          { day: slot.slice(0, 10), out: input.out },
          { unique: `night@${slot}` },
        ),
      });
      return handle;
    } finally {
      await gs.close();
    }
  },

  /** One shop's database: its orders and revenue (a moment of work, as a real query over a day takes). */
  async shopTotal(input: { dbPath: string }): Promise<ShopTotal> {
    await sleep(200);
    const db = new Database(input.dbPath, { readonly: true });
    try {
      const row = db
        .prepare('SELECT count(*) AS orders, coalesce(sum(cents), 0) AS revenueCents FROM sales')
        .get() as {
        orders: number;
        revenueCents: number;
      };
      return { shop: input.dbPath, ...row };
    } finally {
      db.close();
    }
  },

  /** The flow's continuation: adds up every shop that reported, names every one that did not. */
  nightReport(input: { day: string; out: string }, job): NightReport {
    const children = (job.children ?? []) as readonly FlowOutcome[];
    let orders = 0;
    let revenueCents = 0;
    const failed: string[] = [];
    for (const child of children) {
      if (child.ok) {
        const shop = child.result as ShopTotal;
        orders += shop.orders;
        revenueCents += shop.revenueCents;
      } else failed.push(`${child.handle}: ${child.state}, ${child.error.message}`);
    }
    const report = { day: input.day, shops: children.length, orders, revenueCents, failed };
    // Whole or not at all, for whoever watches for the file.
    writeFileSync(`${input.out}.partial`, JSON.stringify(report));
    renameSync(`${input.out}.partial`, input.out);
    return report;
  },
});
