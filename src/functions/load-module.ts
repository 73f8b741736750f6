/**
 * Loads a functions module by path or URL, the same way in a worker thread, inline and in the CLI.
 *
 * TypeScript: Node 20 cannot strip types itself, and the ESM loader hooks that tsx registers do not reach
 * worker threads there, so when `import()` refuses a `.ts` module it is loaded through tsx's CommonJS
 * hook instead, which does work in every thread (tsx then converts the module). A `.js` URL whose file does
 * not exist but whose `.ts` twin does is taken to mean the twin, as TypeScript's own resolution does, so
 * `new URL('./functions.js', import.meta.url)` works both from `src/` under tsx and from compiled `dist/`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FunctionsModuleError } from '../errors.js';
import { FunctionSet } from './define.js';

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

/** Turns a path or URL into a file URL, without touching the disk. */
export function toModuleUrl(location: string | URL): URL {
  if (location instanceof URL) return location;
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location)
    ? new URL(location)
    : pathToFileURL(location);
}

const typeScriptExtension = /\.[cm]?ts$/;

async function importFunctions(location: string): Promise<FunctionSet> {
  const url = resolveExisting(location);
  let namespace: { default?: unknown };
  try {
    namespace = await importModule(url);
  } catch (error) {
    if (error instanceof FunctionsModuleError) throw error;
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
  const path = fileURLToPath(url);
  if (existsSync(path)) return url;
  const twin = path.replace(/\.([cm]?)js$/, '.$1ts');
  if (twin !== path && existsSync(twin)) return pathToFileURL(twin);
  throw new FunctionsModuleError(location, `was not found (no file at ${path})`);
}

async function importModule(url: URL): Promise<{ default?: unknown }> {
  try {
    return await import(url.href);
  } catch (error) {
    const unknownExtension = (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION';
    if (!(unknownExtension && typeScriptExtension.test(url.pathname))) throw error;
  }
  return requireTypeScript(url);
}

function requireTypeScript(url: URL): { default?: unknown } {
  const require = createRequire(url);
  let api: string;
  try {
    api = require.resolve('tsx/cjs/api');
  } catch {
    throw new FunctionsModuleError(
      url.href,
      'is TypeScript, which Node 20 cannot load by itself: install tsx (npm install --save-dev tsx), or compile it and point at the .js',
    );
  }
  (require(api) as { register: () => unknown }).register();
  return require(fileURLToPath(url)) as { default?: unknown };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
