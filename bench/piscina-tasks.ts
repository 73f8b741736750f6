/** The same work as bench/functions.ts, as raw piscina task functions, for the side-by-side runs. */
import { waitForReply } from './slow-server.js';
import { spin as spinFor } from './spin.js';

export default (n: number) => n + 1;
export const spin = (input: { ms: number }) => spinFor(input.ms);
export const fetchSlow = (input: { port: number }) => waitForReply(input.port);
