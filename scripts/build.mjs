// npm run build: the package's JavaScript as four bundles (the library, `gearshift/functions` for
// functions modules, the worker threads' entry and the CLI) that share chunks, and the parts the library loads on first use (the queue file's code,
// Gearman's, the console's), and its type declarations from tsc. A few files instead of eighty modules:
// a process imports the library in about a third of the time, and so does each worker thread whose
// functions module imports it (measured with `npm run bench:pool`, "cold process").
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * The parts loaded on first use (the `import()` of queue-code, gearman-code and the console's handler)
 * also import the package's entry, in the bundle only. esbuild splits code by which entries reach it,
 * and each part reached only some of the eager modules: the eager part came in 13 files, and now comes
 * in 4. Each file a process loads costs it more than its size does (BENCHMARKS.md, 2026-12-07). These
 * parts load after the entry anyway.
 */
const lazyParts = /\/src\/(queue\/queue-code|gearman\/gearman-code|console\/dashboard-handler)\.ts$/;
const lazyPartsReachTheEntry = {
  name: 'lazy-parts-reach-the-entry',
  setup(plugin) {
    const entry = new URL('../src/index.ts', import.meta.url).pathname;
    plugin.onLoad({ filter: lazyParts }, (args) => ({
      // At the end, so that the part's own lines keep their numbers in stack traces (imports are hoisted).
      contents: `${readFileSync(args.path, 'utf8')}\nimport ${JSON.stringify(entry)};\n`,
      loader: 'ts',
    }));
  },
};

/**
 * `gearshift/functions` also imports, in the bundle only, what the threads' entry imports: a worker
 * thread loads both, and esbuild would otherwise split their shared code into one more file (each file a
 * thread loads costs it more than its size). What the entry then brings that a functions module does not
 * use, the thread had loaded already. A built-in that only the threads' entry imports is left out: the
 * two entries would then share it as a file of its own.
 */
const threadEntry = new URL('../src/local/thread-entry.ts', import.meta.url).pathname;
const functionsEntryReachesTheThreads = {
  name: 'functions-entry-reaches-the-threads',
  setup(plugin) {
    const src = new URL('../src/', import.meta.url).pathname;
    const otherSources = readdirSync(src, { recursive: true })
      .filter((file) => file.endsWith('.ts') && `${src}${file}` !== threadEntry)
      .map((file) => readFileSync(`${src}${file}`, 'utf8'));
    const imports = [
      ...readFileSync(threadEntry, 'utf8').matchAll(/^import (?!type )[^;]*? from '([^']+)';/gm),
    ]
      .map(([, path]) => path)
      .filter((path) => !path.startsWith('node:') || otherSources.some((text) => text.includes(`'${path}'`)))
      .map((path) =>
        path.startsWith('node:')
          ? path
          : new URL(path.replace(/\.js$/, '.ts'), `file://${threadEntry}`).pathname,
      );
    plugin.onLoad({ filter: /\/src\/functions\/entry\.ts$/ }, (args) => ({
      contents: `${readFileSync(args.path, 'utf8')}\n${imports.map((path) => `import ${JSON.stringify(path)};`).join('\n')}\n`,
      loader: 'ts',
    }));
  },
};

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  // Flat: a chunk finds `./thread-entry.js` beside it, as src/local/thread-executor.ts does in src.
  entryPoints: {
    index: 'src/index.ts',
    // `gearshift/functions`: a functions module's imports without the client's and the pool's code.
    functions: 'src/functions/entry.ts',
    'thread-entry': 'src/local/thread-entry.ts',
    cli: 'src/cli/main.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  plugins: [builtinsByRequire, lazyPartsReachTheEntry, functionsEntryReachesTheThreads],
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
