/** The runners working on a file: what they run, and whether they are alive (a heartbeat). */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/** A runner as registered. */
export interface RunnerRow {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  /** The functions it runs, as a JSON array. */
  readonly functions: string;
  readonly threads: number;
  /** Its lease: it is alive while its heartbeat is younger than three of them. */
  readonly leaseMs: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
}

export function prepareRunners(db: SqliteConnection) {
  const register = db.prepare(
    `INSERT OR REPLACE INTO runners (id, pid, host, functions, threads, lease_ms, started_at, heartbeat_at)
     VALUES (:id, :pid, :host, :functions, :threads, :leaseMs, :startedAt, :heartbeatAt)`,
  );
  const heartbeat = db.prepare('UPDATE runners SET heartbeat_at = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM runners WHERE id = ?');
  const prune = db.prepare('DELETE FROM runners WHERE heartbeat_at < ? - 3 * lease_ms');
  const alive = db.prepare(
    `SELECT id, pid, host, functions, threads, lease_ms AS leaseMs, started_at AS startedAt, heartbeat_at AS heartbeatAt
     FROM runners WHERE heartbeat_at >= ? - 3 * lease_ms ORDER BY started_at`,
  );
  return {
    register: (runner: RunnerRow): void => {
      register.run(runner);
    },
    heartbeat: (id: string, at: number): void => {
      heartbeat.run(at, id);
    },
    remove: (id: string): void => {
      remove.run(id);
    },
    /** Forgets runners silent for three of their leases (their jobs come back as their leases expire). */
    prune: (now: number): number => prune.run(now).changes,
    /** The runners heard from within three of their leases. */
    alive: (now: number): RunnerRow[] => alive.all(now) as RunnerRow[],
  };
}
