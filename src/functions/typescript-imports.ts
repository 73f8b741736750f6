/**
 * TypeScript's own convention for a relative import is the name the file will have once compiled:
 * `import { total } from './lib.js'` in `functions.ts`, where only `lib.ts` exists. Node 22.18+ and 24
 * run `.ts` files by stripping their types, but resolve `./lib.js` literally and fail. The resolve hook
 * here retries such an import with its `.ts` twin, as TypeScript's resolution does.
 *
 * It acts only where Node would have failed: a relative `.js`, `.mjs` or `.cjs` specifier that is not
 * found, imported by a TypeScript module. Everything that resolved before resolves the same way.
 *
 * This file imports nothing relative, so that a thread can register the hook before it loads anything
 * written in TypeScript (the package's own sources, when run from them).
 */
import { existsSync } from 'node:fs';
import nodeModule from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The slice of `module.registerHooks` (Node 22.15+, 23.5+) this file uses. */
interface ResolveContext {
  readonly parentURL?: string | undefined;
}
type NextResolve = (specifier: string, context: ResolveContext) => unknown;
type RegisterHooks = (hooks: {
  resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): unknown;
}) => unknown;

const typeScriptFile = /\.[cm]?ts$/;
const relativeJavaScript = /^\.{1,2}\/.*\.[cm]?js$/;

let registered = false;

/** Whether a module's file is TypeScript (`.ts`, `.mts`, `.cts`), which Node or tsx must compile. */
export function isTypeScriptModule(url: URL): boolean {
  return typeScriptFile.test(url.pathname);
}

/** A `.js`, `.mjs` or `.cjs` name's TypeScript twin (`.ts`, `.mts`, `.cts`); the name itself otherwise. */
function typeScriptTwinOf(name: string): string {
  return name.replace(/\.([cm]?)js$/, '.$1ts');
}

/**
 * The file a module location loads: the file itself where it exists, else its TypeScript twin where
 * that exists (`functions.js` written, only `functions.ts` there, as TypeScript's convention has it);
 * undefined when neither does, or for a location that is not a file.
 */
export function existingModuleFile(url: URL): URL | undefined {
  if (url.protocol !== 'file:') return undefined;
  const path = fileURLToPath(url);
  if (existsSync(path)) return url;
  const twin = typeScriptTwinOf(path);
  return twin !== path && existsSync(twin) ? pathToFileURL(twin) : undefined;
}

/**
 * Whether this Node strips types at all (Amaro, on by default from Node 22.18 and 23.6; earlier 22s
 * behind --experimental-strip-types), whether or not it can take the resolve hook.
 */
export function typeStrippingOn(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/**
 * Whether this Node runs TypeScript by itself (type stripping) and can take the resolve hook. Where it
 * cannot, TypeScript modules go through tsx instead.
 */
export function nodeStripsTypes(): boolean {
  return typeStrippingOn() && typeof registerHooksOf() === 'function';
}

/**
 * Registers the resolve hook in this thread, once. Returns false where Node cannot take it (Node 20,
 * or a Node without type stripping).
 */
export function allowTypeScriptImports(): boolean {
  if (registered) return true;
  const registerHooks = registerHooksOf();
  if (!nodeStripsTypes() || !registerHooks) return false;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const twin = typeScriptTwin(specifier, context.parentURL, error);
        if (twin === undefined) throw error;
        try {
          return nextResolve(twin, context);
        } catch {
          // Neither exists: the error about the name as written is the one that helps.
          throw error;
        }
      }
    },
  });
  registered = true;
  return true;
}

/** The `.ts` name to try for a specifier that was not found, or undefined when the hook must not act. */
function typeScriptTwin(
  specifier: string,
  parentURL: string | undefined,
  error: unknown,
): string | undefined {
  if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  if (parentURL === undefined || !isTypeScriptModule(new URL(parentURL))) return undefined;
  return relativeJavaScript.test(specifier) ? typeScriptTwinOf(specifier) : undefined;
}

function registerHooksOf(): RegisterHooks | undefined {
  return (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
}
