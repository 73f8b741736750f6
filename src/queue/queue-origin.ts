/** What a queue runner keeps of a job it claimed, to answer for it. */
import type { ClaimedJob } from './sql/claim-jobs.js';

/** A claimed job: the row, the lease token, the progress not yet written. */
export interface QueueOrigin {
  readonly row: ClaimedJob;
  readonly token: number;
  progress: [number, number] | undefined;
}
