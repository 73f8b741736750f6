/**
 * A caller stops waiting for a foreground job: a queued one ends at once (failed, with the reason); a
 * running one is marked, and its runner aborts it when it next looks.
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import type { CountChanges } from './function-counts.js';

export function prepareCancelJob(db: SqliteConnection, counts: CountChanges) {
  // SET expressions see the row as it was, so every CASE asks about the state before this change.
  const cancel = db.prepare(
    `UPDATE jobs SET cancel_requested = 1,
       state = CASE WHEN state = ${State.queued} THEN ${State.failed} ELSE state END,
       error = CASE WHEN state = ${State.queued} THEN :error ELSE error END,
       finished_at = CASE WHEN state = ${State.queued} THEN :at ELSE finished_at END
     WHERE id = :id AND state IN (${State.queued}, ${State.running}) AND foreground = 1
     RETURNING function AS functionName, state`,
  );
  return (id: number, error: string, at: number): void => {
    const row = cancel.get({ id, error, at }) as { functionName: string; state: number } | undefined;
    // A running job stays running (its runner ends it); only a queued one ended here.
    if (row?.state === State.failed) counts.moved(row.functionName, State.queued, State.failed);
  };
}
