/** The job functions the pool benchmark runs through gearshift. */
import { defineFunctions } from '../src/index.js';
import { waitForReply } from './slow-server.js';
import { spin } from './spin.js';

export default defineFunctions({
  /** A tiny job: the cost measured is the pool's, not the work's. */
  inc: (n: number) => n + 1,
  /** CPU-bound work of a fixed length. */
  spin: (input: { ms: number }) => spin(input.ms),
  /** Waits on a real socket for a server that answers after a delay. */
  fetchSlow: (input: { port: number }) => waitForReply(input.port),
});
