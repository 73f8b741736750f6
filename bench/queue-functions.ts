/** The job functions the queue benchmark runs. */
import { defineFunctions } from '../src/index.js';

export default defineFunctions({
  noop: () => undefined,
  /** When the job started, on a clock every thread shares (milliseconds since the epoch, fractional). */
  stamp: () => performance.timeOrigin + performance.now(),
});
