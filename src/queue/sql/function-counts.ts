/**
 * Jobs per function and state, kept in a table of their own beside the jobs, so that "how many jobs
 * are queued for each function" costs a few rows however large the file (counted from the jobs, a
 * backlog of 550,000 took 100 ms and more; bench:console).
 *
 * Every statement that moves or deletes jobs reports what it changed here, as it learns it (the rows it
 * returned, the groups it counted): the changes gather in memory and are written once, as the last step
 * of the same transaction (QueueStore.transaction), one row per function and state that changed. So a
 * batch of a thousand completions costs two small writes, not two thousand (triggers, one write per job,
 * made a drain 37% slower), and the counts commit or roll back with the jobs they count.
 *
 * A job added is counted later. The jobs with an id above `counted_id` (queue_info) are counted as
 * queued by the readers, from the jobs themselves (a range of the table's key); an insert brings the
 * counts up to date once that range holds `uncountedAtMost` jobs, and a delete first, since it removes
 * jobs from the range. So a single enqueue's commit writes the job and its index entry only: the
 * counts' page in every such commit made one awaited enqueue 20% slower (bench:queue's row, scratch
 * pairs). A job in the range that moved on is counted as queued there and moved in the stored counts.
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State, stateNames } from '../stored-codes.js';

/** Jobs of one function in one stored state. */
export interface StateCount {
  readonly functionName: string;
  readonly state: number;
  readonly count: number;
}

/** One function's jobs waiting and running, as `gearadmin --status` shows them. */
export interface ActiveCount {
  readonly functionName: string;
  readonly queued: number;
  readonly running: number;
}

/** The stored states: queued, running, completed, failed, dead, cancelled. */
const states = stateNames.length;

/** The most jobs left to the readers to count (a readers' scan of at most this many rows). */
export const uncountedAtMost = 1000;

/** The id through which the stored counts count jobs, in SQL. */
const countedId = "(SELECT CAST(value AS INTEGER) FROM queue_info WHERE key = 'counted_id')";
/** Per function, the jobs the stored counts do not count yet: each counts as queued. */
const uncounted = `SELECT function, ${State.queued} AS state, count(*) AS count FROM jobs WHERE id > ${countedId} GROUP BY function`;

