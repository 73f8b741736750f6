/**
 * An operator's control of jobs, each one statement (or two) over a selection of jobs: by handle (ids)
 * or by a filter (a function, states). The caller runs each in one write transaction.
 *
 * - cancel: a queued job ends at once as cancelled; a running one is marked (cancel_requested = 2), and
 *   its runner aborts it and writes the end, under its lease like every write of a running job.
 * - retry: a failed, dead or cancelled job goes back to the queue now, with a fresh set of attempts (its
 *   checkpoint kept: it resumes).
 * - remove: a finished job leaves the file, with its events (but a child a waiting flow continuation
 *   will read: it stays until the continuation has ended).
 * - pause / resume: a paused function's jobs are not claimed (they keep queueing).
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { flowWaitingAt, State } from '../stored-codes.js';
import { notNeededByAFlow } from './flows.js';
import { type CountChanges, prepareGroups } from './function-counts.js';
import { type prepareJobTotals, retriedOffset } from './job-totals.js';

/**
 * Which jobs: by id, or by function (any when null), stored state and (for finished jobs) an end before
 * a time; at most `limit` of them (a purge goes in slices).
 */
export type JobSelection =
  | { readonly ids: readonly number[] }
  | {
      readonly functionName: string | null;
      readonly states: readonly number[];
      readonly finishedBefore?: number;
      readonly limit?: number;
    };

/** The value of cancel_requested for an operator's cancel (1 is a foreground caller that left). */
export const operatorCancel = 2;

/** The failure a job cancelled while queued ends with, as stored. */
const cancelledError = JSON.stringify({
  code: 'ERR_JOB_CANCELLED',
  message: 'it was cancelled before it ran',
  details: { reason: 'cancelled before it ran' },
});

const selected = `id IN (
  SELECT value FROM json_each(:ids) WHERE :ids IS NOT NULL
  UNION ALL
  SELECT id FROM (SELECT id FROM jobs WHERE :ids IS NULL AND (:function IS NULL OR function = :function)
    AND state IN (SELECT value FROM json_each(:states)) AND (:before IS NULL OR finished_at < :before)
    ORDER BY id LIMIT :limit))`;

/** Finished, and not a child a waiting continuation will read (those stay until it has ended). */
const finished = `state >= ${State.completed} AND ${notNeededByAFlow}`;
const ended = `state > ${State.completed}`;

export function prepareControlJobs(
  db: SqliteConnection,
  totals: ReturnType<typeof prepareJobTotals>,
  counts: CountChanges,
) {
  const cancelQueued = db.prepare(
    `UPDATE jobs SET state = ${State.cancelled}, finished_at = :now, error = :error
     WHERE ${selected} AND state = ${State.queued} RETURNING function`,
  );
  const cancelRunning = db.prepare(
    `UPDATE jobs SET cancel_requested = ${operatorCancel} WHERE ${selected} AND state = ${State.running}`,
  );
  const endedGroups = prepareGroups(db, `${selected} AND ${ended}`);
  // A flow's continuation counts its children left afresh (the triggers stopped counting when it
  // ended), and waits again if any has not ended.
  const childrenLeft = `(SELECT count(*) FROM jobs child WHERE child.parent_id = jobs.id AND child.state < ${State.completed})`;
  const retry = db.prepare(
    `UPDATE jobs SET state = ${State.queued}, attempts = 0, finished_at = NULL, started_at = NULL,
       cancel_requested = 0, numerator = 0, denominator = 0,
       flow_left = CASE WHEN flow_left IS NULL THEN NULL ELSE ${childrenLeft} END,
       run_at = CASE WHEN flow_left IS NOT NULL AND ${childrenLeft} > 0 THEN ${flowWaitingAt} ELSE :now END
     WHERE ${selected} AND ${ended}`,
  );
  const finishedGroups = prepareGroups(db, `${selected} AND ${finished}`);
  const removeEvents = db.prepare(
    `DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE ${selected} AND ${finished})`,
  );
  const remove = db.prepare(`DELETE FROM jobs WHERE ${selected} AND ${finished}`);
  const pause = db.prepare('INSERT OR IGNORE INTO function_flags (function, paused_at) VALUES (?, ?)');
  const resume = db.prepare('DELETE FROM function_flags WHERE function = ?');
  const paused = db.prepare('SELECT function FROM function_flags ORDER BY function');

  const parameters = (selection: JobSelection) =>
    'ids' in selection
      ? { ids: JSON.stringify(selection.ids), function: null, states: '[]', before: null, limit: 0 }
      : {
          ids: null,
          function: selection.functionName,
          states: JSON.stringify(selection.states),
          before: selection.finishedBefore ?? null,
          limit: selection.limit ?? -1,
        };

  return {
    /** Cancels the selected jobs that have not ended; how many. */
    cancel(selection: JobSelection, now: number): number {
      const given = parameters(selection);
      const cancelled = cancelQueued.values({ ...given, now, error: cancelledError }) as string[];
      for (const functionName of cancelled) counts.moved(functionName, State.queued, State.cancelled);
      return cancelled.length + cancelRunning.run(given).changes;
    },
    /** Queues again the selected jobs that failed, died or were cancelled; how many. */
    retry(selection: JobSelection, now: number): number {
      const given = parameters(selection);
      const leaving = endedGroups(given);
      if (leaving.length === 0) return 0;
      totals.add(leaving, retriedOffset);
      for (const { functionName, state, count } of leaving)
        counts.moved(functionName, state, State.queued, count);
      return retry.run({ ...given, now }).changes;
    },
    /** Deletes the selected jobs that have ended; how many. */
    remove(selection: JobSelection): number {
      const given = parameters(selection);
      const leaving = finishedGroups(given);
      if (leaving.length === 0) return 0;
      return counts.deleting(leaving, () => {
        removeEvents.run(given);
        const removed = remove.run(given).changes;
        totals.add(leaving);
        return removed;
      });
    },
    pause: (functionName: string, now: number): boolean => pause.run(functionName, now).changes === 1,
    resume: (functionName: string): boolean => resume.run(functionName).changes === 1,
    /** The paused functions. */
    paused: (): string[] => paused.values() as string[],
  };
}
