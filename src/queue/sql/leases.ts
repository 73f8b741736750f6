/** A runner's leases: renewing them, and finding the jobs whose callers asked to stop them. */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

export function prepareLeases(db: SqliteConnection) {
  const renew = db.prepare('UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND state = 1');
  const cancelled = db.prepare(
    'SELECT id FROM jobs WHERE lease_owner = ? AND state = 1 AND cancel_requested = 1',
  );
  return {
    renew: (owner: string, until: number): number => renew.run(until, owner).changes,
    cancelled: (owner: string): number[] => cancelled.values(owner) as number[],
  };
}
