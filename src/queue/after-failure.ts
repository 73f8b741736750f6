/**
 * The one retry-or-end rule of a failed attempt, written once: in TypeScript for a runner's report of a
 * failure (queue-source.ts), and as SQL for the statements that take back the jobs of a runner that died
 * (sql/claim-jobs.ts), where many rows are decided at once. While attempts remain, the job goes back to
 * the queue after its backoff; after the last, a foreground job has failed and a background one is dead.
 * A failure marked final (its caller left, say) ends the job at once; a cancelled one ends cancelled.
 * `test/after-failure.test.ts` runs both over the same cases.
 */
import { backoffDelay, backoffDelaySql } from '../shared/backoff.js';
import { State } from './stored-codes.js';

/** What the rule reads of a job (as its row's columns: attempts, max_attempts, foreground, backoff, run_at). */
export interface FailedAttempt {
  /** Attempts made, this one included. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly foreground: boolean;
  readonly backoff: number;
  readonly runAt: number;
}

/** Where the job goes, as stored: its state, and when it may run again (its old `runAt` once it ended). */
export interface AfterFailure {
  readonly state: number;
  readonly runAt: number;
}

/** How an attempt ended that was not a success. */
export type FailureKind = 'retryable' | 'final' | 'cancelled';

/** The rule, for one job. */
export function afterFailure(job: FailedAttempt, now: number, kind: FailureKind = 'retryable'): AfterFailure {
  if (kind === 'cancelled') return { state: State.cancelled, runAt: job.runAt };
  if (kind === 'retryable' && job.attempts < job.maxAttempts)
    return { state: State.queued, runAt: now + backoffDelay(job.backoff, job.attempts) };
  return { state: job.foreground ? State.failed : State.dead, runAt: job.runAt };
}

/**
 * The rule for a retryable failure as the SET list of an UPDATE of `jobs` (the time is `:now`): the
 * state, when it may run again, and when it ended (null while it waits for another attempt).
 */
export function afterFailureSql(): string {
  const retry = 'attempts < max_attempts';
  return `state = CASE WHEN ${retry} THEN ${State.queued} WHEN foreground THEN ${State.failed} ELSE ${State.dead} END,
  run_at = CASE WHEN ${retry} THEN :now + ${backoffDelaySql('backoff', 'attempts')} ELSE run_at END,
  finished_at = CASE WHEN ${retry} THEN NULL ELSE :now END`;
}
