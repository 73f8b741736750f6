/**
 * The claim of a runner that knows a function with a limit (src/functions/limit.ts): the same order as
 * the plain claim (priority, then the time a job became ready, then the order it came in), less the jobs
 * whose group has no room, all in the runner's one write transaction, so that no two runners can both
 * take a group's last place.
 *
 * What is counted, per function and group (the value at the limit's key, as text):
 * - running: the group's jobs leased to any runner (state running), from the claim that leased them to
 *   their end. A dead runner's jobs hold their places until their leases are reaped.
 * - started: the group's jobs whose handlers began in the last `perMs` milliseconds (a sliding window),
 *   one row per attempt in `limit_starts`, with the time its runner saw the handler begin. A job claimed
 *   whose handler has not begun yet counts as starting now, for as long as it is leased: so no claim can
 *   slip a start into a window that fills up later. A job that fails still counted, and its next
 *   attempt counts again. An attempt that ended with no begin written (its runner died) counts as
 *   beginning when a claim noticed, since it may have begun unseen.
 *
 * A runner claims limited jobs ahead like any others (about 50 ms of its work): they count as running,
 * and as starting, from the claim, so a job waiting in a runner holds its group's place meanwhile.
 */
import type { FunctionInfo } from '../../backend.js';
import { type FunctionLimit, limitKeyJsonPath } from '../../functions/limit.js';
import { State } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { type ClaimedJob, claimedColumns, claimedInOrder, leaseColumns } from './claim-jobs.js';
import type { CountChanges } from './function-counts.js';

/** The limits of the functions a runner knows, as the claim takes them. */
export interface ClaimLimits {
  /** JSON object: each limited function's name to its key as a SQLite JSON path, or null. */
  readonly paths: string;
  readonly byFunction: ReadonlyMap<string, FunctionLimit>;
}

/** The limits among a runner's functions, as its claims take them; undefined when none has one. */
export function claimLimitsOf(functions: readonly FunctionInfo[]): ClaimLimits | undefined {
  const limited = functions.filter((fn) => fn.limit !== undefined);
  if (limited.length === 0) return undefined;
  const byFunction = new Map(limited.map((fn) => [fn.name, fn.limit as FunctionLimit]));
  const paths = Object.fromEntries(
    [...byFunction].map(([name, { key }]) => [name, key === undefined ? null : limitKeyJsonPath(key)]),
  );
  return { paths: JSON.stringify(paths), byFunction };
}

/** What a limited claim leased, and when a group that is full by its rate has room again. */
export interface LimitedClaim {
  readonly jobs: ClaimedJob[];
  /** The earliest time a group out of starts gets one back (undefined when none is out of starts). */
  readonly roomAt: number | undefined;
}

/**
 * The group of a job whose input is `input` and whose function's row of `:paths` is `l` (l.value: the
 * key's path, or null): what limitGroupOf (src/functions/limit.ts) computes in JavaScript.
 */
const groupOf = (input: string) => `CASE WHEN l.value IS NULL OR NOT json_valid(${input}) THEN ''
  ELSE coalesce(CAST(json_extract(${input}, l.value) AS TEXT), '') END`;

/** How many candidates a claim reads past what it may take: room for groups it finds full on the way. */
const scanSlack = 64;
/** Looks per claim: each after the first leaves out the groups the one before found full. */
const maxLooks = 16;

