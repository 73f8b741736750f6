/**
 * Soak: threads that strip TypeScript, started and ended mid-load over and over, with and without the
 * guard gearshift sets before its threads load TypeScript (src/local/wasm-wrapper-guard.ts).
 *
 * Node 22.18+ and 24 strip a `.ts` module's types with Amaro (SWC compiled to WebAssembly) in every
 * thread that imports one, and V8 can crash the whole process when a wasm import's wrapper tiers up while
 * threads come and go. This builds 40 small TypeScript modules in a temp dir and runs rounds, each a fresh
 * process, alternately without and with the guard (the package's own `guardThreadsThatStripTypes`, from
 * its source; both modes import it, only one calls it): four lanes of threads, each thread importing the
 * 40 modules, each ended by terminate() at a random moment up to 1.2 s, most of them while still
 * stripping. A round that ends by a signal crashed; one that ends otherwise than with code 0 failed.
 *
 * Plain worker_threads, not gearshift's pool: a pool's close() lets its threads finish loading first,
 * and no pool-level soak crashed even without the guard (BENCHMARKS.md, 2026-12-07, evening); the
 * suite's own threads, run from source, strip some fifty modules each, and one such process died this
 * way in CI.
 *
 * Exits 1 when a round with the guard crashed or failed (the guard is what this checks), else 0.
 *
 * Usage (on a Node that strips types): scripts/with-node.sh 24 npm run soak:threads [-- --rounds 10 --seconds 30]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) {
  console.error(
    `soak:threads: --rounds takes a whole number from 1, --seconds a number above 0 (got ${values.rounds}, ${values.seconds})`,
  );
  process.exit(2);
}

const features = process.features as { typescript?: unknown };
if (!features.typescript) {
  console.log(`Node ${process.version} does not strip types: nothing to soak (run it on Node 22.18+ or 24).`);
  process.exit(0);
}

const helpers = 40;
// Imported by the rounds' plain `node` from source: the resolve hook first, so that the guard's
// TypeScript-style import (`./typescript-imports.js`, a .ts file) resolves.
const source = (path: string) => pathToFileURL(resolve(import.meta.dirname, '../src', path)).href;
const hook = source('functions/typescript-imports.ts');
const guard = source('local/wasm-wrapper-guard.ts');
const dir = mkdtempSync(join(tmpdir(), 'gearshift-thread-soak-'));
process.once('SIGINT', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
});
try {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (let i = 0; i < helpers; i++) writeFileSync(join(dir, `helper-${i}.ts`), helperModule(i));
  writeFileSync(join(dir, 'thread.mjs'), threadModule());
  writeFileSync(join(dir, 'lanes.mjs'), lanesModule());

  const crashes = { plain: 0, guarded: 0 };
  const failures = { plain: 0, guarded: 0 };
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ['plain', 'guarded'] as const) {
      const { code, signal, timedOut, stdout, stderr } = await run(dir, mode);
      if (signal !== null && !timedOut) crashes[mode]++;
      else if (code !== 0) failures[mode]++;
      const end = timedOut ? 'timed out' : signal ? `signal ${signal}` : `exit code ${code}`;
      console.log(`round ${round}, ${mode.padEnd(7)}: ${end}; ${stdout.trim() || '(no output)'}`);
      if (code !== 0 && stderr.trim()) console.log(`  ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
  }
  console.log(
    `\nNode ${process.version}, ${rounds} rounds of ${seconds} s each way: ` +
      `without the guard ${crashes.plain} crashed (${failures.plain} failed otherwise), ` +
      `with it ${crashes.guarded} (${failures.guarded})`,
  );
  process.exitCode = crashes.guarded + failures.guarded === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

interface RoundEnd {
  readonly code: number | null;
  readonly signal: string | null;
  /** Killed by this script for running a minute past its time, not crashed. */
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cwd: string, mode: 'plain' | 'guarded'): Promise<RoundEnd> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      ['lanes.mjs', mode, String(seconds)],
      { cwd, timeout: (seconds + 60) * 1000 },
      (error, stdout, stderr) =>
        done({
          code: child.exitCode,
          signal: child.signalCode,
          timedOut: Boolean(error && 'killed' in error && error.killed),
          stdout,
          stderr,
        }),
    );
  });
}

function helperModule(i: number): string {
  const lines = [];
  for (let k = 0; k < 20; k++) {
    lines.push(
      `export function pick${i}_${k}(a: number, b: string): { x: number; y: string } { const r: Array<number> = [a, ${k}]; return { x: r.length as number, y: b satisfies string }; }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function threadModule(): string {
  return `import { parentPort } from 'node:worker_threads';
let exports = 0;
for (let i = 0; i < ${helpers}; i++) exports += Object.keys(await import(\`./helper-\${i}.ts\`)).length;
parentPort.postMessage(exports);
`;
}

function lanesModule(): string {
  return `import { Worker } from 'node:worker_threads';
const [mode, seconds] = process.argv.slice(2);
(await import(${JSON.stringify(hook)})).allowTypeScriptImports();
const { guardThreadsThatStripTypes } = await import(${JSON.stringify(guard)});
if (mode === 'guarded') guardThreadsThatStripTypes();
const until = Date.now() + Number(seconds) * 1000;
let started = 0;
let loaded = 0;
async function one() {
  started++;
  const worker = new Worker(new URL('./thread.mjs', import.meta.url));
  await new Promise((end) => {
    worker.once('message', () => end(loaded++));
    worker.once('error', end);
    setTimeout(end, Math.random() * 1200);
  });
  await worker.terminate();
}
async function lane() {
  while (Date.now() < until) await one();
}
await Promise.all([lane(), lane(), lane(), lane()]);
console.log(\`\${started} threads, \${loaded} of them loaded all ${helpers} modules before their end\`);
`;
}
