/**
 * The functions module of bench:queue's latency rows: one function, and no limit. A module that declares
 * a limit makes every claim of its runner take the limited claim (sql/claim-limited.ts); those rows
 * measure that too, with queue-functions.ts.
 */
import { defineFunctions } from '../src/index.js';

/** When the job started, on a clock every thread shares (milliseconds since the epoch, fractional). */
export const stamp = () => performance.timeOrigin + performance.now();

export default defineFunctions({ stamp });