export function prepareLimitedClaim(db: SqliteConnection, counts: CountChanges) {
  /** The ready jobs in claim order, each limited one with its group; `again` leaves out what a look before found full or took. */
  const candidates = (again: boolean) =>
    db.prepare(
      `SELECT j.id, j.function AS functionName, CASE WHEN l.key IS NULL THEN NULL ELSE ${groupOf('j.input')} END AS "group"
       FROM jobs j LEFT JOIN json_each(:paths) l ON l.key = j.function
       WHERE j.state = ${State.queued} AND j.run_at <= :now AND j.function IN (SELECT value FROM json_each(:functions))
         AND j.function NOT IN (SELECT function FROM function_flags)
         ${
           again
             ? `AND (l.key IS NULL OR (j.function, ${groupOf('j.input')}) NOT IN (SELECT value ->> 0, value ->> 1 FROM json_each(:full)))
                AND j.id NOT IN (SELECT value FROM json_each(:taken))`
             : ''
         }
       ORDER BY j.priority, j.run_at, j.id LIMIT :scan`,
    );
  const firstLook = candidates(false);
  const nextLook = candidates(true);
  /** A function's running jobs per group: one read when a claim first meets the function. */
  const running = db.prepare(
    `SELECT limit_key AS "group", count(*) AS count FROM jobs
     WHERE state = ${State.running} AND function = ? AND limit_key IS NOT NULL GROUP BY limit_key`,
  );
  /**
   * A claimed attempt no longer leased whose begin nobody wrote (its runner died, or its caller left as it
   * began) may have begun unseen: it counts as beginning when this was noticed, the safe side of a quota.
   */
  const unseen = `at IS NULL AND NOT EXISTS (
    SELECT 1 FROM jobs WHERE id = job_id AND attempts = attempt AND state = ${State.running})`;
  const settleGroup = db.prepare(
    `UPDATE limit_starts SET at = :now WHERE function = :function AND limit_key = :group AND ${unseen}`,
  );
  const settleFunction = db.prepare(
    `UPDATE limit_starts SET at = :now WHERE function = :function AND ${unseen}`,
  );
  const forgetGroup = db.prepare(
    'DELETE FROM limit_starts WHERE function = :function AND limit_key = :group AND at <= :since',
  );
  const forgetFunction = db.prepare('DELETE FROM limit_starts WHERE function = :function AND at <= :since');
  /** A group's starts that count (after forgetGroup): how many, and the oldest that began. */
  const started = db.prepare(
    'SELECT count(*) AS count, min(at) AS oldest FROM limit_starts WHERE function = :function AND limit_key = :group',
  );
  // The group is computed again here, in SQL, rather than written per job from the look's rows.
  const lease = db.prepare(
    `UPDATE jobs SET ${leaseColumns},
       limit_key = (SELECT ${groupOf('jobs.input')} FROM json_each(:paths) l WHERE l.key = jobs.function)
     WHERE id IN (SELECT value FROM json_each(:ids)) RETURNING ${claimedColumns}`,
  );
  const start = db.prepare(
    `INSERT INTO limit_starts (function, limit_key, job_id, attempt)
     SELECT function, limit_key, id, attempts FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))`,
  );
  const begun = db.prepare(
    `UPDATE limit_starts SET at = :at
     WHERE function = :function AND limit_key = :group AND job_id = :id AND attempt = :attempt AND at IS NULL`,
  );
  /** When the starts of groups no claim met were last forgotten. */
  let sweptAt = 0;

  return {
    /** Leases up to `limit` ready jobs to `owner`, each limited one within its group's room. */
    claim(
      owner: string,
      token: number,
      functions: string,
      now: number,
      leaseMs: number,
      limit: number,
      limits: ClaimLimits,
    ): LimitedClaim {
      // A group's starts that count for nothing any more are deleted when a claim meets it; once a
      // second, those of every group, so that groups no claim meets again do not pile up.
      if (now - sweptAt >= 1000) {
        sweptAt = now;
        for (const [functionName, { rate }] of limits.byFunction)
          if (rate !== undefined) {
            settleFunction.run({ function: functionName, now });
            forgetFunction.run({ function: functionName, since: now - rate.perMs });
          }
      }
      /** Room left per function and group, looked up when a group is first met. */
      const room = new Map<string, number>();
      const full: [string, string][] = [];
      const taken: number[] = [];
      const rated: number[] = [];
      let roomAt: number | undefined;
      const runningIn = new Map<string, Map<string, number>>();
      const runningOf = (functionName: string, group: string): number => {
        let groups = runningIn.get(functionName);
        if (!groups) {
          const rows = running.all(functionName) as { group: string; count: number }[];
          groups = new Map(rows.map((row) => [row.group, row.count]));
          runningIn.set(functionName, groups);
        }
        return groups.get(group) ?? 0;
      };

      /** The group's room now: its concurrency less what runs, its rate less what started. */
      const roomOf = (functionName: string, group: string): number => {
        const declared = limits.byFunction.get(functionName);
        let left = Number.POSITIVE_INFINITY;
        if (declared?.concurrency !== undefined) left = declared.concurrency - runningOf(functionName, group);
        if (declared?.rate !== undefined) {
          const since = now - declared.rate.perMs;
          settleGroup.run({ function: functionName, group, now });
          forgetGroup.run({ function: functionName, group, since });
          const { count, oldest } = started.get({ function: functionName, group }) as {
            count: number;
            oldest: number | null;
          };
          const startsLeft = declared.rate.max - count;
          if (startsLeft <= 0 && oldest !== null) {
            const back = oldest + declared.rate.perMs;
            roomAt = roomAt === undefined ? back : Math.min(roomAt, back);
          }
          left = Math.min(left, startsLeft);
        }
        return left;
      };

      for (let look = 0; look < maxLooks && taken.length < limit; look++) {
        const wanted = limit - taken.length;
        const scan = wanted + scanSlack;
        const rows = (
          look === 0
            ? firstLook.all({ paths: limits.paths, functions, now, scan })
            : nextLook.all({
                paths: limits.paths,
                functions,
                now,
                scan,
                full: JSON.stringify(full),
                taken: JSON.stringify(taken),
              })
        ) as { id: number; functionName: string; group: string | null }[];
        const fullBefore = full.length;
        for (const { id, functionName, group } of rows) {
          if (taken.length === limit) break;
          if (group === null) {
            taken.push(id);
            continue;
          }
          const slot = `${functionName}\u0000${group}`;
          let left = room.get(slot);
          if (left === undefined) left = roomOf(functionName, group);
          if (left <= 0) {
            if (room.get(slot) !== 0) full.push([functionName, group]);
            room.set(slot, 0);
            continue;
          }
          room.set(slot, left - 1);
          if (left - 1 === 0) full.push([functionName, group]);
          taken.push(id);
          if (limits.byFunction.get(functionName)?.rate !== undefined) rated.push(id);
        }
        // Read to the end, or nothing new was found full (then every row was taken, and so is the claim).
        if (rows.length < scan || full.length === fullBefore) break;
      }

      if (taken.length === 0) return { jobs: [], roomAt };
      const jobs = claimedInOrder(
        lease.all({ owner, token, until: now + leaseMs, ids: JSON.stringify(taken), paths: limits.paths }),
        counts,
      );
      if (rated.length > 0) start.run({ ids: JSON.stringify(rated) });
      return { jobs, roomAt };
    },
    /** Notes when a rate-limited job's handler began: its start counts from then. */
    begun(job: ClaimedJob, at: number): void {
      begun.run({ at, function: job.functionName, group: job.limitKey, id: job.id, attempt: job.attempts });
    },
  };
}
