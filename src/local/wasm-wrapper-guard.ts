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
 * command line, 34 set at run time as here, 10 of them with the main thread stripping too). On 24 threads
 * also load TypeScript faster with it, as V8 compiles no wrappers (40 modules in a thread: a median 116 to
 * 125 ms with it, 142 to 151 without). Node 22.23 did not crash in 10 runs without it (6 of the soak's, 4
 * of its twin's); its V8 has the flag, and it is set there too. Without the tier-up, wasm keeps calling
 * its imports through V8's generic wrapper, which every import uses for its first 1,000 calls anyway.
 *
 * The thread pool calls this where its threads will load TypeScript: a `.ts` (`.mts`, `.cts`) functions
 * module, or a `.js` name that stands for its `.ts` twin, or this package run from its own source. A
 * JavaScript functions module that imports `.ts` files itself is not seen; its process can set the flag
 * on node's command line. The flag is process-wide, as V8 flags are, and is set once.
 */
import { setFlagsFromString } from 'node:v8';
import { typeStrippingOn } from '../functions/typescript-imports.js';

/** A count of calls no import reaches: V8 reads the budget as a 32-bit signed integer. */
const noWrapperTierUp = '--wasm-wrapper-tiering-budget=2147483647';

let guarded = false;

/**
 * Raises V8's wasm wrapper tier-up budget past any count, for the whole process, once, where Node strips
 * types; call it before starting threads that may load TypeScript. Does nothing on a Node without type
 * stripping (Node 20 has no Amaro, and its V8 has no such flag: it would say "unrecognized flag" on
 * stderr). Whether Node can take the resolve hook (`nodeStripsTypes`) does not matter here: wherever
 * Amaro runs, so can the crash.
 */
export function guardThreadsThatStripTypes(): void {
  if (guarded || !typeStrippingOn()) return;
  setFlagsFromString(noWrapperTierUp);
  guarded = true;
}
