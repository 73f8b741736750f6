/**
 * Opening a queue file (or any SQLite file) from a test with the same SQLite driver as the library in
 * this process: two copies of SQLite in one process must not open the same file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { prepareFunctionCounts } from '../../src/queue/sql/function-counts.js';
import { openSqlite } from '../../src/queue/sqlite/open-sqlite.js';
import type { SqliteConnection, SqlValue } from '../../src/queue/sqlite/sqlite-connection.js';

export function openDatabase(path: string): SqliteConnection {
  return openSqlite(path);
}

/** One value: the first column of the first row of `sql`, on a connection opened for it. */
export function queryValue(path: string, sql: string, ...parameters: SqlValue[]): SqlValue | undefined {
  const db = openSqlite(path);
  try {
    return db.prepare(sql).value(...parameters);
  } finally {
    db.close();
  }
}

/** Whether a file is a queue file: SQLite, with the jobs' counts. */
export function isQueueFile(path: string): boolean {
  const header = Buffer.alloc(16);
  const file = openSync(path, 'r');
  readSync(file, header, 0, 16, 0);
  closeSync(file);
  if (header.toString('latin1') !== 'SQLite format 3\0') return false;
  return queryValue(path, "SELECT count(*) FROM sqlite_master WHERE name = 'function_counts'") === 1;
}

/**
 * A queue file's jobs per function and state twice: as the file's counts tell them (function_counts,
 * which every write of jobs updates, and the jobs added since, as the product's reader adds them) and as
 * its rows count them, read in one snapshot. Equal, unless a write forgot to report what it changed.
 */
export function jobCounts(path: string): { kept: string[]; counted: string[] } {
  const db = openSqlite(path);
  const lines = (sql: string) =>
    (db.prepare(sql).all() as { fn: string; state: number; count: number }[]).map(
      ({ fn, state, count }) => `${fn} ${state}: ${count}`,
    );
  try {
    return db.transaction(
      () => ({
        kept: prepareFunctionCounts(db)
          .all()
          .map(({ functionName, state, count }) => `${functionName} ${state}: ${count}`),
        counted: lines(
          'SELECT function AS fn, state, count(*) AS count FROM jobs GROUP BY 1, 2 ORDER BY 1, 2',
        ),
      }),
      'deferred',
    );
  } finally {
    db.close();
  }
}
