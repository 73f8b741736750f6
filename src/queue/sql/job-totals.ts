/**
 * Totals that survive retention: per function and end state, the jobs that left the file (pruned,
 * removed, purged) or left their end (retried). A function's total in a state since the file began is
 * the jobs in that state now plus this.
 */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

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
