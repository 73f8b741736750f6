/**
 * Claiming: jobs whose lease expired go back to the queue (or to their end, after their last attempt),
 * then the best ready jobs of the functions a runner knows, and that are not paused, are leased to it.
 * Priority first, across functions; then the time they became ready; then the order they came in.
 */
import { afterFailureSql } from '../after-failure.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { flowWaitingAt, State } from '../stored-codes.js';
import type { CountChanges } from './function-counts.js';
import type { NewJob } from './insert-jobs.js';

/** A job leased to a runner: what was written, with its id and attempts. */
export interface ClaimedJob extends NewJob {
  readonly id: number;
  /** Counted at claim: this attempt included. */
  readonly attempts: number;
  /** The last checkpoint an earlier attempt wrote (JSON text), or null. */
  readonly checkpoint: string | null;
  /** The group of its function's limit it was claimed in, when its function has one. */
  readonly limitKey: string | null;
  /** A flow's continuation: its children not yet ended (0 when claimed); null for any other job. */
  readonly flowLeft: number | null;
}

/** A job found ready to claim. */
export interface ReadyJob {
  readonly id: number;
  readonly functionName: string;
}

/** What a job whose runner stopped renewing its lease is failed with, as stored. */
const lostRunner = JSON.stringify({
  name: 'WorkerCrashedError',
  message: 'its runner stopped renewing its lease (the runner process died or hung)',
  code: 'ERR_WORKER_CRASHED',
});

/**
 * A running job whose runner is gone goes back to the queue after its backoff, like any failure (the
 * attempt counts: a job that kills its runner every time must end), or ends after its last attempt.
 */
const reapRunning = `${afterFailureSql()},
  error = :error, started_at = NULL, lease_owner = NULL, lease_token = NULL, lease_until = NULL`;

/** What a claim sets on each job it leases (named parameters :owner, :token, :until). */
export const leaseColumns = `state = ${State.running}, attempts = attempts + 1, lease_owner = :owner,
  lease_token = :token, lease_until = :until, numerator = 0, denominator = 0`;

/** What a claim returns of each job it leased, as a {@link ClaimedJob} (but for `foreground`). */
export const claimedColumns = `id, function AS functionName, input, unique_key AS "unique", priority, foreground,
  run_at AS runAt, attempts, max_attempts AS maxAttempts, backoff, checkpoint, trace AS traceparent,
  limit_key AS limitKey, flow_left AS flowLeft`;

/** The rows a claim returned, counted as running and put in the order they should run. */
export function claimedInOrder(returned: unknown[], counts: CountChanges): ClaimedJob[] {
  const rows = returned as (Omit<ClaimedJob, 'foreground'> & { foreground: number })[];
  for (const row of rows) counts.moved(row.functionName, State.queued, State.running);
  // RETURNING gives rows in no particular order; the order they run in is the queue's.
  rows.sort((a, b) => a.priority - b.priority || a.runAt - b.runAt || a.id - b.id);
  return rows.map((row) => ({ ...row, foreground: row.foreground === 1 }));
}

