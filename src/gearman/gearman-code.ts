/**
 * Gearman's client and worker (the wire protocol, the connections), loaded on first use in one piece:
 * a process that never talks to a job server does not compile them (see queue/queue-code.ts).
 */
// Not for its exports: the package's eager part, reached from here as from the package's entry, is then
// bundled in as few files as possible (esbuild splits code by which entries reach it, and this module
// is loaded only after that part anyway). Each file a process loads costs it more than its size does.
import '../index.js';

export { GearmanBackend } from './client/gearman-backend.js';
export { GearmanSource } from './worker/gearman-source.js';
