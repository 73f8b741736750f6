/**
 * Bounded retention of finished jobs: completed ones are kept for an age and up to a count, failed, dead
 * and cancelled ones for an age; the events of finished jobs go once their callers had time to read
 * them. Deletes go in slices, so that one pass never holds the write lock for long, and each slice is
 * counted into the totals that outlive it (job-totals.ts).
 */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { recordTotalsSql } from './job-totals.js';

/** How much of the past a queue keeps. */
export interface Retention {
  /** Milliseconds a completed job (and its result) is kept. */
  readonly completedMs: number;
  /** At most this many completed jobs are kept, the newest. */
  readonly completedCount: number;
  /** Milliseconds a failed, dead or cancelled job is kept. */
  readonly failedMs: number;
}

const slice = 1000;

/** A slice to delete, and the statement that counts it into the totals first. */
function prepareSlice(db: SqliteConnection, selection: string) {
  const count = db.prepare(recordTotalsSql(`SELECT function, state FROM jobs WHERE id IN (${selection})`));
  const remove = db.prepare(`DELETE FROM jobs WHERE id IN (${selection})`);
  return (parameter: number): number => {
    count.run(parameter);
    return remove.run(parameter).changes;
  };
}

export function prepareRetention(db: SqliteConnection) {
  const oldCompleted = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state = ${State.completed} AND finished_at < ? ORDER BY id LIMIT ${slice}`,
  );
  const beyondCount = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state = ${State.completed} ORDER BY finished_at DESC, id DESC LIMIT ${slice} OFFSET ?`,
  );
  const oldFailed = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state > ${State.completed} AND finished_at < ? ORDER BY id LIMIT ${slice}`,
  );
  const staleEvents = db.prepare(
    `DELETE FROM job_events WHERE job_id IN (
       SELECT DISTINCT e.job_id FROM job_events e LEFT JOIN jobs j ON j.id = e.job_id
       WHERE j.id IS NULL OR (j.state >= ${State.completed} AND j.finished_at < ?) LIMIT ${slice})`,
  );
  /** One slice of pruning; returns how many rows went (call again while it is not 0). */
  return (retention: Retention, now: number): number =>
    oldCompleted(now - retention.completedMs) +
    beyondCount(retention.completedCount) +
    oldFailed(now - retention.failedMs) +
    staleEvents.run(now - 60_000).changes;
}
