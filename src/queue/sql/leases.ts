/** A runner's leases: renewing them, and finding the jobs whose callers asked to stop them. */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

export function prepareLeases(db: SqliteConnection) {
  const renew = db.prepare(
    `UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND state = ${State.running}
     RETURNING id, lease_token AS token`,
  );
  const cancelled = db.prepare(
    `SELECT id FROM jobs WHERE lease_owner = ? AND state = ${State.running} AND cancel_requested = 1`,
  );
  return {
    /** Renews the owner's leases; returns the jobs it still holds, with their lease tokens. */
    renew: (owner: string, until: number): Map<number, number> =>
      new Map((renew.all(until, owner) as { id: number; token: number }[]).map((row) => [row.id, row.token])),
    cancelled: (owner: string): number[] => cancelled.values(owner) as number[],
  };
}
