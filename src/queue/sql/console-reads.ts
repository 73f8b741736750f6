/**
 * What the console and the metrics read of a queue file beside its counts (function-counts.ts), each
 * answered from an index on a large file: the functions that have jobs in an end state, pages of jobs
 * in a state (queue order for queued jobs, newest end first for finished ones, by keyset: a page
 * costs the same deep in a million jobs as at the top), jobs by unique, and the ends of the last hour.
 *
 * SQLite uses a partial index only where the query states the index's own condition, word for word:
 * hence `state >= completed` beside `state = :state` for the finished jobs' index.
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import { type JobRow, jobColumns } from './read-jobs.js';

/** Where a page of finished jobs goes on from: after this end time and id (newest first). */
export interface FinishedCursor {
  readonly finishedAt: number;
  readonly id: number;
}

/** Where a page of queued jobs goes on from: after this place in the queue. */
export interface QueuedCursor {
  readonly priority: number;
  readonly runAt: number;
  readonly id: number;
}

/** When a job that ended was created, started and ended. */
export interface EndedJob {
  readonly id: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number;
}

/** One minute of the last hour: jobs that ended in it, and how long a sample of them waited and ran. */
export interface MinuteRow {
  readonly minute: number;
  readonly completed: number;
  readonly failed: number;
  readonly waitMs: number | null;
  readonly runMs: number | null;
}

/** The unique index's own condition, which a query must state to use it. */
const uniqueIndexed = `WHERE unique_key IS NOT NULL AND state IN (${State.queued}, ${State.running})`;

