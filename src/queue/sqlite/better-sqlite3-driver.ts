/**
 * The queue's connection over the better-sqlite3 package: for Node 20, which has no `node:sqlite`, or
 * where GEARSHIFT_SQLITE asks for it. An optional peer dependency, loaded on first use only, so that a
 * process that never opens a queue file never loads its native addon.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { QueueFileError } from '../../errors.js';
import {
  preparedTransactions,
  type SqliteConnection,
  type SqlParameters,
  wrapStatement,
} from './sqlite-connection.js';

let loaded: typeof BetterSqlite3 | undefined;

/** The better-sqlite3 constructor; a QueueFileError saying what to install when it cannot load. */
function betterSqlite3(file: string): typeof BetterSqlite3 {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('better-sqlite3') as typeof BetterSqlite3;
    return loaded;
  } catch (error) {
    const missing =
      (error as { code?: unknown }).code === 'MODULE_NOT_FOUND' && /'better-sqlite3'/.test(String(error));
    throw new QueueFileError(
      file,
      missing
        ? `needs SQLite, and this Node (${process.version}) has no node:sqlite: use Node 22.13 or later, or install better-sqlite3 and let it build its addon (npm install better-sqlite3; npm 11 skips the build until allowed: npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3)`
        : `needs better-sqlite3's native addon, which did not load (${(error as Error).message}): build it for this Node (npm rebuild better-sqlite3; npm 11 skips the build until allowed: npm install-scripts approve better-sqlite3 first)`,
      error,
    );
  }
}

/** Opens a database file with better-sqlite3. */
export function openWithBetterSqlite3(file: string): SqliteConnection {
  const Database = betterSqlite3(file);
  const db = new Database(file);
  return {
    driver: 'better-sqlite3',
    file,
    prepare: (sql) => wrapStatement(db.prepare<SqlParameters>(sql)),
    exec: (sql) => {
      db.exec(sql);
    },
    transaction: preparedTransactions((sql) => db.prepare<SqlParameters>(sql)),
    close: () => {
      db.close();
    },
  };
}
