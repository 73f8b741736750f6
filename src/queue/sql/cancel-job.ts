/**
 * A caller stops waiting for a foreground job: a queued one ends at once (failed, with the reason); a
 * running one is marked, and its runner aborts it when it next looks.
 */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

export function prepareCancelJob(db: SqliteConnection) {
  // SET expressions see the row as it was, so every CASE asks about the state before this change.
  const cancel = db.prepare(
    `UPDATE jobs SET cancel_requested = 1,
       state = CASE WHEN state = ${State.queued} THEN ${State.failed} ELSE state END,
       error = CASE WHEN state = ${State.queued} THEN :error ELSE error END,
       finished_at = CASE WHEN state = ${State.queued} THEN :at ELSE finished_at END
     WHERE id = :id AND state IN (${State.queued}, ${State.running}) AND foreground = 1`,
  );
  return (id: number, error: string, at: number): void => {
    cancel.run({ id, error, at });
  };
}
