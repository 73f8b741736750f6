/**
 * The queue's connection over Node's built-in `node:sqlite` (Node 22.13+ without a flag; no native
 * addon to build). Loaded on first use only.
 */
import { createRequire } from 'node:module';
import {
  type DriverStatement,
  preparedTransactions,
  type SqliteConnection,
  wrapStatement,
} from './sqlite-connection.js';

/** The slice of `node:sqlite` used here (its types are not in @types/node 20). */
interface NodeDatabase {
  exec(sql: string): void;
  prepare(sql: string): DriverStatement;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (
    path: string,
    options: { enableForeignKeyConstraints: boolean; enableDoubleQuotedStringLiterals: boolean },
  ) => NodeDatabase;
}

let loaded: NodeSqliteModule | null | undefined;

/** `node:sqlite`, or null where this Node has none (Node 20, or 22 before 22.13 without its flag). */
export function nodeSqlite(): NodeSqliteModule | null {
  if (loaded !== undefined) return loaded;
  // Node 22 marks the module experimental and says so on stderr once per process; the queue's use of it
  // is covered by this package's tests on that version, so the warning would only alarm its users.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    loaded = createRequire(import.meta.url)('node:sqlite') as NodeSqliteModule;
  } catch {
    loaded = null;
  } finally {
    process.emitWarning = emitWarning;
  }
  return loaded;
}

/** Opens a database file with `node:sqlite`, set like better-sqlite3's defaults. */
export function openWithNodeSqlite(module: NodeSqliteModule, file: string): SqliteConnection {
  const db = new module.DatabaseSync(file, {
    enableForeignKeyConstraints: false,
    enableDoubleQuotedStringLiterals: false,
  });
  return {
    driver: 'node:sqlite',
    file,
    prepare: (sql) => wrapStatement(db.prepare(sql)),
    exec: (sql) => db.exec(sql),
    transaction: preparedTransactions((sql) => db.prepare(sql)),
    close: () => db.close(),
  };
}
