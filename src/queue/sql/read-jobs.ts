/** Reading jobs: one by id, for status and for the callers waiting on them. */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';

/** A job row, as status() and waiting callers read it. */
export interface JobRow {
  readonly id: number;
  readonly functionName: string;
  readonly unique: string | null;
  readonly priority: number;
  readonly state: number;
  readonly foreground: number;
  readonly runAt: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly numerator: number;
  readonly denominator: number;
  readonly result: string | Uint8Array | null;
  readonly error: string | null;
  /** JSON text, or null. */
  readonly checkpoint: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** A job row with its input, as an operator's view of one job shows it. */
export interface JobDetailRow extends JobRow {
  /** JSON text, bytes, or null for none. */
  readonly input: string | Uint8Array | null;
}

/** The columns of a JobRow, as a SELECT lists them. */
export const jobColumns = `id, function AS functionName, unique_key AS "unique", priority, state, foreground, run_at AS runAt,
  attempts, max_attempts AS maxAttempts, numerator, denominator, result, error, checkpoint, created_at AS createdAt,
  started_at AS startedAt, finished_at AS finishedAt`;

export function prepareReadJobs(db: SqliteConnection) {
  const byId = db.prepare(`SELECT ${jobColumns} FROM jobs WHERE id = ?`);
  const byState = db.prepare(`SELECT ${jobColumns} FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?`);
  const detail = db.prepare(`SELECT ${jobColumns}, input FROM jobs WHERE id = ?`);
  const endedAmong = db.prepare(
    `SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = value AND state < ${State.completed})`,
  );
  return {
    byId: (id: number): JobRow | undefined => byId.get(id) as JobRow | undefined,
    /** One job with its input. */
    detail: (id: number): JobDetailRow | undefined => detail.get(id) as JobDetailRow | undefined,
    /** The most recent jobs in a state, newest first. */
    byState: (state: number, limit: number): JobRow[] => byState.all(state, limit) as JobRow[],
    /** Those of the jobs `ids` that have ended (completed, failed, dead, cancelled), or are not in the file. */
    endedAmong: (ids: readonly number[]): number[] => endedAmong.values(JSON.stringify(ids)) as number[],
  };
}
