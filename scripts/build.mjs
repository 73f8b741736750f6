// npm run build: the package's JavaScript as three bundles (the library, the worker threads' entry and
// the CLI) that share chunks, and its type declarations from tsc. One file per entry instead of eighty
// modules: a process imports the library in about a third of the time, and so does each worker thread
// whose functions module imports it (measured with `npm run bench:pool`, "cold process").
import { cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * Node's built-in modules through `require`, not `import`: an ES import of a built-in reads every one of
 * its exports, lazy ones included, so `import { existsSync } from 'node:fs'` loads fs's streams and
 * promises too (45 internal modules, about 4 ms), in every process and worker thread. A require reads
 * only what is used.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(plugin) {
    // A dynamic import() of a built-in (loaded on first use) stays as it is.
    plugin.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'dynamic-import'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'builtin' },
    );
    plugin.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = __gearshiftRequire(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

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
  plugins: [builtinsByRequire],
  banner: {
    js: "import { createRequire as __gearshiftCreateRequire } from 'node:module'; const __gearshiftRequire = __gearshiftCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// The file piscina starts each worker thread with (src/local/thread-loader.cjs says why it is CommonJS).
cpSync(
  new URL('../src/local/thread-loader.cjs', import.meta.url),
  new URL('../dist/thread-loader.cjs', import.meta.url),
);
// The console's page, served as files beside the bundle (src/console/dashboard.ts finds them there).
cpSync(
  new URL('../src/console/assets', import.meta.url),
  new URL('../dist/console-assets', import.meta.url),
  {
    recursive: true,
  },
);
