/**
 * npm run demo: the seed's parallel report, both halves of it. Ten shops, each with its own SQLite
 * database of sales; a report that needs all ten.
 *
 * 1. Work that computes: each shop's report is real queries over a real file, done the prototype way
 *    (one database after another, inline, in this thread), then fanned out (one job per database over
 *    worker threads): the speed-up is about the number of cores.
 * 2. Work that waits: the seed's own case, databases that each take about a second to answer. A
 *    stand-in server (remote-database.ts) answers each shop's totals query after a second; one after
 *    another that is ten seconds, fanned out with default options about one.
 *
 * Options: --databases N (10), --rows N (300000 per database), --data-dir DIR (./.data beside this file),
 * --threads N (every core), --remote-ms N (1000: how long the stand-in takes to answer),
 * --gearman host:port[,host:port...] (run the jobs on a gearmand cluster instead, served by
 * `gearshift work examples/parallel-report/functions.ts --gearman ...` workers: the calling code is the
 * same, only the client's options change).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '../../src/index.js';
import functions, { type RemoteTotals, type SalesReport } from './functions.js';
import { startRemoteDatabase } from './remote-database.js';

const { values } = parseArgs({
  options: {
    databases: { type: 'string', default: '10' },
    rows: { type: 'string', default: '300000' },
    'data-dir': { type: 'string', default: fileURLToPath(new URL('./.data', import.meta.url)) },
    threads: { type: 'string', default: String(availableParallelism()) },
    'remote-ms': { type: 'string', default: '1000' },
    gearman: { type: 'string' },
  },
});
const databases = wholeNumber('--databases', values.databases);
const rows = wholeNumber('--rows', values.rows);
const threads = wholeNumber('--threads', values.threads);
const remoteMs = wholeNumber('--remote-ms', values['remote-ms']);
const dataDir = values['data-dir'];

const functionsModule = new URL('./functions.js', import.meta.url);
// The one place the two set-ups differ: worker threads here, or a gearmand cluster and its workers.
const gs = values.gearman
  ? createClient<typeof functions>({ functions: functionsModule, gearman: { servers: values.gearman } })
  : createClient<typeof functions>({ functions: functionsModule, threads });
const fannedOver = values.gearman ? `the workers of ${values.gearman}` : `${threads} worker threads`;
const inline = createClient({ functions, threads: 0 });
const shops = Array.from({ length: databases }, (_, index) => {
  const name = `shop-${String(index + 1).padStart(2, '0')}.db`;
  return { name, dbPath: join(dataDir, name) };
});

console.log(`gearshift demo: the parallel report (${databases} databases x ${fmt(rows)} sales rows)\n`);

// The data: built once, in parallel, then reused by every later run.
const made = await gs.runAll(
  shops.map((shop, index) => gs.task('generateSales', { dbPath: shop.dbPath, rows, seed: index + 1 })),
);
const failedToMake = made.find((result) => !result.ok);
if (failedToMake && !failedToMake.ok) throw failedToMake.error;
const created = made.filter((result) => result.ok && result.result.created).length;
console.log(`data: ${dataDir} (${created} databases created, ${databases - created} reused)\n`);

// 1. Fanned out: one job per database, progress shown as each one completes.
console.log(`fanned out over ${fannedOver}:`);
const started = performance.now();
let completed = 0;
const results = await gs.runAll(
  shops.map((shop) => gs.task('salesReport', { dbPath: shop.dbPath })),
  {
    on: {
      complete: (event) => {
        completed++;
        const elapsed = fmt(performance.now() - started).padStart(6);
        const revenue = money(event.result.revenueCents).padStart(16);
        console.log(
          `  [${String(completed).padStart(2)}/${databases}] ${shops[event.index]?.name}  ${revenue}  at ${elapsed} ms`,
        );
      },
      fail: (event) => console.log(`  ${shops[event.index]?.name} failed: ${event.error.message}`),
    },
  },
);
const firstFanOutMs = performance.now() - started;
const reports = results.map((result) => {
  if (!result.ok) throw result.error;
  return result.result;
});

// 2. The prototype way: one database after another, inline in this thread. Each way is timed twice
// and the better time kept, so that one unlucky moment on a shared machine does not decide the ratio.
const sequentialMs = Math.min(await timeSequential(), await timeSequential());
const fannedOutMs = Math.min(firstFanOutMs, await timeFanOut());
console.log(`\nthe same report one database after another, inline: the same figures\n`);

// The report: per database, then the totals the request adds up.
const total = reports.reduce(add);
const header = `  ${'database'.padEnd(12)} ${'orders'.padStart(10)} ${'units'.padStart(11)} ${'revenue'.padStart(17)}  best product   best region`;
console.log(header);
for (const [index, report] of reports.entries()) console.log(row(shops[index]?.name ?? '', report));
console.log(`  ${'-'.repeat(header.length - 2)}`);
console.log(row('total', total));
const [bestMonth] = best(total.byMonth);
console.log(`\n  best month overall: ${bestMonth} (${money(total.byMonth[bestMonth] ?? 0)})`);

console.log('\ntiming (the better of two runs each)');
const line = (label: string, figure: string) => console.log(`  ${label.padEnd(30)} ${figure}`);
line('one after another, inline', `${fmt(sequentialMs).padStart(7)} ms`);
line(
  values.gearman ? 'fanned out, through gearmand' : `fanned out, ${threads} threads`,
  `${fmt(fannedOutMs).padStart(7)} ms`,
);
line(
  'speed-up',
  `${(sequentialMs / fannedOutMs).toFixed(2).padStart(7)}x  (${availableParallelism()} cores)`,
);

// 3. The seed's own case: databases that each take about a second to answer. Nothing is set to make
// the ten waits overlap: a thread whose jobs wait on their sockets takes more jobs by itself.
const remote = await startRemoteDatabase(new Map(shops.map((shop) => [shop.name, shop.dbPath])), remoteMs);
console.log(`\ndatabases that each take ${fmt(remoteMs)} ms to answer (the seed's "1 second each"):`);
console.log(
  `  a stand-in for remote databases: a server on 127.0.0.1:${remote.port} runs each shop's totals query on\n` +
    `  its file, then holds the answer until ${fmt(remoteMs)} ms after the question (the wait stands for the\n` +
    '  latency of a database across a network; the query and the socket are real)',
);
const ask = (client: typeof gs | typeof inline, shop: string) =>
  client.run('remoteTotals', { port: remote.port, shop }) as PromiseLike<RemoteTotals>;
let begin = performance.now();
const askedInTurn: RemoteTotals[] = [];
for (const shop of shops) askedInTurn.push(await ask(inline, shop.name));
const inTurnMs = performance.now() - begin;
begin = performance.now();
const askedTogether = await gs.runAll(
  shops.map((shop) => gs.task('remoteTotals', { port: remote.port, shop: shop.name })),
);
const togetherMs = performance.now() - begin;
await remote.close();
const together = askedTogether.map((result) => {
  if (!result.ok) throw result.error;
  return result.result;
});
if (JSON.stringify(together) !== JSON.stringify(askedInTurn)) throw new Error('the two ways disagree');
const remoteRevenue = together.reduce((sum, totals) => sum + totals.revenueCents, 0);
console.log(`  total revenue ${money(remoteRevenue)}, the same both ways`);
line('one after another, inline', `${fmt(inTurnMs).padStart(7)} ms`);
line(
  values.gearman ? 'fanned out, through gearmand' : `fanned out, default options`,
  `${fmt(togetherMs).padStart(7)} ms`,
);
line('speed-up', `${(inTurnMs / togetherMs).toFixed(2).padStart(7)}x  (${databases} databases)`);

await Promise.all([gs.close(), inline.close()]);

/** Runs the report inline, one database after another, and checks it agrees with the fanned-out one. */
async function timeSequential(): Promise<number> {
  const begin = performance.now();
  const sequential: SalesReport[] = [];
  for (const shop of shops) sequential.push(await inline.run('salesReport', { dbPath: shop.dbPath }));
  const elapsed = performance.now() - begin;
  if (JSON.stringify(sequential) !== JSON.stringify(reports)) throw new Error('the two ways disagree');
  return elapsed;
}

