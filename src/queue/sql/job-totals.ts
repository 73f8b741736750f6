/**
 * Totals that survive retention: per function and end state, the jobs that left the file (pruned,
 * removed, purged), and apart (their state plus `retriedOffset`) those that left their end by a retry.
 * A function's jobs that ever ended in a state are the jobs in that state now plus both; the jobs ever
 * submitted are the jobs now plus those that left the file.
 */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/** Added to the state of a total of jobs that left that end by a retry (they are still in the file). */
export const retriedOffset = 100;

/**
 * The statement that adds to the totals the jobs a selection holds (`selection`: a subquery of rows
 * with `function` and `state` columns), run just before those jobs leave.
 */
export function recordTotalsSql(selection: string): string {
  return `INSERT INTO function_totals (function, state, count)
    SELECT function, state, count(*) FROM (${selection}) WHERE true GROUP BY function, state
    ON CONFLICT (function, state) DO UPDATE SET count = count + excluded.count`;
}

/** One function's total of jobs that left a state. */
export interface TotalRow {
  readonly functionName: string;
  readonly state: number;
  readonly count: number;
}

export function prepareJobTotals(db: SqliteConnection) {
  const all = db.prepare('SELECT function AS functionName, state, count FROM function_totals');
  return (): TotalRow[] => all.all() as TotalRow[];
}
