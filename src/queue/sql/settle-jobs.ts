/**
 * What a runner writes about the jobs it holds: started, progress, checkpoints, and the end (completed, failed for
 * good, back to the queue for another attempt, or released unrun). Every write is fenced by the lease
 * token: a runner that lost its lease changes nothing any more.
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import type { CountChanges } from './function-counts.js';

/** A job a runner holds: its id, and its function (which a job never changes), whose counts an end moves. */
export interface HeldJob {
  readonly id: number;
  readonly functionName: string;
}

export function prepareSettleJobs(db: SqliteConnection, counts: CountChanges) {
  const fence = `WHERE id = :id AND lease_token = :token AND state = ${State.running}`;
  const started = db.prepare(`UPDATE jobs SET started_at = :at ${fence}`);
  const progress = db.prepare(`UPDATE jobs SET numerator = :numerator, denominator = :denominator ${fence}`);
  const checkpoint = db.prepare(`UPDATE jobs SET checkpoint = :state ${fence}`);
  const complete = db.prepare(
    `UPDATE jobs SET state = ${State.completed}, result = :result, started_at = coalesce(started_at, :begunAt, :at), finished_at = :at,
       lease_owner = NULL, lease_token = NULL, lease_until = NULL ${fence}`,
  );
  const fail = db.prepare(
    `UPDATE jobs SET state = :state, run_at = :runAt, error = :error,
       finished_at = CASE WHEN :state = ${State.queued} THEN NULL ELSE :at END,
       started_at = CASE WHEN :state = ${State.queued} THEN NULL ELSE coalesce(started_at, :begunAt, :at) END,
       lease_owner = NULL, lease_token = NULL, lease_until = NULL ${fence}`,
  );
  const release = db.prepare(
    `UPDATE jobs SET state = ${State.queued}, attempts = attempts - 1, started_at = NULL, run_at = :at,
       lease_owner = NULL, lease_token = NULL, lease_until = NULL ${fence}`,
  );
  /** Whether the end was written (the runner still held the job), counted if so. */
  const ended = (changes: number, job: HeldJob, to: number): boolean => {
    if (changes !== 1) return false;
    counts.moved(job.functionName, State.running, to);
    return true;
  };

  /** Each returns whether the runner still held the job (false: its lease was lost, nothing changed). */
  return {
    started: (id: number, token: number, at: number): boolean => started.run({ id, token, at }).changes === 1,
    progress: (id: number, token: number, numerator: number, denominator: number): boolean =>
      progress.run({ id, token, numerator, denominator }).changes === 1,
    /** Keeps a handler's checkpoint (JSON text), which a later attempt of the job resumes from. */
    checkpoint: (id: number, token: number, state: string): boolean =>
      checkpoint.run({ id, token, state }).changes === 1,
    /** Ends a job completed; `begunAt`: when its handler began, if that was not written yet. */
    complete: (
      job: HeldJob,
      token: number,
      result: string | Uint8Array | null,
      at: number,
      begunAt: number | null = null,
    ): boolean =>
      ended(complete.run({ id: job.id, token, result, at, begunAt }).changes, job, State.completed),
    /** Fails an attempt: State.queued queues it again at `runAt`; State.failed or State.dead ends it. */
    fail: (
      job: HeldJob,
      token: number,
      state: number,
      runAt: number,
      error: string,
      at: number,
      begunAt: number | null = null,
    ): boolean =>
      ended(fail.run({ id: job.id, token, state, runAt, error, at, begunAt }).changes, job, state),
    /** Gives an unfinished job back (a runner shutting down); the attempt does not count. */
    release: (job: HeldJob, token: number, at: number): boolean =>
      ended(release.run({ id: job.id, token, at }).changes, job, State.queued),
  };
}
