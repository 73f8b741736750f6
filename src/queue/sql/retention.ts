/**
 * Bounded retention of finished jobs: completed ones are kept for an age and up to a count, failed, dead
 * and cancelled ones for an age; the events of finished jobs go once their callers had time to read
 * them. Deletes go in slices, so that one pass never holds the write lock for long, and each slice is
 * counted into the totals that outlive it (job-totals.ts).
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import { notNeededByAFlow } from './flows.js';
import { type CountChanges, prepareGroups } from './function-counts.js';
import type { prepareJobTotals } from './job-totals.js';

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

/** Where a slice's deletes are counted: the totals that outlive them, the counts of the file. */
interface Ledgers {
  readonly totals: ReturnType<typeof prepareJobTotals>;
  readonly counts: CountChanges;
}

/** A slice to delete, counted first into the totals and out of the counts. */
function prepareSlice(db: SqliteConnection, selection: string, { totals, counts }: Ledgers) {
  const groups = prepareGroups(db, `id IN (${selection})`);
  const remove = db.prepare(`DELETE FROM jobs WHERE id IN (${selection})`);
  return (parameter: number): number => {
    const leaving = groups(parameter);
    if (leaving.length === 0) return 0;
    return counts.deleting(leaving, () => {
      const removed = remove.run(parameter).changes;
      totals.add(leaving);
      return removed;
    });
  };
}

export function prepareRetention(db: SqliteConnection, ledgers: Ledgers) {
  const oldCompleted = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state = ${State.completed} AND finished_at < ? AND ${notNeededByAFlow}
     ORDER BY id LIMIT ${slice}`,
    ledgers,
  );
  const beyondCount = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state = ${State.completed} AND ${notNeededByAFlow}
     ORDER BY finished_at DESC, id DESC LIMIT ${slice} OFFSET ?`,
    ledgers,
  );
  const oldFailed = prepareSlice(
    db,
    `SELECT id FROM jobs WHERE state > ${State.completed} AND finished_at < ? AND ${notNeededByAFlow}
     ORDER BY id LIMIT ${slice}`,
    ledgers,
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
