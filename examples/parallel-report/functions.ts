/**
 * The job functions of the parallel-report demo: one builds a shop's sales database, one reports on it,
 * one asks a (stand-in) remote database for a shop's totals. The same module runs inline (the "single
 * request" prototype) and in worker threads.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { defineFunctions } from '../../src/index.js';

/** What one database's report says. Totals over several databases are sums of these. */
export interface SalesReport {
  readonly orders: number;
  readonly units: number;
  readonly revenueCents: number;
  /** Revenue in cents per product, per region and per month (`2026-03`). */
  readonly byProduct: Record<string, number>;
  readonly byRegion: Record<string, number>;
  readonly byMonth: Record<string, number>;
}

/** What the remote database answers for one shop. */
export interface RemoteTotals {
  readonly orders: number;
  readonly revenueCents: number;
}

const products = ['anvil', 'bolt', 'cog', 'dynamo', 'easel', 'flange', 'gasket', 'hinge', 'ingot', 'jack'];
const regions = ['north', 'south', 'east', 'west', 'central'];

export default defineFunctions({
  /** Creates a shop's database with `rows` generated sales, unless it is already there. */
  generateSales(input: { dbPath: string; rows: number; seed: number }, job) {
    if (existsSync(input.dbPath)) {
      const existing = new Database(input.dbPath, { readonly: true });
      const { rows } = existing.prepare('SELECT COUNT(*) AS rows FROM sales').get() as { rows: number };
      existing.close();
      if (rows === input.rows) return { created: false, rows };
    }
    mkdirSync(dirname(input.dbPath), { recursive: true });
    // Built under a temporary name and renamed at the end: an interrupted run leaves no half database.
    const building = `${input.dbPath}.building`;
    rmSync(building, { force: true });
    const db = new Database(building);
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(`CREATE TABLE sales (
      id INTEGER PRIMARY KEY, day TEXT NOT NULL, region TEXT NOT NULL, product TEXT NOT NULL,
      quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL)`);
    const insert = db.prepare(
      'INSERT INTO sales (day, region, product, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)',
    );
    const random = mulberry32(input.seed);
    const chunk = 50_000;
    for (let done = 0; done < input.rows; done += chunk) {
      db.transaction(() => {
        for (let row = done; row < Math.min(done + chunk, input.rows); row++) {
          const day = new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 365) * 86_400_000);
          const product = products[Math.floor(random() * products.length)] as string;
          const price = 500 + (product.charCodeAt(0) - 97) * 350 + Math.floor(random() * 200);
          insert.run(
            day.toISOString().slice(0, 10),
            regions[Math.floor(random() * regions.length)],
            product,
            1 + Math.floor(random() * 9),
            price,
          );
        }
      })();
      job.status(Math.min(done + chunk, input.rows), input.rows);
    }
    db.close();
    renameSync(building, input.dbPath);
    return { created: true, rows: input.rows };
  },

  /**
   * Asks the remote database server (remote-database.ts) for one shop's totals and waits for the
   * answer: the job's time is spent waiting on a socket, as the seed's "1 second each" queries are.
   */
  remoteTotals(input: { port: number; shop: string }): Promise<RemoteTotals> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: input.port });
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`${JSON.stringify({ shop: input.shop })}\n`));
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('end', () => {
        const parsed = JSON.parse(answer) as RemoteTotals | { error: string };
        if ('error' in parsed) reject(new Error(`the remote database says: ${parsed.error}`));
        else resolve(parsed);
      });
      socket.on('error', reject);
    });
  },

  /** Reads one shop's database and sums up its sales: what the seed's workers "pass back". */
  salesReport(input: { dbPath: string }, job): SalesReport {
    const db = new Database(input.dbPath, { readonly: true, fileMustExist: true });
    try {
      const totals = db
        .prepare(
          'SELECT COUNT(*) AS orders, SUM(quantity) AS units, SUM(quantity * unit_price_cents) AS revenue FROM sales',
        )
        .get() as { orders: number; units: number; revenue: number };
      job.status(1, 4);
      const byProduct = grouped(db, 'product');
      job.status(2, 4);
      const byRegion = grouped(db, 'region');
      job.status(3, 4);
      const byMonth = grouped(db, 'substr(day, 1, 7)');
      job.status(4, 4);
      return {
        orders: totals.orders,
        units: totals.units,
        revenueCents: totals.revenue,
        byProduct,
        byRegion,
        byMonth,
      };
    } finally {
      db.close();
    }
  },
});

function grouped(db: Database.Database, key: string): Record<string, number> {
  const rows = db
    .prepare(`SELECT ${key} AS key, SUM(quantity * unit_price_cents) AS revenue FROM sales GROUP BY 1`)
    .all() as { key: string; revenue: number }[];
  return Object.fromEntries(rows.map((row) => [row.key, row.revenue]));
}

/** A small seeded random generator, so that every run builds the same data. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
