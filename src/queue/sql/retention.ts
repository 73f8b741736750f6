/**
 * Bounded retention of finished jobs: completed ones are kept for an age and up to a count, failed and
 * dead ones for an age; the events of finished jobs go once their callers had time to read them.
 * Deletes go in slices, so that one pass never holds the write lock for long.
 */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/** How much of the past a queue keeps. */
export interface Retention {
  /** Milliseconds a completed job (and its result) is kept. */
  readonly completedMs: number;
  /** At most this many completed jobs are kept, the newest. */
  readonly completedCount: number;
  /** Milliseconds a failed or dead job is kept. */
  readonly failedMs: number;
}

const slice = 1000;

export function prepareRetention(db: SqliteConnection) {
  const oldCompleted = db.prepare(
    `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ${State.completed} AND finished_at < ? LIMIT ${slice})`,
  );
  const beyondCount = db.prepare(
    `DELETE FROM jobs WHERE id IN (
       SELECT id FROM jobs WHERE state = ${State.completed} ORDER BY finished_at DESC, id DESC LIMIT ${slice} OFFSET ?)`,
  );
  const oldFailed = db.prepare(
    `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN (${State.failed}, ${State.dead}) AND finished_at < ? LIMIT ${slice})`,
  );
  const staleEvents = db.prepare(
    `DELETE FROM job_events WHERE job_id IN (
       SELECT DISTINCT e.job_id FROM job_events e LEFT JOIN jobs j ON j.id = e.job_id
       WHERE j.id IS NULL OR (j.state >= 2 AND j.finished_at < ?) LIMIT ${slice})`,
  );
  /** One slice of pruning; returns how many rows went (call again while it is not 0). */
  return (retention: Retention, now: number): number =>
    oldCompleted.run(now - retention.completedMs).changes +
    beyondCount.run(retention.completedCount).changes +
    oldFailed.run(now - retention.failedMs).changes +
    staleEvents.run(now - 60_000).changes;
}
