/** Loads the queue file's code (queue-code.ts) on first use. */
import { importOwn } from '../shared/import-own.js';

export function loadQueueCode(): Promise<typeof import('./queue-code.js')> {
  return importOwn(() => import('./queue-code.js'), new URL('./queue-code.ts', import.meta.url));
}