export function prepareConsoleReads(db: SqliteConnection) {
  // The functions with jobs ended in a state, one seek each (a loose index scan): what a page of
  // finished jobs merges, without counting them.
  const endedFunctions = db.prepare(
    `WITH RECURSIVE names(name) AS (
       SELECT min(function) FROM jobs INDEXED BY jobs_finished WHERE state = :state AND state >= ${State.completed}
       UNION ALL
       SELECT (SELECT min(function) FROM jobs INDEXED BY jobs_finished
               WHERE state = :state AND state >= ${State.completed} AND function > names.name)
       FROM names WHERE name IS NOT NULL)
     SELECT name FROM names WHERE name IS NOT NULL`,
  );
  // The same over the queued and running jobs that have a unique: the functions a search may name.
  const uniqueFunctions = db.prepare(
    `WITH RECURSIVE names(name) AS (
       SELECT min(function) FROM jobs INDEXED BY jobs_unique ${uniqueIndexed}
       UNION ALL
       SELECT (SELECT min(function) FROM jobs INDEXED BY jobs_unique ${uniqueIndexed} AND function > names.name)
       FROM names WHERE name IS NOT NULL)
     SELECT name FROM names WHERE name IS NOT NULL`,
  );
  const queuePage = db.prepare(
    `SELECT ${jobColumns} FROM jobs INDEXED BY jobs_ready
     WHERE state = ${State.queued} AND (:function IS NULL OR function = :function)
       AND (priority, run_at, id) > (:priority, :runAt, :id)
     ORDER BY priority, run_at, id LIMIT :limit`,
  );
  const runningPage = db.prepare(
    `SELECT ${jobColumns} FROM jobs INDEXED BY jobs_leased
     WHERE state = ${State.running} AND (:function IS NULL OR function = :function) AND id < :id
     ORDER BY id DESC LIMIT :limit`,
  );
  const finishedPage = db.prepare(
    `SELECT ${jobColumns} FROM jobs INDEXED BY jobs_finished
     WHERE state = :state AND state >= ${State.completed} AND function = :function
       AND (finished_at < :finishedAt OR (finished_at = :finishedAt AND id < :id))
     ORDER BY finished_at DESC, id DESC LIMIT :limit`,
  );
  const byUnique = db.prepare(
    `SELECT ${jobColumns} FROM jobs INDEXED BY jobs_unique ${uniqueIndexed} AND function = :function AND unique_key = :unique`,
  );
  const endsSince = db.prepare(
    `SELECT finished_at / 60000 AS minute, count(*) AS count FROM jobs INDEXED BY jobs_finished
     WHERE state = :state AND state >= ${State.completed} AND function = :function AND finished_at >= :since GROUP BY minute`,
  );
  const sampleSince = db.prepare(
    `SELECT finished_at / 60000 AS minute, avg(started_at - created_at) AS waitMs, avg(finished_at - started_at) AS runMs
     FROM (SELECT created_at, started_at, finished_at FROM jobs INDEXED BY jobs_finished
       WHERE state = ${State.completed} AND state >= ${State.completed} AND function = :function AND finished_at >= :since
       ORDER BY finished_at DESC LIMIT :limit)
     WHERE started_at IS NOT NULL GROUP BY minute`,
  );

  const endedAfter = db.prepare(
    `SELECT id, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt FROM jobs INDEXED BY jobs_finished
     WHERE state = :state AND state >= ${State.completed} AND function = :function
       AND (finished_at > :finishedAt OR (finished_at = :finishedAt AND id > :id))
     ORDER BY finished_at, id LIMIT :limit`,
  );

  return {
    /** A function's jobs that ended in `state` after `cursor`, oldest end first: their times. */
    endedAfter: (state: number, functionName: string, cursor: FinishedCursor, limit: number): EndedJob[] =>
      endedAfter.all({
        state,
        function: functionName,
        finishedAt: cursor.finishedAt,
        id: cursor.id,
        limit,
      }) as EndedJob[],
    /** The functions that have jobs ended in `state`. */
    endedFunctions: (state: number): string[] => endedFunctions.values({ state }) as string[],
    /** The functions that have a queued or running job with a unique. */
    uniqueFunctions: (): string[] => uniqueFunctions.values() as string[],
    /** Queued jobs in the order they will run, from after `cursor`. */
    queuedPage: (functionName: string | null, cursor: QueuedCursor | undefined, limit: number): JobRow[] =>
      queuePage.all({
        function: functionName,
        priority: cursor?.priority ?? -1,
        runAt: cursor?.runAt ?? Number.MIN_SAFE_INTEGER,
        id: cursor?.id ?? 0,
        limit,
      }) as JobRow[],
    /** Running jobs, newest first, from below id `before`. */
    runningPage: (functionName: string | null, before: number | undefined, limit: number): JobRow[] =>
      runningPage.all({ function: functionName, id: before ?? Number.MAX_SAFE_INTEGER, limit }) as JobRow[],
    /** A function's jobs that ended in `state`, the latest end first, from after `cursor`. */
    finishedPage: (
      state: number,
      functionName: string,
      cursor: FinishedCursor | undefined,
      limit: number,
    ): JobRow[] =>
      finishedPage.all({
        state,
        function: functionName,
        finishedAt: cursor?.finishedAt ?? Number.MAX_SAFE_INTEGER,
        id: cursor?.id ?? Number.MAX_SAFE_INTEGER,
        limit,
      }) as JobRow[],
    /** The queued or running job of a function with this unique. */
    byUnique: (functionName: string, unique: string): JobRow[] =>
      byUnique.all({ function: functionName, unique }) as JobRow[],
    /** Per minute since `since`: a function's jobs that ended in `state`. */
    endsSince: (state: number, functionName: string, since: number): { minute: number; count: number }[] =>
      endsSince.all({ state, function: functionName, since }) as { minute: number; count: number }[],
    /** Per minute since `since`: the wait and run time of a function's latest `limit` completed jobs. */
    timesSince: (
      functionName: string,
      since: number,
      limit: number,
    ): Omit<MinuteRow, 'completed' | 'failed'>[] =>
      sampleSince.all({ function: functionName, since, limit }) as Omit<MinuteRow, 'completed' | 'failed'>[],
  };
}
