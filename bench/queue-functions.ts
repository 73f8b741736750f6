/** The job functions the queue benchmark runs. */
import { defineFunctions } from '../src/index.js';
import { stamp } from './stamp-functions.js';

export default defineFunctions({
  noop: () => undefined,
  stamp,
  /** noop under limits that never bind (the drain cannot reach them): what each costs the claim. */
  concurrencyLimited: { limit: { concurrency: 100_000 }, handler: () => undefined },
  rateLimited: { limit: { rate: { max: 10_000_000, perMs: 1000 } }, handler: () => undefined },
  /** The same per key: the drain spreads its jobs over 1,000 keys. */
  keyLimited: {
    limit: { concurrency: 100_000, key: 'key' },
    handler: (_input: { key: number }) => undefined,
  },
});
