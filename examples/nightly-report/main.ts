/**
 * npm run example:nightly: the seed's nightly report as a scheduled flow. Makes 20 shop databases, keeps
 * a schedule in a queue file whose job starts a flow over them (one job per shop, the report as the
 * continuation), lets the client's embedded runner run it, and prints the report.
 *
 * A real night is `{ cron: '0 2 * * *' }` with a time zone; this example's schedule comes every 2
 * seconds, so that it runs now. Options: --shops N (20), --data-dir DIR (a temporary directory).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createClient } from '../../src/index.js';
import type functions from './functions.js';
import type { NightReport } from './functions.js';

const { values } = parseArgs({
  options: { shops: { type: 'string', default: '20' }, 'data-dir': { type: 'string' } },
});
const shops = Number(values.shops);
if (!Number.isInteger(shops) || shops < 1) {
  console.error(`--shops must be a whole number from 1 up, got ${JSON.stringify(values.shops)}`);
  process.exit(2);
}
const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'gearshift-nightly-'));
mkdirSync(dataDir, { recursive: true });

// The shops' databases: a day's sales each.
const shopPaths: string[] = [];
for (let shop = 0; shop < shops; shop++) {
  const path = join(dataDir, `shop-${shop}.db`);
  rmSync(path, { force: true });
  const db = new Database(path);
  db.exec('CREATE TABLE sales (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO sales (cents) VALUES (?)');
  db.transaction(() => {
    for (let sale = 0; sale < 100 + shop; sale++) insert.run(100 + ((shop * 31 + sale * 17) % 900));
  })();
  db.close();
  shopPaths.push(path);
}

const queue = join(dataDir, 'queue.db');
const out = join(dataDir, 'report.json');
rmSync(out, { force: true });
const gs = createClient<typeof functions>({ functions: new URL('./functions.ts', import.meta.url), queue });
await gs.schedule(
  'nightly-report',
  { every: '2s' },
  'startNight',
  { queue, shops: shopPaths, out },
  { catchUp: 'none' },
);
console.log(`schedule 'nightly-report' kept in ${queue}: each slot starts a flow over ${shops} shops`);
const started = performance.now();
await gs.start();
while (!existsSync(out)) await new Promise((resolve) => setTimeout(resolve, 50));
const report = JSON.parse(readFileSync(out, 'utf8')) as NightReport;
await gs.unschedule('nightly-report');
console.log(
  `report for ${report.day}: ${report.shops} shops, ${report.orders} orders, $${(report.revenueCents / 100).toFixed(2)}` +
    `${report.failed.length > 0 ? `; failed: ${report.failed.join('; ')}` : ''} (${Math.round(performance.now() - started)} ms after the runner started)`,
);
await gs.close();
if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
