/**
 * npm run bench:gearman: gearshift's Gearman client and worker against PHP's GearmanClient and
 * GearmanWorker (php-gearman over libgearman), through the same gearmand, side by side in one run.
 *
 * Each scenario gets a fresh gearmand on a free loopback port, and worker processes of one side only:
 * `gearshift work bench/functions.ts --gearman ... --threads 1` (or `--threads 0`, with or without
 * `--prefetch-ms 0`), or `php bench/php/worker.php`, all serving the same tiny job (n => n + 1); and, as
 * the floor under any Node library, a client and worker written with node:net and nothing else
 * (`bench/floor/gearman.mjs`). Every side's client is a process of its own (gearshift's is
 * `bench/gearshift-client.mjs`, on the built package, as an application runs it), which runs a warm-up
 * round (5,000 jobs, see warmUp), then times its measured round (its start-up is not counted); each
 * figure is the better of two measurements, so that one unlucky moment does not decide a ratio. Two rows measure
 * the client alone: serial runs against a PHP worker on every side, and background submissions (no
 * worker).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { promisify } from 'node:util';
import { GearmanAdmin, parseServerAddress } from '../src/index.js';
import { gearmandPrograms, startGearmand, type TestGearmand } from '../test/helpers/gearmand.js';

const exec = promisify(execFile);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const functionsModule = new URL('./functions.ts', import.meta.url).pathname;
const phpWorker = new URL('./php/worker.php', import.meta.url).pathname;
const phpClient = new URL('./php/client.php', import.meta.url).pathname;
const floorProgram = new URL('./floor/gearman.mjs', import.meta.url).pathname;
const gearshiftClient = new URL('./gearshift-client.mjs', import.meta.url).pathname;
const npmProgram = new URL('./npm-gearman/peer.cjs', import.meta.url).pathname;
const serialJobs = 5000;
const manyJobs = 20_000;
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
/**
 * Jobs run before the clock starts, the same on every side: 5,000, or a tenth of the measured round when
 * that is more (a side that stalls on Nagle, measured over 200 jobs, warms up over 20). Node's JIT
 * compiles the hot paths of a fresh process during its first thousands of jobs; PHP has nothing to warm
 * up, and the round costs it nothing either. After 500 jobs, both the default worker and the floor's
 * worker on a thread were still getting faster: 5,000 serial jobs took them 2,252 to 2,306 and 1,804 to
 * 1,876 ms after 500 first, and 1,684 to 1,713 and 1,535 to 1,544 ms after 5,000 first (2026-12-07).
 */
const warmUp = (count: number) =>
  count < 1000 ? Math.floor(count / 10) : Math.max(5000, Math.floor(count / 10));

type Mode = 'serial' | 'tasks' | 'background';
/**
 * gearshift with its worker's jobs on one worker thread, or on its main thread (`--threads 0`), or on its
 * main thread without prefetch (`--prefetch-ms 0`: a job grabbed only for a free slot, as libgearman's
 * workers do); or the least a Node program can do (bench/floor, node:net and nothing else); or PHP.
 */
type Side = GearshiftSide | ProgramSide;
type GearshiftSide = 'gearshift' | 'gearshift-inline' | 'gearshift-classic';
/**
 * The Gearman libraries Node users install from npm (bench/npm-gearman/peer.cjs), as shipped or with
 * TCP_NODELAY forced on their sockets (`+nodelay`).
 */
const npmLibraries = ['gearman', 'node-gearman', 'gearmanode', 'abraxas'] as const;
type NpmSide = `npm:${(typeof npmLibraries)[number]}${'' | '+nodelay'}`;
/** Sides whose client and worker are programs of their own, timing their own rounds. */
type ProgramSide = 'floor' | 'floor-thread' | 'floor-unique' | 'php' | NpmSide;
/** The `gearshift work` options of each gearshift side. */
const workerOptions: Record<GearshiftSide, string[]> = {
  gearshift: ['--threads', '1'],
  'gearshift-inline': ['--threads', '0'],
  'gearshift-classic': ['--threads', '0', '--prefetch-ms', '0'],
};

