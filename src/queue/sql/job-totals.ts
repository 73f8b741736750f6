/**
 * Totals that survive retention: per function and end state, the jobs that left the file (pruned,
 * removed, purged), and apart (their state plus `retriedOffset`) those that left their end by a retry.
 * A function's jobs that ever ended in a state are the jobs in that state now plus both; the jobs ever
 * submitted are the jobs now plus those that left the file.
 */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import type { StateCount } from './function-counts.js';

/** Added to the state of a total of jobs that left that end by a retry (they are still in the file). */
export const retriedOffset = 100;

/** One function's total of jobs that left a state. */
export type TotalRow = StateCount;

export function prepareJobTotals(db: SqliteConnection) {
  const all = db.prepare('SELECT function AS functionName, state, count FROM function_totals');
  const add = db.prepare(
    `INSERT INTO function_totals (function, state, count) VALUES (?, ?, ?)
     ON CONFLICT (function, state) DO UPDATE SET count = count + excluded.count`,
  );
  return {
    all: (): TotalRow[] => all.all() as TotalRow[],
    /** Counts jobs that are leaving their state (`offset`: retriedOffset for a retry) into the totals. */
    add(leaving: readonly StateCount[], offset = 0): void {
      for (const { functionName, state, count } of leaving) add.run(functionName, state + offset, count);
    },
  };
}
