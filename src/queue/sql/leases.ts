/** A runner's leases: renewing them, and finding the jobs whose callers asked to stop them. */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';

export function prepareLeases(db: SqliteConnection) {
  const renew = db.prepare(
    `UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND state = ${State.running}
     RETURNING id, lease_token AS token`,
  );
  const cancelled = db.prepare(
    `SELECT id, cancel_requested AS how FROM jobs
     WHERE lease_owner = ? AND state = ${State.running} AND cancel_requested != 0`,
  );
  return {
    /** Renews the owner's leases; returns the jobs it still holds, with their lease tokens. */
    renew: (owner: string, until: number): Map<number, number> =>
      new Map((renew.all(until, owner) as { id: number; token: number }[]).map((row) => [row.id, row.token])),
    /** The owner's running jobs asked to stop: by a caller that left (1) or an operator (2). */
    cancelled: (owner: string): { id: number; how: number }[] =>
      cancelled.all(owner) as { id: number; how: number }[],
  };
}