async function timeFanOut(): Promise<number> {
  const begin = performance.now();
  await gs.runAll(shops.map((shop) => gs.task('salesReport', { dbPath: shop.dbPath })));
  return performance.now() - begin;
}

function row(name: string, report: SalesReport): string {
  const [product] = best(report.byProduct);
  const [region] = best(report.byRegion);
  return `  ${name.padEnd(12)} ${fmt(report.orders).padStart(10)} ${fmt(report.units).padStart(11)} ${money(report.revenueCents).padStart(17)}  ${product.padEnd(14)} ${region}`;
}

function add(a: SalesReport, b: SalesReport): SalesReport {
  const merge = (x: Record<string, number>, y: Record<string, number>) => {
    const sum = { ...x };
    for (const [key, value] of Object.entries(y)) sum[key] = (sum[key] ?? 0) + value;
    return sum;
  };
  return {
    orders: a.orders + b.orders,
    units: a.units + b.units,
    revenueCents: a.revenueCents + b.revenueCents,
    byProduct: merge(a.byProduct, b.byProduct),
    byRegion: merge(a.byRegion, b.byRegion),
    byMonth: merge(a.byMonth, b.byMonth),
  };
}

function best(revenue: Record<string, number>): [string, number] {
  return Object.entries(revenue).reduce((top, entry) => (entry[1] > top[1] ? entry : top), ['-', -1]);
}

function money(cents: number): string {
  return `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function wholeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${flag} must be a whole number from 1 up, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}
