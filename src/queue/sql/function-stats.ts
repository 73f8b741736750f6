/** Per function: jobs queued and running, as `gearadmin --status` shows them. */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/** One function's counts. */
export interface FunctionCounts {
  readonly functionName: string;
  readonly queued: number;
  readonly running: number;
}

export function prepareFunctionStats(db: SqliteConnection) {
  const counts = db.prepare(
    `SELECT function AS functionName, sum(state = ${State.queued}) AS queued, sum(state = ${State.running}) AS running
     FROM jobs WHERE state IN (${State.queued}, ${State.running}) GROUP BY function ORDER BY function`,
  );
  return (): FunctionCounts[] => counts.all() as FunctionCounts[];
}
