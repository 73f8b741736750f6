/**
 * The events of foreground jobs (status, data, warning), kept in order until their caller has read
 * them, so that a caller in one process sees what a runner in another reports. Background jobs keep
 * only their latest progress, in the job row.
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';

/** One stored event. */
export interface StoredEvent {
  readonly seq: number;
  readonly kind: number;
  readonly body: string | Uint8Array | null;
}

export function prepareJobEvents(db: SqliteConnection) {
  // Fenced like every write about a running job: nothing is added for a job whose lease was lost.
  const append = db.prepare(
    `INSERT INTO job_events (job_id, seq, kind, body)
     SELECT :id, (SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = :id), :kind, :body
     WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :id AND lease_token = :token AND state = ${State.running})`,
  );
  const after = db.prepare(
    'SELECT seq, kind, body FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq',
  );
  const remove = db.prepare('DELETE FROM job_events WHERE job_id = ?');
  return {
    /** Adds an event of a running job whose lease is held with `token`; false when it is not. */
    append: (id: number, token: number, kind: number, body: string | Uint8Array | null): boolean =>
      append.run({ id, token, kind, body }).changes === 1,
    after: (id: number, seq: number): StoredEvent[] => after.all(id, seq) as StoredEvent[],
    remove: (id: number): void => {
      remove.run(id);
    },
  };
}
