/**
 * Jobs per function and state, kept in a table of their own beside the jobs, so that "how many jobs
 * are queued for each function" costs a few rows however large the file (counted from the jobs, a
 * backlog of 550,000 took 100 ms and more; bench:console).
 *
 * Every statement that adds, moves or deletes jobs reports what it changed here, as it learns it (the
 * rows it returned, the groups it counted): the changes gather in memory and are written once, as the
 * last step of the same transaction (QueueStore.transaction), one row per function and state that
 * changed. So a batch of a thousand completions costs two small writes, not two thousand (triggers, one
 * write per job, made a drain 37% slower), and the counts commit or roll back with the jobs they count.
 */
import { State, stateNames } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

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

export function prepareFunctionCounts(db: SqliteConnection) {
  const add = db.prepare(
    `INSERT INTO function_counts (function, state, count) VALUES (?, ?, ?)
     ON CONFLICT (function, state) DO UPDATE SET count = count + excluded.count`,
  );
  const all = db.prepare(
    'SELECT function AS functionName, state, count FROM function_counts WHERE count != 0 ORDER BY function, state',
  );
  const active = db.prepare(
    `SELECT function AS functionName, sum(count * (state = ${State.queued})) AS queued,
       sum(count * (state = ${State.running})) AS running
     FROM function_counts WHERE state IN (${State.queued}, ${State.running}) GROUP BY function
     HAVING queued != 0 OR running != 0 ORDER BY function`,
  );
  const stored = db.prepare('SELECT count FROM function_counts WHERE function = ? AND state = ?');
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

  return {
    /** `count` jobs of a function were written in `state`. */
    added: (functionName: string, state: number, count = 1): void => change(functionName, state, count),
    /** `count` jobs of a function in `state` were deleted. */
    removed: (functionName: string, state: number, count = 1): void => change(functionName, state, -count),
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
      (pending.get(functionName)?.[state] ?? 0),
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
export type CountChanges = Pick<ReturnType<typeof prepareFunctionCounts>, 'added' | 'removed' | 'moved'>;

/** What the claim of a runner with limits also reads: the jobs running per function, as they are now. */
export type LiveCounts = CountChanges & Pick<ReturnType<typeof prepareFunctionCounts>, 'current'>;
