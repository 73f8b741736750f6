/** Adding jobs, with gearmand's rule for `unique`: a job already queued or running is returned instead. */
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import type { CountChanges } from './function-counts.js';

/** A job as it is written. */
export interface NewJob {
  readonly functionName: string;
  /** JSON text, bytes, or null for no input. */
  readonly input: string | Uint8Array | null;
  readonly unique: string | null;
  readonly priority: number;
  readonly foreground: boolean;
  readonly runAt: number;
  readonly maxAttempts: number;
  readonly backoff: number;
  /** The trace it was submitted in (a W3C traceparent), which its runs continue; null when untraced. */
  readonly traceparent: string | null;
  /** A flow's child: the id of the continuation it is part of. */
  readonly parentId?: number | undefined;
  /** A flow's continuation: how many children it waits for. */
  readonly childCount?: number | undefined;
}

export function prepareInsertJobs(db: SqliteConnection, counts: CountChanges) {
  const findUnique = db.prepare(
    `SELECT id FROM jobs WHERE function = ? AND unique_key = ? AND state IN (${State.queued}, ${State.running})`,
  );
  /**
   * The largest id ever used, kept or deleted (schema.ts, 10): new jobs take the ids after it, so that no
   * handle names two jobs. Read once per call, in the caller's write transaction, which no other writer
   * can enter: the ids after it are this call's.
   */
  const lastId = db.prepare(
    `SELECT max(coalesce((SELECT max(id) FROM jobs), 0),
       coalesce((SELECT CAST(value AS INTEGER) FROM queue_info WHERE key = 'deleted_id'), 0))`,
  );
  const insert = db.prepare(
    `INSERT INTO jobs (id, function, input, unique_key, priority, state, foreground, run_at, max_attempts, backoff,
       created_at, trace, parent_id, flow_left)
     VALUES (?, ?, ?, ?, ?, ${State.queued}, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  /** Adds the jobs (inside the caller's transaction); returns each one's id, an existing one's for a unique match. */
  return (jobs: readonly NewJob[], now: number): number[] => {
    let id = lastId.value() as number;
    return jobs.map((job) => {
      if (job.unique !== null) {
        const existing = findUnique.value(job.functionName, job.unique) as number | undefined;
        if (existing !== undefined) return existing;
      }
      insert.run(
        ++id,
        job.functionName,
        job.input,
        job.unique,
        job.priority,
        job.foreground ? 1 : 0,
        job.runAt,
        job.maxAttempts,
        job.backoff,
        now,
        job.traceparent,
        job.parentId ?? null,
        job.childCount ?? null,
      );
      counts.added(job.functionName, State.queued);
      return id;
    });
  };
}
