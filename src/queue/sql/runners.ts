/**
 * The runners working on a file: what they run, which process they are, and whether they are alive. A
 * runner beats every `heartbeatMs`; one silent for three beats is gone (it died on another host, or
 * hangs). On its own host a runner's death is seen at once: its process is gone (local-processes.ts).
 */

import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';

/** A runner as registered. */
export interface RunnerRow {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  /** The host, its boot and PID namespace: runners with the same key can see each other's processes. */
  readonly hostKey: string;
  /** When its process started (see local-processes.ts). */
  readonly startTime: string;
  /** The functions it runs, as a JSON array. */
  readonly functions: string;
  readonly threads: number;
  readonly leaseMs: number;
  /** How often it beats: it is alive while its last beat is younger than three of them. */
  readonly heartbeatMs: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
}

/** How many beats a runner may miss before it is taken for gone. */
export const missedBeats = 3;

const columns = `id, pid, host, host_key AS hostKey, start_time AS startTime, functions, threads, lease_ms AS leaseMs,
  heartbeat_ms AS heartbeatMs, started_at AS startedAt, heartbeat_at AS heartbeatAt`;

export function prepareRunners(db: SqliteConnection) {
  const register = db.prepare(
    `INSERT OR REPLACE INTO runners (id, pid, host, host_key, start_time, functions, threads, lease_ms, heartbeat_ms,
       started_at, heartbeat_at)
     VALUES (:id, :pid, :host, :hostKey, :startTime, :functions, :threads, :leaseMs, :heartbeatMs, :startedAt,
       :heartbeatAt)`,
  );
  const heartbeat = db.prepare('UPDATE runners SET heartbeat_at = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM runners WHERE id = ?');
  const prune = db.prepare(`DELETE FROM runners WHERE heartbeat_at < ? - ${missedBeats} * heartbeat_ms`);
  const alive = db.prepare(
    `SELECT ${columns} FROM runners WHERE heartbeat_at >= ? - ${missedBeats} * heartbeat_ms ORDER BY started_at`,
  );
  const onHost = db.prepare(`SELECT ${columns} FROM runners WHERE host_key = ? AND id != ?`);
  const held = db.prepare(
    `SELECT lease_owner AS id, count(*) AS count FROM jobs INDEXED BY jobs_leased WHERE state = ${State.running} GROUP BY lease_owner`,
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
    /** Forgets runners silent for three beats (their jobs come back as their leases expire). */
    prune: (now: number): number => prune.run(now).changes,
    /** The runners heard from within three beats. */
    alive: (now: number): RunnerRow[] => alive.all(now) as RunnerRow[],
    /** How many running jobs each runner holds, by runner id. */
    held: (): Map<string, number> =>
      new Map((held.all() as { id: string; count: number }[]).map((row) => [row.id, row.count])),
    /** The other runners registered from a host (by its key). */
    onHost: (hostKey: string, except: string): RunnerRow[] => onHost.all(hostKey, except) as RunnerRow[],
  };
}
