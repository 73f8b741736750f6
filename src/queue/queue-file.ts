/**
 * Opening a queue file: checks that it is a gearshift queue (or creates one), with the settings every
 * connection needs. A file that is not ours is left exactly as it was found.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GearshiftError, QueueFileError } from '../errors.js';
import type { Durability } from './queue-options.js';
import { migrate, queueApplicationId } from './schema.js';
import { openSqlite } from './sqlite/open-sqlite.js';
import { isBusyError, type SqliteConnection } from './sqlite/sqlite-connection.js';

const sqliteHeader = Buffer.from('SQLite format 3\u0000', 'latin1');

/**
 * Opens (creating it if need be, unless `create` is false) a queue file and returns its connection, in
 * WAL mode with a busy timeout.
 *
 * Durability: `'process'` (the default) keeps every committed job through the death of any process
 * (`kill -9` included): WAL with `synchronous = NORMAL` writes each commit to the WAL before returning,
 * and only a power loss can take the last commits. `'power'` (`synchronous = FULL`) syncs the WAL to
 * disk at each commit, which keeps them through a power loss too, at the price of one flush per commit
 * (group commit shares that flush among all the jobs of a commit).
 */
export function openQueueFile(path: string, durability: Durability, create = true): SqliteConnection {
  const file = resolve(path);
  prepareFile(file, create);
  let db: SqliteConnection;
  try {
    db = openSqlite(file);
  } catch (error) {
    if (error instanceof GearshiftError) throw error;
    throw new QueueFileError(file, `cannot be opened: ${(error as Error).message}`, error);
  }
  try {
    // First, before any read: a process creating the same file at this moment holds its lock briefly,
    // and a read that meets that lock must wait, not fail (seen with two runners started together).
    db.exec('PRAGMA busy_timeout = 5000');
    // Read-only checks first, so that a foreign database is not even switched to WAL.
    refuseForeign(db, file);
    switchToWal(db);
    db.exec(`PRAGMA synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
    migrate(db, file);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof QueueFileError) throw error;
    throw new QueueFileError(file, `cannot be used: ${(error as Error).message}`, error);
  }
}

/**
 * Refuses a SQLite database that is not a gearshift queue: one with another application id, or with
 * tables but no id. Both are read in one read transaction: read one after the other, a process that
 * creates the schema in between would make a new queue look like a foreign database with tables.
 */
function refuseForeign(db: SqliteConnection, file: string): void {
  const { applicationId, tables } = db.transaction(
    () => ({
      applicationId: db.prepare('PRAGMA application_id').value() as number,
      tables: db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .values() as string[],
    }),
    'deferred',
  );
  if (applicationId === queueApplicationId || (applicationId === 0 && tables.length === 0)) return;
  const what =
    tables.length > 0 ? `its tables: ${tables.slice(0, 5).join(', ')}` : `application_id ${applicationId}`;
  throw new QueueFileError(file, `is a SQLite database of something else (${what}); it was not changed`);
}

/**
 * Puts the file in WAL mode (a setting kept in the file). The switch needs the file to itself for a
 * moment and SQLite does not wait for that (no busy handler): when another process opens the same new
 * file at the same time, it is tried again for up to 5 s, unless that process has done it meanwhile.
 */
function switchToWal(db: SqliteConnection): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      if (db.prepare('PRAGMA journal_mode = WAL').value() === 'wal') return;
    } catch (error) {
      if (!isBusyError(error) || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error('could not switch to WAL mode within 5 s');
    // A synchronous pause (the open is synchronous): 10 ms.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/**
 * Makes sure the file exists with mode 0600 (SQLite gives its WAL and shared-memory files the mode of
 * the database), in a directory made with mode 0700, and that an existing file is a SQLite database.
 * With `create` false a missing file is an error, and nothing is made.
 */
function prepareFile(file: string, create: boolean): void {
  const directory = dirname(file);
  if (!create && !existsSync(file)) {
    throw new QueueFileError(file, 'does not exist (check the path: nothing was created)');
  }
  makeDirectory(file, directory);
  let descriptor: number;
  try {
    descriptor = openSync(file, constants.O_RDWR | (create ? constants.O_CREAT : 0), 0o600);
  } catch (error) {
    throw new QueueFileError(
      file,
      `cannot be opened for writing: ${describeFsError(error, directory)}`,
      error,
    );
  }
  try {
    checkMode(file, fstatSync(descriptor).mode);
    const header = Buffer.alloc(sqliteHeader.length);
    const read = readSync(descriptor, header, 0, header.length, 0);
    if (read > 0 && !(read === header.length && header.equals(sqliteHeader))) {
      const size = statSync(file).size;
      throw new QueueFileError(
        file,
        `is not a SQLite database (${size} bytes of something else); it was not changed`,
      );
    }
  } finally {
    closeSync(descriptor);
  }
}

/** Files already warned about in this process (a file is opened by each client, worker and command). */
const warnedModes = new Set<string>();

/**
 * A queue file holds every job's input and result, and what is in it runs on the workers: one that any
 * user of the host may write is refused (anyone could add jobs that the workers run); one that its group
 * or other users may read, or its group write, is used, with a warning once per process (a group shared
 * on purpose, between an app's user and its workers', is a setup people choose). gearshift makes its
 * files 0600; this is for files made otherwise.
 */
function checkMode(file: string, mode: number): void {
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  if (mode & 0o002) {
    throw new QueueFileError(
      file,
      `is writable by every user of this host (mode ${octal}): anyone could add jobs that its workers run; it was not used (chmod 600 it)`,
    );
  }
  if (mode & 0o077 && !warnedModes.has(file)) {
    warnedModes.add(file);
    const who = mode & 0o070 ? (mode & 0o007 ? 'its group and other users' : 'its group') : 'other users';
    process.emitWarning(
      `Queue file ${file} is open to ${who} (mode ${octal}): jobs' inputs and results are in it, and a writer can add jobs; chmod 600 it unless that is meant`,
      'GearshiftWarning',
    );
  }
}

/**
 * Makes the file's directory and the missing ones above it (mode 0700), one level at a time: Node's own
 * recursive mkdir loops forever under a file system that refuses new entries (seen under /proc).
 */
function makeDirectory(file: string, directory: string): void {
  const missing: string[] = [];
  for (let at = directory; !existsSync(at); at = dirname(at)) {
    if (dirname(at) === at) break;
    missing.unshift(at);
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new QueueFileError(
        file,
        `cannot be created: its directory ${level} cannot be made: ${describeFsError(error, dirname(level))}`,
        error,
      );
    }
  }
}

/** What a file system error means for a queue file in `directory`, in words, with its code. */
function describeFsError(error: unknown, directory: string): string {
  const { code = 'error', message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}): check the rights on ${directory}`;
    case 'ENOENT':
      return `${directory} takes no new files (ENOENT): it is a virtual file system, such as /proc or /sys`;
    case 'EROFS':
      return `the file system of ${directory} is read-only (EROFS)`;
    case 'ENOTDIR':
      return `a part of the path is a file, not a directory (ENOTDIR)`;
    case 'EISDIR':
      return 'it is a directory (EISDIR): give the path of a file in it';
    case 'ENOSPC':
      return `no space left on the device of ${directory} (ENOSPC)`;
    default:
      return `${code}: ${message}`;
  }
}
