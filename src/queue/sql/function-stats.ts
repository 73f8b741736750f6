/** Per function: jobs queued and running, as `gearadmin --status` shows them. */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/** One function's counts. */
export interface FunctionCounts {
  readonly functionName: string;
  readonly queued: number;
  readonly running: number;
}

export function prepareFunctionStats(db: SqliteConnection) {
  const counts = db.prepare(
    `SELECT function AS functionName, sum(state = 0) AS queued, sum(state = 1) AS running
     FROM jobs WHERE state IN (0, 1) GROUP BY function ORDER BY function`,
  );
  return (): FunctionCounts[] => counts.all() as FunctionCounts[];
}
