/**
 * A part of this package loaded on first use (the queue file's code, Gearman's, the console's): `load` is
 * its `import()`. Run from source on Node 20, inside a worker thread, that import fails: the thread's
 * code is compiled to CommonJS by tsx's require hook (thread-executor.ts says why), Node 20 applies no
 * module hooks of tsx to a thread's `import()`, and the `.js` name of a `.ts` file is not found. There,
 * and only there, the `.ts` file is required, as the thread's other modules were. The built package
 * never takes that way.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const fromSource = import.meta.url.endsWith('.ts');

/** Imports a part of this package; `source` is its `.ts` file, for the one case above. */
export async function importOwn<T>(load: () => Promise<T>, source: URL): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!fromSource || (error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return createRequire(source)(fileURLToPath(source)) as T;
  }
}
