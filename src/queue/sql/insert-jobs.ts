/** Adding jobs, with gearmand's rule for `unique`: a job already queued or running is returned instead. */

import type { SqliteConnection, SqliteStatement, SqlValue } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import type { InsertCounts } from './function-counts.js';
import { inSavepoint } from './savepoint.js';

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

export function prepareInsertJobs(db: SqliteConnection, counts: InsertCounts) {
  const findUnique = db.prepare(
    `SELECT id FROM jobs WHERE function = ? AND unique_key = ? AND state IN (${State.queued}, ${State.running})`,
  );
  /**
   * The largest id ever used, kept or deleted (schema.ts, 10): new jobs take the ids after it, so that no
   * handle names two jobs. Read once per call, in the caller's write transaction, which no other writer
   * can enter: the ids after it are this call's. And the id through which the counts count jobs.
   */
  const lastIds = db.prepare(
    `SELECT max(coalesce((SELECT max(id) FROM jobs), 0),
       coalesce((SELECT CAST(value AS INTEGER) FROM queue_info WHERE key = 'deleted_id'), 0)) AS last,
       (SELECT CAST(value AS INTEGER) FROM queue_info WHERE key = 'counted_id') AS counted`,
  );
  const columns = `id, function, input, unique_key, priority, state, foreground, run_at, max_attempts, backoff,
    created_at, trace, parent_id, flow_left`;
  const row = `(?, ?, ?, ?, ?, ${State.queued}, ?, ?, ?, ?, ?, ?, ?, ?)`;
  const insert = db.prepare(`INSERT INTO jobs (${columns}) VALUES ${row}`);
  /**
   * Jobs without a unique are written a chunk of rows per statement: a statement's run costs about as
   * much again as the row it writes, so 50,000 rows took 40% longer one per statement (scratch measure
   * on this schema, better-sqlite3). Prepared on the first call that fills a chunk.
   */
  let insertChunk: SqliteStatement | undefined;
  /**
   * A chunk whose rows differ only in their input (one function, the same options, ids in a row: a bulk
   * call's usual chunk) binds each shared value once, not once per row: 50,000 rows in 45 ms against 80
   * (scratch measure, better-sqlite3, medians of five). Positional parameters: node:sqlite binds named
   * ones slower than it saves.
   */
  let insertUniform: SqliteStatement | undefined;
  const uniformSql = `INSERT INTO jobs (${columns})
    SELECT s.id + v.column1, s.function, v.column2, NULL, s.priority, ${State.queued}, s.foreground, s.run_at,
      s.max_attempts, s.backoff, s.created_at, s.trace, s.parent_id, s.flow_left
    FROM (SELECT ? AS id, ? AS function, ? AS priority, ? AS foreground, ? AS run_at, ? AS max_attempts,
      ? AS backoff, ? AS created_at, ? AS trace, ? AS parent_id, ? AS flow_left) s,
    (VALUES ${Array.from({ length: chunkRows }, (_, k) => `(${k}, ?)`)}) v`;
  /** Writes a whole chunk of gathered rows. */
  const writeChunk = (values: readonly SqlValue[]) => {
    if (isUniform(values)) {
      insertUniform ??= db.prepare(uniformSql);
      const shared = [values[0], values[1], ...values.slice(4, rowValues)] as SqlValue[];
      for (let k = 0; k < chunkRows; k++) shared.push(values[k * rowValues + 2] as SqlValue);
      insertUniform.run(...shared);
      return;
    }
    insertChunk ??= db.prepare(`INSERT INTO jobs (${columns}) VALUES ${Array(chunkRows).fill(row)}`);
    insertChunk.run(...values);
  };
  const insertAll = (jobs: readonly NewJob[], now: number): number[] => {
    const { last, counted } = lastIds.get() as { last: number; counted: number };
    // Most calls leave their jobs to the readers to count, and write no count (function-counts.ts).
    const counting = counts.insertCounts(last, counted, jobs.length);
    let id = last;
    const ids: number[] = [];
    /** The function of each job added (not joined), to count. */
    const added: string[] = [];
    /** The values of the rows gathered for the next chunk. */
    const pending: SqlValue[] = [];
    for (const job of jobs) {
      if (job.unique === null) {
        pushRow(pending, ++id, job, now);
        if (pending.length === chunkRows * rowValues) {
          writeChunk(pending);
          pending.length = 0;
        }
      } else {
        // Written at once, so that a later job of this call with the same unique joins it. The ids are
        // given here, so the order of the writes does not change them.
        const existing = findUnique.value(job.functionName, job.unique) as number | undefined;
        if (existing !== undefined) {
          ids.push(existing);
          continue;
        }
        const values: SqlValue[] = [];
        pushRow(values, ++id, job, now);
        insert.run(...values);
      }
      ids.push(id);
      added.push(job.functionName);
    }
    // Fewer than a chunk are left: one statement each.
    for (let at = 0; at < pending.length; at += rowValues) insert.run(...pending.slice(at, at + rowValues));
    // Counted once every row is written: a statement that throws leaves no count behind.
    if (counting) {
      for (const functionName of added) counts.added(functionName);
      counts.countedThrough(id);
    }
    return ids;
  };
  /**
   * Adds the jobs (inside the caller's transaction); returns each one's id, an existing one's for a
   * unique match. All or none: a call of many jobs runs under a savepoint, since the transaction it
   * shares commits the other writes of its batch when this one fails.
   */
  return (jobs: readonly NewJob[], now: number): number[] =>
    jobs.length === 1 ? insertAll(jobs, now) : inSavepoint(db, () => insertAll(jobs, now), counts.snapshot());
}

/** Rows per statement of a bulk insert: 832 parameters, within every SQLite build's limit of 999 and up. */
const chunkRows = 64;
/** Parameters per row. */
const rowValues = 13;

/** Whether a chunk's rows have ids in a row and differ in nothing but their input (a row's third value). */
function isUniform(values: readonly SqlValue[]): boolean {
  const first = values[0] as number;
  for (let k = 1; k < chunkRows; k++) {
    const at = k * rowValues;
    if (values[at] !== first + k) return false;
    for (let column = 1; column < rowValues; column++)
      if (column !== 2 && values[at + column] !== values[column]) return false;
  }
  return true;
}

/** Appends one job's row, in the order of the insert's columns. */
function pushRow(values: SqlValue[], id: number, job: NewJob, now: number): void {
  values.push(
    id,
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
}