export function prepareClaimJobs(db: SqliteConnection, counts: CountChanges) {
  const reap = db.prepare(
    `UPDATE jobs SET ${reapRunning} WHERE state = ${State.running} AND lease_until < :now
     RETURNING function AS functionName, state`,
  );
  const reapOwner = db.prepare(
    `UPDATE jobs SET ${reapRunning} WHERE state = ${State.running} AND lease_owner = :owner
     RETURNING function AS functionName, state`,
  );
  /** Counts the reaped jobs where they went; how many. */
  const reaped = (rows: unknown[]): number => {
    for (const { functionName, state } of rows as { functionName: string; state: number }[])
      counts.moved(functionName, State.running, state);
    return rows.length;
  };
  // Two statements, not one UPDATE over a subquery: SQLite ran that form in 80 to 130 us even when it
  // found nothing, where the look alone takes 15 to 30 and the lease by ids under 10 (scratch measure, a
  // file of 3,000 jobs); an idle runner's claims, and every job's way from enqueue to start, paid it.
  const ready = db.prepare(
    `SELECT id, function AS functionName FROM jobs
     WHERE state = ${State.queued} AND run_at <= :now AND function IN (SELECT value FROM json_each(:functions))
       AND function NOT IN (SELECT function FROM function_flags)
     ORDER BY priority, run_at, id LIMIT :limit`,
  );
  // Whether any job at all is ready, whatever its function: one probe of the ready jobs' index, without
  // the look's list of functions and filter of paused ones. A runner that ends a job claims in the same
  // transaction, and with nothing queued its look found nothing, in 50 to 60 us on a job's way.
  const anyReady = db.prepare(
    `SELECT EXISTS (SELECT 1 FROM jobs WHERE state = ${State.queued} AND run_at <= :now)`,
  );
  const lease = db.prepare(
    `UPDATE jobs SET ${leaseColumns} WHERE id IN (SELECT value FROM json_each(:ids)) RETURNING ${claimedColumns}`,
  );
  // One job (an idle runner's claim, on the way of every job from enqueue to start) is leased by its id:
  // over a one-element json_each the UPDATE took 175 to 195 us in a scratch loop on a file of 11,200
  // jobs, where two elements took 55 and the same UPDATE by id 27 to 33 (SQLite 3.53.2).
  const leaseOne = db.prepare(`UPDATE jobs SET ${leaseColumns} WHERE id = :id RETURNING ${claimedColumns}`);
  const nextReady = db.prepare(
    `SELECT min(run_at) FROM jobs
     WHERE state = ${State.queued} AND run_at > :now AND run_at < ${flowWaitingAt}
       AND function IN (SELECT value FROM json_each(:functions))
       AND function NOT IN (SELECT function FROM function_flags)`,
  );

  /** The next `limit` ready jobs of these functions, in the order they should run. */
  const look = (functions: string, now: number, limit: number): ReadyJob[] =>
    anyReady.value({ now }) ? (ready.all({ functions, now, limit }) as ReadyJob[]) : [];
  /** Leases these jobs (found ready in this transaction) to `owner` under `token` until `until`. */
  const leaseJobs = (owner: string, token: number, until: number, jobs: readonly ReadyJob[]): ClaimedJob[] =>
    jobs.length === 0
      ? []
      : claimedInOrder(
          jobs.length === 1
            ? leaseOne.all({ owner, token, until, id: (jobs[0] as ReadyJob).id })
            : lease.all({ owner, token, until, ids: JSON.stringify(jobs.map(({ id }) => id)) }),
          counts,
        );

  return {
    /** Returns expired leases to the queue; how many. */
    reapExpired: (now: number): number => reaped(reap.all({ now, error: lostRunner })),
    /** Returns the running jobs of a runner that is gone to the queue, failed with `why`; how many. */
    reapOwner: (owner: string, now: number, why: string): number =>
      reaped(
        reapOwner.all({
          owner,
          now,
          error: JSON.stringify({ name: 'WorkerCrashedError', message: why, code: 'ERR_WORKER_CRASHED' }),
        }),
      ),
    look,
    lease: leaseJobs,
    /** Leases up to `limit` ready jobs to `owner` under `token`, in the order they should run. */
    claim: (
      owner: string,
      token: number,
      functions: string,
      now: number,
      leaseMs: number,
      limit: number,
    ): ClaimedJob[] => leaseJobs(owner, token, now + leaseMs, look(functions, now, limit)),
    /** When the next scheduled job of these functions becomes ready, if any. */
    nextReadyAt: (functions: string, now: number): number | null =>
      nextReady.value({ functions, now }) as number | null,
  };
}

/** The plain claim's two steps, which the limited claim takes when no limited job is next. */
export type PlainClaim = Pick<ReturnType<typeof prepareClaimJobs>, 'look' | 'lease'>;
