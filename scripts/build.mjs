// npm run build: the package's JavaScript as three bundles (the library, the worker threads' entry and
// the CLI) that share chunks, and its type declarations from tsc. One file per entry instead of eighty
// modules: a process imports the library in about a third of the time, and so does each worker thread
// whose functions module imports it (measured with `npm run bench:pool`, "cold process").
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  // Flat: a chunk finds `./thread-entry.js` beside it, as src/local/thread-executor.ts does in src.
  entryPoints: { index: 'src/index.ts', 'thread-entry': 'src/local/thread-entry.ts', cli: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