const isGearshift = (side: Side): side is GearshiftSide => side in workerOptions;

/** An npm side's library, and whether TCP_NODELAY is forced on its sockets. */
function npmLibraryOf(side: NpmSide): { library: string; noDelay: boolean } {
  const [library, noDelay] = side.slice('npm:'.length).split('+');
  return { library: library as string, noDelay: noDelay !== undefined };
}

/** What a program side takes after the common arguments: TCP_NODELAY forced, or the floor's random uniques. */
function variantArgs(side: Side): string[] {
  if (side === 'floor-unique') return ['unique'];
  return side.startsWith('npm:') && npmLibraryOf(side as NpmSide).noDelay ? ['nodelay'] : [];
}

/** The command that runs a program side's client or worker, before its own arguments. */
function programCommand(side: ProgramSide, role: 'client' | 'worker'): [string, string[]] {
  if (side === 'php') return ['php', [role === 'client' ? phpClient : phpWorker]];
  if (side === 'floor' || side === 'floor-unique') return [process.execPath, [floorProgram, role]];
  // The floor's worker with each job computed on a worker thread; its client is the floor's own.
  if (side === 'floor-thread')
    return [process.execPath, [floorProgram, role === 'worker' ? 'worker-thread' : 'client']];
  return [process.execPath, [npmProgram, npmLibraryOf(side).library, role]];
}