export function prepareFunctionCounts(db: SqliteConnection) {
  const add = db.prepare(
    `INSERT INTO function_counts (function, state, count) VALUES (?, ?, ?)
     ON CONFLICT (function, state) DO UPDATE SET count = count + excluded.count`,
  );
  const all = db.prepare(
    `SELECT function AS functionName, state, sum(count) AS count
     FROM (SELECT function, state, count FROM function_counts UNION ALL ${uncounted})
     GROUP BY function, state HAVING sum(count) != 0 ORDER BY function, state`,
  );
  const active = db.prepare(
    `SELECT function AS functionName, sum(count * (state = ${State.queued})) AS queued,
       sum(count * (state = ${State.running})) AS running
     FROM (SELECT function, state, count FROM function_counts WHERE state IN (${State.queued}, ${State.running})
       UNION ALL ${uncounted})
     GROUP BY function HAVING queued != 0 OR running != 0 ORDER BY function`,
  );
  const stored = db.prepare('SELECT count FROM function_counts WHERE function = ? AND state = ?');
  const uncountedOf = db.prepare(`SELECT count(*) FROM jobs WHERE id > ${countedId} AND function = ?`);
  const uncountedUpTo = db.prepare(
    `SELECT function AS functionName, count(*) AS count FROM jobs WHERE id > ${countedId} AND id <= ? GROUP BY function`,
  );
  const lastJob = db.prepare('SELECT coalesce(max(id), 0) FROM jobs');
  const counted = db.prepare(`SELECT ${countedId}`);
  const setCounted = db.prepare("UPDATE queue_info SET value = ? WHERE key = 'counted_id'");
  /** Per function, the change of each state's count not yet written. */
  let pending = new Map<string, number[]>();

  const change = (functionName: string, state: number, delta: number) => {
    let deltas = pending.get(functionName);
    if (!deltas) {
      deltas = new Array<number>(states).fill(0);
      pending.set(functionName, deltas);
    }
    deltas[state] = (deltas[state] ?? 0) + delta;
  };

  /** Counts the jobs up to `id` that are not counted yet (as queued: a job moved on was moved in the counts). */
  const countUpTo = (id: number) => {
    for (const { functionName, count } of uncountedUpTo.all(id) as { functionName: string; count: number }[])
      change(functionName, State.queued, count);
    setCounted.run(id);
  };

  return {
    /**
     * Before an insert, whose jobs take the ids after `lastId`: whether it counts them (it has to tell each
     * one to `added`, then the last id to `countedThrough`), having counted those before it. It does once
     * `uncountedAtMost` jobs would be left uncounted, so that readers never count many.
     */
    insertCounts(lastId: number, counted: number, adding: number): boolean {
      if (lastId - counted + adding < uncountedAtMost) return false;
      countUpTo(lastId);
      return true;
    },
    /** `count` jobs of a function were written queued (by an insert that counts them). */
    added: (functionName: string, count = 1): void => change(functionName, State.queued, count),
    /** The counts now count every job up to `id`. */
    countedThrough: (id: number): void => void setCounted.run(id),
    /**
     * Deletes jobs with `remove`, having counted every job first (a delete takes jobs out of the range
     * that readers count), and takes the groups it deletes out of the counts once it has.
     */
    deleting<T>(groups: readonly StateCount[], remove: () => T): T {
      const last = lastJob.value() as number;
      if (last > (counted.value() as number)) countUpTo(last);
      const done = remove();
      for (const { functionName, state, count } of groups) change(functionName, state, -count);
      return done;
    },
    /** `count` jobs of a function went from one state to another. */
    moved(functionName: string, from: number, to: number, count = 1): void {
      if (from === to) return;
      change(functionName, from, -count);
      change(functionName, to, count);
    },
    /** The changes gathered so far, to go back to when what followed is rolled back (a savepoint). */
    snapshot(): () => void {
      const kept = new Map([...pending].map(([functionName, deltas]) => [functionName, [...deltas]]));
      return () => {
        pending = kept;
      };
    },
    /** Writes the changes gathered (inside the transaction that made them, as its last step). */
    write(): void {
      if (pending.size === 0) return;
      const written = pending;
      pending = new Map();
      for (const [functionName, deltas] of written) {
        deltas.forEach((delta, state) => {
          if (delta !== 0) add.run(functionName, state, delta);
        });
      }
    },
    /** Forgets the changes gathered (their transaction rolled back). */
    discard(): void {
      pending = new Map();
    },
    /** A function's jobs in a state now, in this transaction: as written, with the changes not yet written. */
    current: (functionName: string, state: number): number =>
      ((stored.value(functionName, state) as number | undefined) ?? 0) +
      (pending.get(functionName)?.[state] ?? 0) +
      (state === State.queued ? (uncountedOf.value(functionName) as number) : 0),
    /** Every function's jobs in each state that has any. */
    all: (): StateCount[] => all.all() as StateCount[],
    /** The functions with jobs queued or running: how many of each. */
    active: (): ActiveCount[] => active.all() as ActiveCount[],
  };
}

/**
 * A statement that counts the jobs a selection holds, per function and state (`where`: a condition on
 * `jobs` with the statement's parameters): what a delete or a retry reports before it runs.
 */
export function prepareGroups(db: SqliteConnection, where: string) {
  const groups = db.prepare(
    `SELECT function AS functionName, state, count(*) AS count FROM jobs WHERE ${where} GROUP BY function, state`,
  );
  return (...parameters: Parameters<typeof groups.all>): StateCount[] =>
    groups.all(...parameters) as StateCount[];
}

/** What the statements that change jobs report their changes to. */
export type CountChanges = Pick<ReturnType<typeof prepareFunctionCounts>, 'deleting' | 'moved'>;

/** What an insert reports to: when it counts its jobs, and which. */
export type InsertCounts = Pick<
  ReturnType<typeof prepareFunctionCounts>,
  'insertCounts' | 'added' | 'countedThrough' | 'snapshot'
>;

/** What the claim of a runner with limits also reads: the jobs running per function, as they are now. */
export type LiveCounts = CountChanges & Pick<ReturnType<typeof prepareFunctionCounts>, 'current'>;
