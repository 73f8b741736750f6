/** The dead-letter state: a failed or dead job goes back to the queue for a fresh set of attempts. */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

export function prepareRequeue(db: SqliteConnection) {
  const requeue = db.prepare(
    `UPDATE jobs SET state = ${State.queued}, attempts = 0, run_at = :at, finished_at = NULL, started_at = NULL,
       cancel_requested = 0, numerator = 0, denominator = 0
     WHERE id = :id AND state IN (${State.failed}, ${State.dead})`,
  );
  /** Returns whether the job was failed or dead (and is now queued). */
  return (id: number, at: number): boolean => requeue.run({ id, at }).changes === 1;
}
