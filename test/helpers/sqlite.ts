/**
 * Opening a queue file (or any SQLite file) from a test with the same SQLite driver as the library in
 * this process: two copies of SQLite in one process must not open the same file.
 */
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
