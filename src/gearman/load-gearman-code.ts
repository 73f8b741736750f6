/** Loads Gearman's client and worker (gearman-code.ts) on first use. */
import { importOwn } from '../shared/import-own.js';

export function loadGearmanCode(): Promise<typeof import('./gearman-code.js')> {
  return importOwn(() => import('./gearman-code.js'), new URL('./gearman-code.ts', import.meta.url));
}
