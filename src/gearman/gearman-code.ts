/**
 * Gearman's client and worker (the wire protocol, the connections), loaded on first use in one piece:
 * a process that never talks to a job server does not compile them (see queue/queue-code.ts).
 */

export { GearmanBackend } from './client/gearman-backend.js';
export { GearmanSource } from './worker/gearman-source.js';
