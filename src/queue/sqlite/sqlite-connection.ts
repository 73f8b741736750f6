/**
 * The slice of SQLite the queue uses, the same over either driver: Node's built-in `node:sqlite` (Node
 * 22.13+) or the better-sqlite3 package. Both are synchronous bindings of the same C library, so the
 * SQL, the locking and the file are the same; only their JavaScript differs, and it differs here only.
 */

/** A value as SQLite stores it. A BLOB comes back as a Uint8Array (a Buffer with better-sqlite3). */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** Parameters of a statement: positional values, or one object of named ones (`:name` in the SQL). */
export type SqlParameters = SqlValue[] | [named: object];

/** What a write statement did. */
export interface RunResult {
  /** Rows changed (a number: neither driver is set to return BigInts). */
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A prepared statement. Rows are objects keyed by column name. */
export interface SqliteStatement {
  run(...parameters: SqlParameters): RunResult;
  get(...parameters: SqlParameters): unknown;
  all(...parameters: SqlParameters): unknown[];
  /** The first column of the first row, or undefined when there is no row. */
  value(...parameters: SqlParameters): SqlValue | undefined;
  /** The first column of every row. */
  values(...parameters: SqlParameters): SqlValue[];
}

/** The drivers the queue can use. */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

/** An open connection to one database file. */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  readonly file: string;
  prepare(sql: string): SqliteStatement;
  /** Runs statements that return nothing (DDL, PRAGMA settings). */
  exec(sql: string): void;
  /**
   * Runs `work` in a transaction and commits it; rolls back and rethrows if `work` throws. `immediate`
   * takes the write lock at once (every write of the queue does, so that it waits for the lock at BEGIN
   * rather than failing at its first write); `deferred` is for reads that must see one snapshot.
   */
  transaction<T>(work: () => T, kind: 'immediate' | 'deferred'): T;
  close(): void;
}

/** Whether an error is SQLite's SQLITE_BUSY (another connection holds a lock), from either driver. */
export function isBusyError(error: unknown): boolean {
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // better-sqlite3 names the code; node:sqlite gives the number (extended codes keep 5 in the low byte).
  return (
    (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) ||
    (typeof errcode === 'number' && (errcode & 0xff) === 5)
  );
}

/** What both drivers' prepared statements have in common. */
export interface DriverStatement {
  run(...parameters: SqlParameters): RunResult;
  get(...parameters: SqlParameters): unknown;
  all(...parameters: SqlParameters): unknown[];
}

/**
 * The transactions of a connection, by statements prepared once: BEGIN, COMMIT and ROLLBACK run as
 * prepared statements cost a fraction of a wrapper built per transaction (better-sqlite3's
 * `db.transaction(work)` took 7 us of a 39 us single insert) or of SQL parsed each time.
 */
export function preparedTransactions(
  prepare: (sql: string) => DriverStatement,
): SqliteConnection['transaction'] {
  const begin = { immediate: prepare('BEGIN IMMEDIATE'), deferred: prepare('BEGIN DEFERRED') };
  const commit = prepare('COMMIT');
  const rollback = prepare('ROLLBACK');
  return (work, kind) => {
    begin[kind].run();
    try {
      const result = work();
      commit.run();
      return result;
    } catch (error) {
      try {
        rollback.run();
      } catch {
        // SQLite already rolled back (some errors end the transaction themselves): nothing is left open.
      }
      throw error;
    }
  };
}

/** A driver's prepared statement as the queue's {@link SqliteStatement}. */
export function wrapStatement(prepared: DriverStatement): SqliteStatement {
  return {
    run: (...parameters) => prepared.run(...parameters),
    get: (...parameters) => prepared.get(...parameters),
    all: (...parameters) => prepared.all(...parameters),
    value: (...parameters) => firstColumn(prepared.get(...parameters)),
    values: (...parameters) => prepared.all(...parameters).map(firstColumn) as SqlValue[],
  };
}

/** The first column of a row object. */
function firstColumn(row: unknown): SqlValue | undefined {
  if (row === undefined || row === null) return undefined;
  for (const key in row as Record<string, SqlValue>) return (row as Record<string, SqlValue>)[key];
  return undefined;
}
