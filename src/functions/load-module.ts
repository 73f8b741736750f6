/**
 * Loads a functions module by path or URL, the same way in a worker thread, inline and in the CLI.
 *
 * TypeScript, where Node strips types itself (22.18+, 24): the module is imported as it is, with the
 * resolve hook of `typescript-imports.ts` registered so that its relative `./lib.js` imports find
 * `lib.ts`, as TypeScript's own resolution does. Where Node cannot (Node 20), or where the module uses
 * syntax that stripping cannot remove (an `enum`, a `namespace`, parameter properties), it is loaded
 * through tsx's CommonJS hook when tsx is installed: that hook works in every thread, while the ESM
 * hooks tsx registers do not reach worker threads on Node 20.
 *
 * A `.js` URL whose file does not exist but whose `.ts` twin does is taken to mean the twin, so
 * `new URL('./functions.js', import.meta.url)` works both from `src/` and from compiled `dist/`.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FunctionInfo } from '../backend.js';
import { FunctionsModuleError } from '../errors.js';
import { FunctionSet } from './define.js';
import { allowTypeScriptImports, existingModuleFile, isTypeScriptModule } from './typescript-imports.js';

const loaded = new Map<string, Promise<FunctionSet>>();

/** Loads (once per process or thread) the FunctionSet that a module default-exports. */
export function loadFunctionsModule(location: string | URL): Promise<FunctionSet> {
  const key = String(location);
  let promise = loaded.get(key);
  if (!promise) {
    promise = importFunctions(key);
    loaded.set(key, promise);
  }
  return promise;
}

/**
 * What the functions are (names, payloads, timeouts), loading the module in this thread when given its
 * location: for a process that submits jobs and runs none of them.
 */
export async function describeFunctions(functions: URL | string | FunctionSet): Promise<FunctionInfo[]> {
  return (FunctionSet.is(functions) ? functions : await loadFunctionsModule(functions)).describe();
}

/** Turns a path or URL into a file URL, without touching the disk. */
export function toModuleUrl(location: string | URL): URL {
  if (location instanceof URL) return location;
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location)
    ? new URL(location)
    : pathToFileURL(location);
}

async function importFunctions(location: string): Promise<FunctionSet> {
  const url = resolveExisting(location);
  let namespace: { default?: unknown };
  try {
    namespace = await importModule(url);
  } catch (error) {
    if (error instanceof FunctionsModuleError) throw error;
    // tsx reports a syntax error of TypeScript as esbuild's "Transform failed", with the location.
    const fromTsx = /(\S+?):(\d+):(\d+): ERROR: (.*)/.exec((error as Error)?.message ?? '');
    if (fromTsx) {
      throw new FunctionsModuleError(
        location,
        // esbuild counts columns from 0.
        `does not parse at ${fromTsx[1]}:${fromTsx[2]}:${Number(fromTsx[3]) + 1}: SyntaxError: ${fromTsx[4]}`,
        error,
      );
    }
    if (error instanceof SyntaxError) {
      const where = syntaxErrorLocation(error, url);
      const hint = moduleTypeHint(error, url);
      throw new FunctionsModuleError(
        location,
        `does not parse${where ? ` at ${where}` : ''}: ${describe(error)}${hint}`,
        error,
      );
    }
    throw new FunctionsModuleError(location, `threw while loading: ${describe(error)}`, error);
  }
  if (!FunctionSet.is(namespace.default)) {
    throw new FunctionsModuleError(
      location,
      'does not default-export the result of defineFunctions({...}) (add `export default defineFunctions({ ... })`)',
    );
  }
  return namespace.default;
}

function resolveExisting(location: string): URL {
  const url = toModuleUrl(location);
  if (url.protocol !== 'file:') {
    throw new FunctionsModuleError(
      location,
      `is not a file (got a ${url.protocol} URL); give a path or a file URL`,
    );
  }
  const existing = existingModuleFile(url);
  if (existing) return existing;
  throw new FunctionsModuleError(location, `was not found (no file at ${fileURLToPath(url)})`);
}

/**
 * Errors of Node's own TypeScript loading that tsx gets past: syntax that stripping cannot remove, a
 * `.ts` file under node_modules, or a `.ts` file of a package that is not `"type": "module"` (Node
 * then reads it as CommonJS and meets its `import` statements).
 */
const strippingRefusals = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
]);

async function importModule(url: URL): Promise<{ default?: unknown }> {
  const typeScript = isTypeScriptModule(url);
  if (typeScript) allowTypeScriptImports();
  try {
    return await import(url.href);
  } catch (error) {
    if (!(typeScript && refusedByStripping(error))) throw error;
    return requireTypeScript(url, error);
  }
}

function refusedByStripping(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && strippingRefusals.has(code)) return true;
  return error instanceof SyntaxError && /Cannot use import statement outside a module/.test(error.message);
}

function requireTypeScript(url: URL, refusal: unknown): { default?: unknown } {
  const require = createRequire(url);
  let api: string;
  try {
    api = require.resolve('tsx/cjs/api');
  } catch {
    const hint = refusal instanceof SyntaxError ? moduleTypeHint(refusal, url) : '';
    throw new FunctionsModuleError(
      url.href,
      hint
        ? `cannot be loaded: ${describe(refusal)}${hint}`
        : `is TypeScript that this Node cannot run by itself (${describe(refusal)}): install tsx (npm install --save-dev tsx), or compile it and point at the .js`,
      refusal,
    );
  }
  (require(api) as { register: () => unknown }).register();
  return require(fileURLToPath(url)) as { default?: unknown };
}

/**
 * Where a syntax error is, as `file:line:column`. Node's TypeScript stripping puts it at the head of the
 * stack; for JavaScript Node keeps it to itself (it prints it only for an
 * uncaught error), so a child process imports the module once more, uncaught, and the location is read
 * from what it prints. Nothing of the module runs there: a syntax error fails the import before any
 * module of it is evaluated.
 */
function syntaxErrorLocation(error: SyntaxError, url: URL): string | undefined {
  const fromStack = printedLocation(error.stack ?? '');
  if (fromStack) return fromStack;
  // node:child_process required here, not imported: it loads node:net and the streams, which every
  // process and worker thread that imports the package would load for this rare error.
  const { spawnSync } = createRequire(import.meta.url)(
    'node:child_process',
  ) as typeof import('node:child_process');
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '--eval', 'await import(process.argv[1])', url.href],
    { encoding: 'utf8', timeout: 10_000 },
  );
  return printedLocation(child.stderr ?? '');
}

/** `file:line` with the source line and a caret under the column, as Node prints a syntax error. */
function printedLocation(text: string): string | undefined {
  // TypeScript stripping shows a few source lines before the caret; JavaScript shows the one.
  const match = /^((?:file:|\/|[A-Za-z]:\\)\S*):(\d+)\n(?:.*\n){1,3}?([ \t]*)\^/m.exec(text);
  if (!match) return undefined;
  const file = match[1] as string;
  return `${file.startsWith('file:') ? fileURLToPath(file) : file}:${match[2]}:${(match[3] as string).length + 1}`;
}

/**
 * What to do about `import` in a module that Node reads as CommonJS: the nearest package.json does not
 * say `"type": "module"` (npm init writes `"type": "commonjs"`).
 */
function moduleTypeHint(error: SyntaxError, url: URL): string {
  if (!/Cannot use import statement outside a module|Unexpected token 'export'/.test(error.message))
    return '';
  return ` (Node reads ${fileURLToPath(url)} as CommonJS: set "type": "module" in the nearest package.json with \`npm pkg set type=module\`, or name the file .mjs or .mts)`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
