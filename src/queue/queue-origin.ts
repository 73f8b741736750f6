/** What a queue runner keeps of a job it claimed, to answer for it. */
import type { ClaimedJob } from './sql/claim-jobs.js';
import type { ClaimStarts } from './sql/claim-limited.js';

/** A claimed job: the row, the lease token, the progress and the begin not yet written. */
export interface QueueOrigin {
  readonly row: ClaimedJob;
  readonly token: number;
  progress: [number, number] | undefined;
  /** When a background job's handler began, until that is written: with its end, or a little later. */
  begunAt: number | undefined;
  /** A rate-limited job's claim, until the job counts as begun in it (see QueueSource's #begun). */
  starts: ClaimStarts | undefined;
}
