/**
 * Which SQLite driver the queue uses, and opening a file with it. One driver per process: two copies of
 * SQLite in one process must not open the same file (their POSIX locks would cancel each other out).
 *
 * `node:sqlite` where this Node has it (22.13+): nothing to compile, nothing to allow at install, and as
 * fast as better-sqlite3 on the queue's work (`npm run bench:queue` measures both). better-sqlite3
 * elsewhere (Node 20). `GEARSHIFT_SQLITE=better-sqlite3` (or `node:sqlite`) chooses for the process.
 */
import { InvalidOptionError } from '../../errors.js';
import { openWithBetterSqlite3 } from './better-sqlite3-driver.js';
import { nodeSqlite, openWithNodeSqlite } from './node-sqlite-driver.js';
import type { SqliteConnection, SqliteDriverName } from './sqlite-connection.js';

const driverNames: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3'];

/** The driver this process uses for queue files: the GEARSHIFT_SQLITE choice, or the best available. */
export function sqliteDriver(): SqliteDriverName {
  const chosen = process.env.GEARSHIFT_SQLITE;
  if (chosen !== undefined && chosen !== '') {
    if (!driverNames.includes(chosen as SqliteDriverName)) {
      throw new InvalidOptionError('GEARSHIFT_SQLITE', "'node:sqlite' or 'better-sqlite3'", chosen);
    }
    return chosen as SqliteDriverName;
  }
  return nodeSqlite() ? 'node:sqlite' : 'better-sqlite3';
}

/** Opens an existing database file with this process's driver. */
export function openSqlite(file: string): SqliteConnection {
  if (sqliteDriver() === 'better-sqlite3') return openWithBetterSqlite3(file);
  const module = nodeSqlite();
  if (!module) {
    throw new InvalidOptionError(
      'GEARSHIFT_SQLITE',
      `a driver this Node has: node:sqlite needs Node 22.13 or later, this is ${process.version}`,
      process.env.GEARSHIFT_SQLITE,
    );
  }
  return openWithNodeSqlite(module, file);
}
