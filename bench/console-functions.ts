/** The job functions of bench:console's million-job file: three that succeed, one that always fails. */
import { defineFunctions } from '../src/index.js';

/** Each job's input: its number among its function's jobs, so that no two inputs are the same. */
interface Numbered {
  readonly n: number;
}

export default defineFunctions({
  sendPush: (_input: Numbered) => undefined,
  resizeImage: (_input: Numbered) => undefined,
  buildReport: (_input: Numbered) => undefined,
  chargeCard: (_input: Numbered) => {
    throw new Error('card declined');
  },
});
