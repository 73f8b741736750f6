/**
 * The guard against V8's crash in threads that strip TypeScript (src/local/wasm-wrapper-guard.ts): a pool
 * over a TypeScript functions module raises V8's wasm wrapper tier-up budget before its threads start,
 * on a Node that strips types; over a JavaScript module, or on Node 20, it sets no V8 flag. Seen from the
 * package as built (dist/), in a process of its own. Whether the flag keeps the crash away is the soak's
 * to say (`npm run soak:threads`: a crash there takes minutes and comes by chance).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const app = new URL('./fixtures/wasm-guard/app.mjs', import.meta.url).pathname;
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

async function flagsSet(functionsModule: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [app, functionsModule], { timeout: 60_000 });
  const { result, flags } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    result: number;
    flags: string[];
  };
  expect(result).toBe(42);
  return flags;
}

describe(`V8's wasm wrapper tier-up, on Node ${process.version}`, () => {
  it(
    stripsTypes
      ? 'is turned off before threads load a TypeScript functions module'
      : 'is left alone for a TypeScript functions module: this Node does not strip types (tsx loads it)',
    async () => {
      const expected = stripsTypes ? ['--wasm-wrapper-tiering-budget=2147483647'] : [];
      expect(await flagsSet('./functions.ts')).toEqual(expected);
    },
  );

  it('is left alone for a JavaScript functions module', async () => {
    expect(await flagsSet('./functions.mjs')).toEqual([]);
  });
});