/** Starts worker processes of one side and waits until gearmand lists them all. */
async function startWorkers(side: Side, server: TestGearmand, count: number): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () => {
    if (isGearshift(side))
      return spawn(
        process.execPath,
        [cli, 'work', functionsModule, '--gearman', server.address, ...workerOptions[side]],
        { stdio: 'ignore' },
      );
    const [command, args] = programCommand(side, 'worker');
    return spawn(command, [...args, '127.0.0.1', String(server.port), 'inc', ...variantArgs(side)], {
      stdio: 'ignore',
    });
  });
  const admin = new GearmanAdmin(parseServerAddress(server.address), {
    connectTimeoutMs: 2000,
    keepAliveMs: 0,
    tls: undefined,
    requestTimeoutMs: 2000,
  });
  for (let tries = 0; ; tries++) {
    const line = (await admin.status()).find((status) => status.functionName === 'inc');
    if ((line?.workers ?? 0) >= count) return children;
    if (tries > 600) throw new Error(`${side} workers did not register within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Jobs per second for one side's client against one side's workers in one scenario, on a fresh gearmand
 * (PHP's workers when a client is measured alone, the floor's client when a worker is).
 */
async function measure(
  side: Side,
  workerSide: Side,
  mode: Mode,
  count: number,
  workers: number,
): Promise<number> {
  const server = await startGearmand();
  const children = mode === 'background' ? [] : await startWorkers(workerSide, server, workers);
  try {
    return (count / (await clientRound(side, server, mode, count))) * 1000;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await server.stop();
  }
}

/** Runs a side's client, which times its own measured round (not its start-up). */
async function clientRound(side: Side, server: TestGearmand, mode: Mode, count: number): Promise<number> {
  // Every gearshift side's client is the default one: the sides differ in their workers.
  const [command, script] = isGearshift(side)
    ? [process.execPath, [gearshiftClient]]
    : programCommand(side, 'client');
  const args = ['127.0.0.1', String(server.port), 'inc', mode, String(count), String(warmUp(count))];
  const { stdout } = await exec(command, [...script, ...args, ...variantArgs(side)], { timeout: 300_000 });
  // The last line: a library may log before it.
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const { ms, count: checked } = JSON.parse(last) as { ms: number; count: number };
  if (checked !== count) throw new Error(`the ${side} client got ${checked} of ${count} right`);
  return ms;
}

const scenarios: {
  label: string;
  mode: Mode;
  count: number;
  workers: number;
  /** The client alone: PHP workers on both sides. */
  phpWorkers?: boolean;
  reference: string;
}[] = [
  {
    label: `serial run / doNormal (${fmt(serialJobs)})`,
    mode: 'serial',
    count: serialJobs,
    workers: 1,
    reference: '~4,500',
  },
  {
    label: `  the client alone, PHP worker`,
    mode: 'serial',
    count: serialJobs,
    workers: 1,
    phpWorkers: true,
    reference: '',
  },
  {
    label: `runAll / runTasks, 1 worker (${fmt(manyJobs)})`,
    mode: 'tasks',
    count: manyJobs,
    workers: 1,
    reference: '~15,000',
  },
  {
    label: `runAll / runTasks, 2 workers (${fmt(manyJobs)})`,
    mode: 'tasks',
    count: manyJobs,
    workers: 2,
    reference: '~21,000',
  },
  {
    label: `background / doBackground (${fmt(manyJobs)})`,
    mode: 'background',
    count: manyJobs,
    workers: 0,
    reference: '~14,000',
  },
];

const { stdout: phpVersion } = await exec('php', [
  '-r',
  'echo PHP_VERSION, " gearman ", phpversion("gearman");',
]);
const gearmandVersion = (await exec(gearmandPrograms.c ?? 'gearmand', ['--version'])).stdout
  .trim()
  .split('\n')[0];
console.log(`gearshift bench:gearman  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log(`${gearmandVersion}; php ${phpVersion}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
console.log(
  'warm-up of 5,000 jobs (20 where Nagle stalls), then the better of two measurements, jobs per second;',
);
console.log(
  'the gearshift worker runs its jobs on one worker thread (the default pool), or inline on its main thread',
);
console.log('(--threads 0, as PHP does);');
console.log(
  '"classic" is inline without prefetch (--prefetch-ms 0: a job grabbed only for a free slot, as PHP does);',
);
console.log(
  '"node:net" is a client and worker with node:net and nothing else (bench/floor): the floor under any Node library\n',
);
type ColumnSide = GearshiftSide | 'floor' | 'php';
const columns: ColumnSide[] = ['gearshift', 'gearshift-inline', 'gearshift-classic', 'floor', 'php'];
const ratioColumns = columns.slice(0, 4);
console.log(
  `  ${'scenario'.padEnd(40)} ${['thread', 'inline', 'classic', 'node:net', 'PHP'].map((name) => name.padStart(8)).join(' ')}  ${'ratios to PHP'.padStart(27)}  (issue's PHP)`,
);
for (const scenario of scenarios) {
  const best: Record<ColumnSide, number> = {
    gearshift: 0,
    'gearshift-inline': 0,
    'gearshift-classic': 0,
    floor: 0,
    php: 0,
  };
  // Background submissions involve no worker, nor does a client measured alone, and a serial caller never
  // lets a worker hold a second job: there the extra gearshift columns would measure the same thing again.
  const sides: ColumnSide[] =
    scenario.mode === 'background' || scenario.phpWorkers
      ? ['gearshift', 'floor', 'php']
      : scenario.mode === 'serial'
        ? ['gearshift', 'gearshift-inline', 'floor', 'php']
        : columns;
  for (let round = 0; round < 2; round++) {
    // Alternate who goes first, so that no side always meets a cold or a warm machine.
    for (const side of round === 0 ? sides : [...sides].reverse())
      best[side] = Math.max(
        best[side],
        await measure(
          side,
          scenario.phpWorkers ? 'php' : side,
          scenario.mode,
          scenario.count,
          scenario.workers,
        ),
      );
  }
  const figure = (side: ColumnSide) => (best[side] ? fmt(best[side]) : '-').padStart(8);
  const ratio = (side: ColumnSide) =>
    (best[side] ? `${(best[side] / best.php).toFixed(2)}x` : '-').padStart(6);
  console.log(
    `  ${scenario.label.padEnd(40)} ${columns.map(figure).join(' ')}  ${ratioColumns.map(ratio).join(' ')}  ${scenario.reference && `(${scenario.reference})`}`,
  );
}

// The Gearman libraries Node users install from npm, as workers and as clients, beside gearshift, the
// floor and PHP, on the same machine in the same run. A library as shipped and with TCP_NODELAY forced:
// three of the four ship with Nagle's algorithm on, and their workers then wait out the peer's delayed
// ACK on every job; those run a short round (a few seconds at their pace), the figure being the same.
const npmSides: NpmSide[] = npmLibraries.flatMap((library): NpmSide[] =>
  // abraxas turns TCP_NODELAY on itself: forcing it would measure the same thing again.
  library === 'abraxas' ? [`npm:${library}`] : [`npm:${library}`, `npm:${library}+nodelay`],
);
const stallsOnNagle = (side: Side) =>
  side.startsWith('npm:') && !side.endsWith('+nodelay') && side !== 'npm:abraxas';
const nagleJobs = 200;
/** The sides of the npm tables. */
type TableSide =
  | 'gearshift'
  | 'gearshift-inline'
  | 'floor'
  | 'floor-thread'
  | 'floor-unique'
  | 'php'
  | NpmSide;
const sideName = (side: TableSide) =>
  side.startsWith('npm:')
    ? side.slice('npm:'.length).replace('+nodelay', ' +TCP_NODELAY')
    : {
        gearshift: 'gearshift',
        'gearshift-inline': 'gearshift --threads 0',
        floor: 'node:net floor',
        'floor-thread': 'node:net floor, on a thread',
        'floor-unique': 'node:net floor, random uniques',
        php: 'PHP',
      }[side as Exclude<TableSide, NpmSide>];
const npmTables: {
  title: string;
  /** The side measured: its client, or its workers. */
  role: 'client' | 'worker';
  mode: Mode;
  count: number;
  sides: TableSide[];
}[] = [
  {
    title: `worker: serial calls from the node:net client (${fmt(serialJobs)}; ${nagleJobs} where Nagle stalls)`,
    role: 'worker',
    mode: 'serial',
    count: serialJobs,
    sides: ['gearshift', 'gearshift-inline', 'floor', 'floor-thread', 'php', ...npmSides],
  },
  {
    title: `client: serial run against a PHP worker (${fmt(serialJobs)})`,
    role: 'client',
    mode: 'serial',
    count: serialJobs,
    sides: ['gearshift', 'floor', 'php', ...npmSides],
  },
  {
    title: `client: serial background submissions (${fmt(manyJobs)})`,
    role: 'client',
    mode: 'background',
    count: manyJobs,
    // The floor sends no unique; gearshift's client and libgearman's (PHP's) send a random one per job,
    // which gearmand's persistent queues need. The floor with one says what that costs on this machine.
    sides: ['gearshift', 'floor', 'floor-unique', 'php', ...npmSides],
  },
];
console.log(
  '\nnpm Gearman libraries, the better of two measurements, jobs per second; "x" is gearshift over the side',
);
for (const table of npmTables) {
  const best = new Map<TableSide, number>();
  for (let round = 0; round < 2; round++)
    for (const side of round === 0 ? table.sides : [...table.sides].reverse()) {
      const count = table.role === 'worker' && stallsOnNagle(side) ? nagleJobs : table.count;
      const rate =
        table.role === 'worker'
          ? await measure('floor', side, table.mode, count, 1)
          : await measure(side, 'php', table.mode, count, 1);
      best.set(side, Math.max(best.get(side) ?? 0, rate));
    }
  const ours = best.get('gearshift') as number;
  console.log(`  ${table.title}`);
  for (const side of table.sides) {
    const rate = best.get(side) as number;
    const note = table.role === 'worker' && stallsOnNagle(side) ? '  (ships without TCP_NODELAY: Nagle)' : '';
    console.log(
      `    ${sideName(side).padEnd(28)} ${fmt(rate).padStart(8)}  ${side === 'gearshift' ? '' : `${(ours / rate).toFixed(2)}x`.padStart(7)}${note}`,
    );
  }
}
