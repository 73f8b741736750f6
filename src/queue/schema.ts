/**
 * The queue file's schema and its migrations. The file says what it is with `PRAGMA application_id` and
 * which schema it has with `PRAGMA user_version`; a migration runs once, in a write transaction, by
 * whichever process opens the file first.
 */
import { QueueFileError } from '../errors.js';
import type { SqliteConnection } from './sqlite/sqlite-connection.js';
import { flowWaitingAt, State } from './stored-codes.js';

/** 'gsft': marks a SQLite file as a gearshift queue. */
export const queueApplicationId = 0x67736674;

/** Now, in milliseconds since the epoch, as SQLite computes it (in the triggers, where no parameter goes). */
const sqlNowMs = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/**
 * A step of the schema: SQL, or code for a step that must read the file's own schema first. Each runs
 * inside the one transaction that takes a file from its version to this gearshift's.
 */
type Migration = string | ((db: SqliteConnection) => void);

const migrations: readonly Migration[] = [
  // 1: jobs, the events of foreground jobs, and the runners working on the file.
  `CREATE TABLE queue_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   INSERT INTO queue_info (key, value) VALUES ('queue_id', lower(hex(randomblob(4))));

   CREATE TABLE jobs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     function TEXT NOT NULL,
     -- JSON as TEXT, bytes as BLOB, no input as NULL: BLOB affinity stores each as it is.
     input BLOB,
     unique_key TEXT,
     priority INTEGER NOT NULL,
     state INTEGER NOT NULL,
     foreground INTEGER NOT NULL,
     run_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     backoff INTEGER NOT NULL,
     lease_owner TEXT,
     lease_token INTEGER,
     lease_until INTEGER,
     cancel_requested INTEGER NOT NULL DEFAULT 0,
     numerator REAL NOT NULL DEFAULT 0,
     denominator REAL NOT NULL DEFAULT 0,
     result BLOB,
     error TEXT,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER
   );
   CREATE INDEX jobs_ready ON jobs (priority, run_at, id) WHERE state = ${State.queued};
   CREATE UNIQUE INDEX jobs_unique ON jobs (function, unique_key) WHERE unique_key IS NOT NULL AND state IN (${State.queued}, ${State.running});
   CREATE INDEX jobs_leased ON jobs (lease_owner) WHERE state = ${State.running};
   CREATE INDEX jobs_lease_expiry ON jobs (lease_until) WHERE state = ${State.running};
   CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE state >= ${State.completed};

   CREATE TABLE job_events (
     job_id INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     body BLOB,
     PRIMARY KEY (job_id, seq)
   ) WITHOUT ROWID;

   CREATE TABLE runners (
     id TEXT PRIMARY KEY,
     pid INTEGER NOT NULL,
     host TEXT NOT NULL,
     functions TEXT NOT NULL,
     threads INTEGER NOT NULL,
     lease_ms INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     heartbeat_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 2: a runner says which host and process it is (so that a runner of the same host takes back a dead
  // one's jobs at once) and how often it beats; a job keeps its handler's last checkpoint.
  `ALTER TABLE runners ADD COLUMN host_key TEXT NOT NULL DEFAULT '';
   ALTER TABLE runners ADD COLUMN start_time TEXT NOT NULL DEFAULT '';
   ALTER TABLE runners ADD COLUMN heartbeat_ms INTEGER NOT NULL DEFAULT 10000;
   CREATE INDEX runners_host ON runners (host_key);
   ALTER TABLE jobs ADD COLUMN checkpoint BLOB;`,
  // 3: job control and the console. A cancelled job ends in state 5 (the finished states' index covers
  // it). A paused function has a row in function_flags. function_totals keeps, per function, the jobs
  // that left the file (pruned, removed, purged) or left an end (retried) in each end state, so that
  // totals since the file began survive retention. The queued and finished jobs' indexes carry the
  // function, so that a large file's counts per function are read from them alone: a separate index on
  // (function, state) would cost every write (measured: a drain 28% slower), these cost none measurable.
  `CREATE TABLE function_flags (function TEXT PRIMARY KEY, paused_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE function_totals (
     function TEXT NOT NULL, state INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (function, state)
   ) WITHOUT ROWID;
   DROP INDEX jobs_ready;
   CREATE INDEX jobs_ready ON jobs (priority, run_at, id, function) WHERE state = ${State.queued};
   DROP INDEX jobs_finished;
   CREATE INDEX jobs_finished ON jobs (state, function, finished_at) WHERE state >= ${State.completed};`,
  // 4: the jobs per function and state, kept as they change (sql/function-counts.ts): counted from the
  // indexes, a backlog of 550,000 jobs took over 100 ms for each look at it. Filled once from the jobs.
  // (The indexes keep the function: pages of one function's jobs, and the claim's filter, read it there.)
  // And the trace a job was submitted in (a W3C traceparent), which its runs continue.
  `CREATE TABLE function_counts (
     function TEXT NOT NULL, state INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (function, state)
   ) WITHOUT ROWID;
   INSERT INTO function_counts (function, state, count) SELECT function, state, count(*) FROM jobs GROUP BY function, state;
   ALTER TABLE jobs ADD COLUMN trace TEXT;`,
  // 5: schedules (sql/schedules.ts). A schedule is a row, not a runner's timer: whichever runner ticks
  // first enqueues a slot's job and moves next_at past it in one transaction, so each slot is enqueued
  // once however many runners share the file. catch_up: how many of the due slots a tick enqueues (0:
  // only one that is on time). target: null for the file's own jobs, 'gearman' for a scheduler process
  // to submit to job servers, through schedule_sends: a slot claimed there in the same transaction, and
  // deleted once gearmand accepted its job (a claim left by a scheduler that died is taken over).
  `CREATE TABLE schedules (
     id TEXT PRIMARY KEY, function TEXT NOT NULL, input,
     cron TEXT, tz TEXT, every_ms INTEGER, catch_up INTEGER NOT NULL,
     priority INTEGER NOT NULL, max_attempts INTEGER NOT NULL, backoff INTEGER NOT NULL, target TEXT,
     next_at INTEGER, last_slot INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
   );
   CREATE INDEX schedules_due ON schedules (next_at) WHERE next_at IS NOT NULL;
   CREATE TABLE schedule_sends (
     schedule_id TEXT NOT NULL, slot INTEGER NOT NULL, function TEXT NOT NULL, input,
     priority INTEGER NOT NULL, claimed_by TEXT NOT NULL, claimed_at INTEGER NOT NULL,
     PRIMARY KEY (schedule_id, slot)
   );`,
  // 6: limits (sql/claim-limited.ts). limit_key: the group a limited job was claimed in (the value at its
  // function's key), so that the jobs running per group are counted from an index; limit_starts: one row
  // per claim (attempt) of a rate-limited job, its `at` filled when the job's handler began, kept for its
  // window. Without a rowid and with no other index: a start costs one B-tree entry, written three times.
  `ALTER TABLE jobs ADD COLUMN limit_key TEXT;
   CREATE INDEX jobs_limit_running ON jobs (function, limit_key) WHERE state = ${State.running} AND limit_key IS NOT NULL;
   CREATE TABLE limit_starts (
     function TEXT NOT NULL, limit_key TEXT NOT NULL, job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, at INTEGER,
     PRIMARY KEY (function, limit_key, job_id, attempt)
   ) WITHOUT ROWID;`,
  // 7: flows (sql/flows.ts). A flow's continuation waits as a queued job whose run_at is out of reach
  // (flowWaitingAt) with flow_left counting its children not yet ended; its children point to it with
  // parent_id. Triggers keep the count, in whatever statement ends, reopens or deletes a child (a
  // settle, a reap, a cancel, a retry, a removal), so the continuation is released in the same
  // transaction that ends its last child, whichever way it ends.
  `ALTER TABLE jobs ADD COLUMN parent_id INTEGER;
   ALTER TABLE jobs ADD COLUMN flow_left INTEGER;
   CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
   CREATE TRIGGER flow_child_ended AFTER UPDATE OF state ON jobs
     WHEN NEW.parent_id IS NOT NULL AND OLD.state < ${State.completed} AND NEW.state >= ${State.completed}
   BEGIN
     UPDATE jobs SET flow_left = flow_left - 1,
       run_at = CASE WHEN flow_left = 1 THEN ${sqlNowMs} ELSE run_at END
     WHERE id = NEW.parent_id AND state = ${State.queued} AND flow_left > 0;
   END;
   CREATE TRIGGER flow_child_reopened AFTER UPDATE OF state ON jobs
     WHEN NEW.parent_id IS NOT NULL AND OLD.state >= ${State.completed} AND NEW.state < ${State.completed}
   BEGIN
     UPDATE jobs SET flow_left = flow_left + 1, run_at = ${flowWaitingAt}
     WHERE id = NEW.parent_id AND state = ${State.queued} AND flow_left IS NOT NULL;
     -- A child run again once its continuation has gone on (running, or ended) is no longer the flow's.
     UPDATE jobs SET parent_id = NULL WHERE id = NEW.id AND NOT EXISTS (
       SELECT 1 FROM jobs parent WHERE parent.id = NEW.parent_id AND parent.state = ${State.queued}
         AND parent.flow_left IS NOT NULL);
   END;
   CREATE TRIGGER flow_child_removed AFTER DELETE ON jobs
     WHEN OLD.parent_id IS NOT NULL AND OLD.state < ${State.completed}
   BEGIN
     UPDATE jobs SET flow_left = flow_left - 1,
       run_at = CASE WHEN flow_left = 1 THEN ${sqlNowMs} ELSE run_at END
     WHERE id = OLD.parent_id AND state = ${State.queued} AND flow_left > 0;
   END;`,
  // 8: a rate-limited claim's start is named by the claim's lease token, not by the attempt: a job
  // given back unstarted (its runner closing, or a crash it did not cause) runs the same attempt again,
  // and both claims count. Starts left unwritten by schema 7 count as beginning now. limit_groups: how
  // many starts each group holds in limit_starts, so that a claim far from a group's quota need not
  // count them.
  `ALTER TABLE limit_starts RENAME COLUMN attempt TO lease;
   UPDATE limit_starts SET at = ${sqlNowMs} WHERE at IS NULL;
   CREATE TABLE limit_groups (
     function TEXT NOT NULL, limit_key TEXT NOT NULL, starts INTEGER NOT NULL,
     PRIMARY KEY (function, limit_key)
   ) WITHOUT ROWID;
   INSERT INTO limit_groups SELECT function, limit_key, count(*) FROM limit_starts GROUP BY function, limit_key;`,
  // 9: limit_starts holds a claim's starts per group in a few rows, not a row per job (sql/claim-limited.ts):
  // part 0, undated until its jobs have begun, and a dated part per write that dated some of them; owner
  // is the claiming runner, whose running jobs a sweep looks at. A claim's rows of schema 8 become part 0,
  // undated if any of them was (a sweep dates it at once: owner '' runs nothing); the counts are unchanged.
  `ALTER TABLE limit_starts RENAME TO limit_starts_8;
   CREATE TABLE limit_starts (
     function TEXT NOT NULL, limit_key TEXT NOT NULL, lease INTEGER NOT NULL, part INTEGER NOT NULL,
     owner TEXT NOT NULL, starts INTEGER NOT NULL, at INTEGER,
     PRIMARY KEY (function, limit_key, lease, part)
   ) WITHOUT ROWID;
   INSERT INTO limit_starts
     SELECT function, limit_key, lease, 0, '', count(*), CASE WHEN count(at) = count(*) THEN max(at) END
     FROM limit_starts_8 GROUP BY function, limit_key, lease;
   DROP TABLE limit_starts_8;`,
  // 10: jobs without AUTOINCREMENT, which wrote a row of sqlite_sequence, a page of its own, in every
  // commit that added a job (a tenth of a single enqueue's time). A job's id must still never be used
  // again, since handles name jobs by id: an insert takes the larger of the largest id and the largest
  // id ever deleted, plus one (insert-jobs.ts), and the trigger keeps the latter, written only when the
  // job with the largest id is deleted.
  (db) => {
    const table = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'jobs'").value();
    const dependents = db
      .prepare(
        "SELECT sql FROM sqlite_schema WHERE tbl_name = 'jobs' AND type IN ('index', 'trigger') AND sql NOT NULL",
      )
      .values() as string[];
    const rebuilt = (table as string)
      .replace(/^CREATE TABLE "?jobs"?/, 'CREATE TABLE jobs_10')
      .replace('id INTEGER PRIMARY KEY AUTOINCREMENT', 'id INTEGER PRIMARY KEY');
    db.exec(`${rebuilt};
      INSERT INTO jobs_10 SELECT * FROM jobs;
      INSERT INTO queue_info (key, value)
        SELECT 'deleted_id', coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0) WHERE true
        ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER));
      DROP TABLE jobs;
      ALTER TABLE jobs_10 RENAME TO jobs;`);
    for (const sql of dependents) db.exec(sql);
    db.exec(`CREATE TRIGGER IF NOT EXISTS jobs_deleted_id AFTER DELETE ON jobs
      WHEN OLD.id > (SELECT coalesce(max(id), 0) FROM jobs)
      BEGIN
        UPDATE queue_info SET value = OLD.id WHERE key = 'deleted_id' AND CAST(value AS INTEGER) < OLD.id;
      END;`);
  },
  // 11: a job added is counted later (sql/function-counts.ts): the jobs with an id above counted_id are
  // counted by the readers. Every job is counted now.
  `INSERT INTO queue_info (key, value) SELECT 'counted_id', coalesce(max(id), 0) FROM jobs WHERE true
     ON CONFLICT (key) DO UPDATE SET value = excluded.value;`,
];

/** The schema version this gearshift writes. */
export const schemaVersion = migrations.length;

/** Brings the file's schema up to date, or refuses a file from a newer gearshift. */
export function migrate(db: SqliteConnection, file: string): void {
  const current = () => db.prepare('PRAGMA user_version').value() as number;
  const tooNew = (version: number) =>
    new QueueFileError(
      file,
      `has schema ${version}, newer than this gearshift knows (${schemaVersion}); it was not changed`,
    );
  const found = current();
  if (found > schemaVersion) throw tooNew(found);
  if (found === schemaVersion) return;
  db.transaction(() => {
    // Read again inside the write lock: another process may have migrated meanwhile.
    const version = current();
    if (version > schemaVersion) throw tooNew(version);
    for (const migration of migrations.slice(version)) {
      if (typeof migration === 'string') db.exec(migration);
      else migration(db);
    }
    db.exec(`PRAGMA application_id = ${queueApplicationId}`);
    db.exec(`PRAGMA user_version = ${schemaVersion}`);
  }, 'immediate');
}
