/**
 * Keeps Node 24 (and 22, where its V8 may share the defect) from crashing a process whose worker threads
 * strip TypeScript.
 *
 * Node strips types with Amaro, which is SWC compiled to WebAssembly, and each thread that imports a
 * `.ts` file runs it. V8 shares compiled wasm code between the isolates of one process. Once a wasm
 * module has called one of its JavaScript imports 1,000 times (`--wasm-wrapper-tiering-budget`), V8
 * compiles a faster wrapper for that import. That tier-up frees dead wrapper code, and while threads
 * start and stop it can free code of a module that another thread's teardown has already freed: the
 * whole process dies with SIGSEGV or SIGTRAP (`Runtime_TierUpWasmToJSWrapper` → `WasmEngine::FreeDeadCode`
 * → `NativeModule::FreeCode`). That is a V8 defect, not one of this package's.
 *
 * Measured on Node 24.22 (2026-12-07, `npm run soak:threads` and a scratch twin of it): threads that each
 * import 40 small `.ts` modules, ended at random moments by four lanes, crashed the process in 5 of 24
 * thirty-second runs; with the budget raised past any call count, in none of 44 (10 with the flag on the
 * command line, 34 set at run time as here, 10 of them with the main thread stripping too). Node
 * 22.23 did not crash in 10 runs without it; the flag is set there too, as its V8 has it, and there as on
 * 24 threads load TypeScript faster with it (V8 compiles no wrappers: 40 modules in a thread took a median
 * 116 to 125 ms with it, 142 to 151 without, on 24). Without the tier-up, wasm keeps calling its imports
 * through V8's generic wrapper, which every import uses for its first 1,000 calls anyway.
 *
 * The flag is set only where it is needed: a Node that strips types, and threads about to load
 * TypeScript. It is process-wide, as V8 flags are, and is set once.
 */
import { setFlagsFromString } from 'node:v8';

/** A count of calls no import reaches: V8 reads the budget as a 32-bit signed integer. */
const noWrapperTierUp = '--wasm-wrapper-tiering-budget=2147483647';

let guarded = false;

/**
 * Called before threads that may strip TypeScript start. Does nothing on a Node without type stripping
 * (Node 20 has no Amaro, and its V8 has no such flag: it would say "unrecognized flag" on stderr).
 */
export function guardThreadsThatStripTypes(): void {
  if (guarded) return;
  const features = process.features as { typescript?: unknown };
  if (!features.typescript) return;
  setFlagsFromString(noWrapperTierUp);
  guarded = true;
}
