/**
 * The guard against V8's crash in threads that strip TypeScript (src/local/wasm-wrapper-guard.ts): a pool
 * over a TypeScript functions module raises V8's wasm wrapper tier-up budget before its threads start,
 * on a Node that strips types, also where `functions.js` stands for its `functions.ts` twin; over a
 * JavaScript module, or on Node 20, it sets no V8 flag. Seen from the package as built (dist/: `npm test`
 * builds it first; a bare `vitest run` reads whatever dist/ holds), in a process of its own. Whether the
 * flag keeps the crash away is the soak's to say (`npm run soak:threads`: a crash there takes minutes and
 * comes by chance).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const app = new URL('./fixtures/wasm-guard/app.mjs', import.meta.url).pathname;
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

/** The V8 flags a process set running one job over `functionsModule`, each with the threads started by then. */
async function flagsSet(functionsModule: string): Promise<{ flag: string; threadsStarted: number }[]> {
  const { stdout } = await run(process.execPath, [app, functionsModule], { timeout: 60_000 });
  const { result, flags, threadsStarted } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    result: number;
    flags: { flag: string; threadsStarted: number }[];
    threadsStarted: number;
  };
  expect(result).toBe(42);
  expect(threadsStarted).toBeGreaterThan(0);
  return flags;
}

/** Before any thread started: the flag, where this Node strips types; nothing elsewhere. */
const guarded = stripsTypes ? [{ flag: '--wasm-wrapper-tiering-budget=2147483647', threadsStarted: 0 }] : [];

describe(`V8's wasm wrapper tier-up, on Node ${process.version}`, () => {
  it(
    stripsTypes
      ? 'is turned off before threads load a TypeScript functions module'
      : 'is left alone for a TypeScript functions module: this Node does not strip types (tsx loads it)',
    async () => {
      expect(await flagsSet('./functions.ts')).toEqual(guarded);
    },
  );

  it('is treated the same where functions.js stands for its functions.ts twin', async () => {
    expect(await flagsSet('./functions.js')).toEqual(guarded);
  });

  it('is left alone for a JavaScript functions module', async () => {
    expect(await flagsSet('./functions.mjs')).toEqual([]);
  });
});
