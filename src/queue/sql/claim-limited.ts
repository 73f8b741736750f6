/**
 * The claim of a runner that knows a function with a limit (src/functions/limit.ts): the same order as
 * the plain claim (priority, then the time a job became ready, then the order it came in), less the jobs
 * whose group has no room, all in the runner's one write transaction, so that no two runners can both
 * take a group's last place.
 *
 * What is counted, per function and group (the value at the limit's key, as text):
 * - running: the group's jobs leased to any runner (state running), from the claim that leased them to
 *   their end. A dead runner's jobs hold their places until their leases are reaped. With a key they are
 *   counted from an index of the running jobs by group (jobs_limit_running: the lease writes each job's
 *   group); without one, the function's running jobs are the function's count (sql/function-counts.ts),
 *   which every write keeps already, so a concurrency limit without a key costs no write per job.
 * - started: the group's jobs whose handlers began in the last `perMs` milliseconds (a sliding window).
 *   A claim writes one row of `limit_starts` per group: how many of the group's jobs it leased, undated,
 *   which counts them all as starting now, so no claim can slip a start into a window that fills up
 *   later. A job counts as begun at the first thing its runner writes about it after it began: that it
 *   began (a handler that awaits), or else its end (a handler that ended within the moment it began),
 *   which counts it as beginning then, the safe side of a quota. A job given back (its runner closing,
 *   a crash it did not cause) counts as beginning when it was given back, since it may have begun unseen.
 *   Each write of a runner dates the jobs it has seen begin since its last one: it moves them out of the
 *   claim's undated row into a dated row of their own (a part), dated by the latest of them, or dates the
 *   undated row itself when they are the last of it. So a start counts from its begin or a little later
 *   (the same write's latest begin), the safe side again. An undated row none of whose claim's jobs runs
 *   any more under its lease (its runner died) is dated by a claim's sweep, at most a second after the
 *   leases were reaped. A job that fails still counted, and its next attempt counts again.
 *   Rows per claim and write rather than per job: a claim of hundreds of fast jobs writes a few rows, not
 *   hundreds, and a window of a minute at 20,000 starts a second holds thousands of rows, not a million.
 *
 * A runner claims limited jobs ahead like any others (about 50 ms of its work): they count as running,
 * and as starting, from the claim, so a job waiting in a runner holds its group's place meanwhile.
 */
import type { FunctionInfo } from '../../backend.js';
import { type FunctionLimit, limitKeyJsonPath } from '../../functions/limit.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State } from '../stored-codes.js';
import {
  type ClaimedJob,
  claimedColumns,
  claimedInOrder,
  leaseColumns,
  type PlainClaim,
  type ReadyJob,
} from './claim-jobs.js';
import type { LiveCounts } from './function-counts.js';

/** The limits of the functions a runner knows, as the claim takes them. */
export interface ClaimLimits {
  /** JSON object: each limited function's name to its key as a SQLite JSON path, or null. */
  readonly paths: string;
  readonly byFunction: ReadonlyMap<string, FunctionLimit>;
  /** Each keyed function's key as a SQLite JSON path. */
  readonly keyPaths: ReadonlyMap<string, string>;
}

/** The limits among a runner's functions, as its claims take them; undefined when none has one. */
export function claimLimitsOf(functions: readonly FunctionInfo[]): ClaimLimits | undefined {
  const limited = functions.filter((fn) => fn.limit !== undefined);
  if (limited.length === 0) return undefined;
  const byFunction = new Map(limited.map((fn) => [fn.name, fn.limit as FunctionLimit]));
  const paths = Object.fromEntries(
    [...byFunction].map(([name, { key }]) => [name, key === undefined ? null : limitKeyJsonPath(key)]),
  );
  const keyPaths = new Map(
    Object.entries(paths).filter((entry): entry is [string, string] => entry[1] !== null),
  );
  return { paths: JSON.stringify(paths), byFunction, keyPaths };
}

/**
 * The rate-limited jobs of one group that one claim leased (its rows of `limit_starts`), as their runner
 * counts their begins: `left` of them not begun yet, `begun` since the last write, the latest of those
 * begins, and the parts written so far.
 */
export interface ClaimStarts {
  readonly functionName: string;
  readonly group: string;
  readonly token: number;
  left: number;
  begun: number;
  at: number;
  parts: number;
}

/** What a limited claim leased, and when a group that is full by its rate has room again. */
export interface LimitedClaim {
  readonly jobs: ClaimedJob[];
  /** The earliest time a group out of starts gets one back (undefined when none is out of starts). */
  readonly roomAt: number | undefined;
}

/**
 * The group of a job whose input is `input`, by its function's key as a JSON path (`path`, SQL that may
 * be null; by default the function's row `l` of `:paths`): what limitGroupOf (src/functions/limit.ts)
 * computes in JavaScript.
 */
const groupOf = (
  input: string,
  path = 'l.value',
) => `CASE WHEN ${path} IS NULL OR NOT json_valid(${input}) THEN ''
  ELSE coalesce(CAST(json_extract(${input}, ${path}) AS TEXT), '') END`;

/** How many candidates a claim reads past what it may take: room for groups it finds full on the way. */
const scanSlack = 64;
/** Looks per claim: each after the first leaves out the groups the one before found full. */
const maxLooks = 16;

export function prepareLimitedClaim(db: SqliteConnection, counts: LiveCounts, plain: PlainClaim) {
  /**
   * A look after the first: the ready jobs in claim order, each limited one with its group, less the
   * groups a look before found full and the jobs it took.
   */
  const nextLook = db.prepare(
    `SELECT j.id, j.function AS functionName, CASE WHEN l.key IS NULL THEN NULL ELSE ${groupOf('j.input')} END AS "group"
     FROM jobs j LEFT JOIN json_each(:paths) l ON l.key = j.function
     WHERE j.state = ${State.queued} AND j.run_at <= :now AND j.function IN (SELECT value FROM json_each(:functions))
       AND j.function NOT IN (SELECT function FROM function_flags)
       AND (l.key IS NULL OR (j.function, ${groupOf('j.input')}) NOT IN (SELECT value ->> 0, value ->> 1 FROM json_each(:full)))
       AND j.id NOT IN (SELECT value FROM json_each(:taken))
     ORDER BY j.priority, j.run_at, j.id LIMIT :scan`,
  );
  /** :keyed is [[id, key path], ...]: each job's group, by its function's key. */
  const keyedGroups = db.prepare(
    `SELECT k.value ->> 0 AS id, ${groupOf('j.input', 'k.value ->> 1')} AS "group"
     FROM json_each(:keyed) k JOIN jobs j ON j.id = k.value ->> 0`,
  );
  /** A keyed function's running jobs per group: one read when a claim first meets the function. */
  const running = db.prepare(
    `SELECT limit_key AS "group", count(*) AS count FROM jobs
     WHERE state = ${State.running} AND function = ? AND limit_key IS NOT NULL GROUP BY limit_key`,
  );
  /**
   * A claim none of whose jobs runs under its lease, undated (its runner died), may have begun unseen.
   * Its jobs are looked for among its runner's running jobs (an index), not among every runner's.
   */
  const settleFunction = db.prepare(
    `UPDATE limit_starts SET at = :now WHERE function = :function AND at IS NULL AND NOT EXISTS (
       SELECT 1 FROM jobs WHERE lease_owner = limit_starts.owner AND state = ${State.running}
         AND lease_token = limit_starts.lease AND function = limit_starts.function)`,
  );
  /** The starts a group holds (see limit_groups in schema.ts), counted or not. */
  const held = db.prepare(
    'SELECT starts FROM limit_groups WHERE function = :function AND limit_key = :group',
  );
  const hold = db.prepare(
    `INSERT INTO limit_groups (function, limit_key, starts)
     SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(:groups) WHERE true
     ON CONFLICT DO UPDATE SET starts = starts + excluded.starts`,
  );
  const forgetGroup = db.prepare(
    'DELETE FROM limit_starts WHERE function = :function AND limit_key = :group AND at <= :since RETURNING starts',
  );
  const letGo = db.prepare(
    'UPDATE limit_groups SET starts = starts - :forgotten WHERE function = :function AND limit_key = :group',
  );
  /** A function's starts out of the window, every group's: counts let go, rows deleted, empty groups dropped. */
  const letGoOfFunction = db.prepare(
    `UPDATE limit_groups SET starts = starts - (SELECT coalesce(sum(s.starts), 0) FROM limit_starts s
       WHERE s.function = limit_groups.function AND s.limit_key = limit_groups.limit_key AND s.at <= :since)
     WHERE function = :function`,
  );
  const forgetFunction = db.prepare('DELETE FROM limit_starts WHERE function = :function AND at <= :since');
  const dropEmptyGroups = db.prepare('DELETE FROM limit_groups WHERE function = :function AND starts <= 0');
  /** The oldest begun of a group's starts that count (after forgetGroup). */
  const oldestBegun = db.prepare(
    'SELECT min(at) FROM limit_starts WHERE function = :function AND limit_key = :group',
  );
  /** :taken is [[id, group or null], ...]: the group of a job whose function has a key, else null. */
  const lease = db.prepare(
    `UPDATE jobs SET ${leaseColumns}, limit_key = t.value ->> 1
     FROM json_each(:taken) t WHERE jobs.id = t.value ->> 0 RETURNING ${claimedColumns}`,
  );
  /**
   * :groups is [[function, group, starts], ...]: what `:owner` claimed with :token, its undated rows
   * (part 0). Two claims of a group with the same random token (about one in 10^14 per pair) share one:
   * the first write that dates its last jobs dates the other claim's too, perhaps before they begin.
   */
  const start = db.prepare(
    `INSERT INTO limit_starts (function, limit_key, lease, part, owner, starts)
     SELECT value ->> 0, value ->> 1, :token, 0, :owner, value ->> 2 FROM json_each(:groups) WHERE true
     ON CONFLICT DO UPDATE SET starts = starts + excluded.starts`,
  );
  const claimRow =
    'function = :function AND limit_key = :group AND lease = :token AND part = 0 AND at IS NULL';
  /** The claim's last undated jobs have begun, the latest at :at. */
  const dateRest = db.prepare(`UPDATE limit_starts SET at = :at WHERE ${claimRow}`);
  /** Some of them have begun: out of the undated row, into a dated part (below). */
  const takeBegun = db.prepare(
    `UPDATE limit_starts SET starts = starts - :begun WHERE ${claimRow} AND starts > :begun`,
  );
  const datePart = db.prepare(
    `INSERT INTO limit_starts (function, limit_key, lease, part, owner, starts, at)
     VALUES (:function, :group, :token, :part, :owner, :begun, :at)`,
  );
  /** When this runner last swept the starts (see claim). */
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
      // Once a second: the begins of dead runners' claims, and the starts that count for nothing any more.
      if (now - sweptAt >= 1000) {
        sweptAt = now;
        for (const [functionName, { rate }] of limits.byFunction)
          if (rate !== undefined) {
            settleFunction.run({ function: functionName, now });
            // Each statement is given exactly the parameters it names: node:sqlite refuses any other.
            letGoOfFunction.run({ function: functionName, since: now - rate.perMs });
            forgetFunction.run({ function: functionName, since: now - rate.perMs });
            dropEmptyGroups.run({ function: functionName });
          }
      }
      // The next jobs are of functions without a limit (or there are none): they are what this claim
      // takes, as the plain claim takes them, without reading any group. A claim of one such job took
      // 103 us of statements the long way, 38 this way (scratch loop, a module with three limits).
      const first = plain.look(functions, now, limit + scanSlack);
      const next = first.slice(0, limit);
      if (next.every(({ functionName }) => !limits.byFunction.has(functionName)))
        return { jobs: plain.lease(owner, token, now + leaseMs, next), roomAt: undefined };
      /** Room left per function and group, looked up when a group is first met. */
      const room = new Map<string, number>();
      const full: [string, string][] = [];
      const taken: number[] = [];
      /** What the lease writes: each job taken with its group (null when its function has no limit). */
      const leased: [number, string | null][] = [];
      /** The rate-limited jobs leased, per function and group: [function, group, how many]. */
      const rated = new Map<string, [string, string, number]>();
      let roomAt: number | undefined;
      const runningIn = new Map<string, Map<string, number>>();
      const runningOf = (functionName: string, group: string, keyed: boolean): number => {
        if (!keyed) return counts.current(functionName, State.running);
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
        if (declared?.concurrency !== undefined)
          left = declared.concurrency - runningOf(functionName, group, declared.key !== undefined);
        if (declared?.rate !== undefined) {
          const { max, perMs } = declared.rate;
          const where = { function: functionName, group };
          let count = (held.value(where) as number | undefined) ?? 0;
          // Far from the quota, the starts held (some maybe out of the window) are count enough; near
          // it, those out of the window are forgotten, and the rest are the group's starts exactly.
          if (max - count < limit) {
            let forgotten = 0;
            for (const starts of forgetGroup.values({ ...where, since: now - perMs }))
              forgotten += starts as number;
            if (forgotten > 0) letGo.run({ ...where, forgotten });
            count -= forgotten;
          }
          const startsLeft = max - count;
          const oldest = startsLeft <= 0 ? (oldestBegun.value(where) as number | null) : null;
          if (oldest !== null) {
            const back = oldest + perMs;
            roomAt = roomAt === undefined ? back : Math.min(roomAt, back);
          }
          left = Math.min(left, startsLeft);
        }
        return left;
      };

      /** The first look's jobs with their groups: read from the input for a keyed function's only. */
      const withGroups = (rows: readonly ReadyJob[]) => {
        const keyed: [number, string][] = [];
        for (const { id, functionName } of rows) {
          const path = limits.keyPaths.get(functionName);
          if (path !== undefined) keyed.push([id, path]);
        }
        const groups =
          keyed.length === 0
            ? undefined
            : new Map(
                (keyedGroups.all({ keyed: JSON.stringify(keyed) }) as { id: number; group: string }[]).map(
                  ({ id, group }) => [id, group],
                ),
              );
        return rows.map(({ id, functionName }) => ({
          id,
          functionName,
          group: limits.byFunction.has(functionName) ? (groups?.get(id) ?? '') : null,
        }));
      };

      for (let look = 0; look < maxLooks && taken.length < limit; look++) {
        const wanted = limit - taken.length;
        const scan = wanted + scanSlack;
        const rows = (
          look === 0
            ? withGroups(first)
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
            leased.push([id, null]);
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
          const declared = limits.byFunction.get(functionName);
          leased.push([id, declared?.key === undefined ? null : group]);
          if (declared?.rate !== undefined) {
            const counted = rated.get(slot);
            if (counted) counted[2]++;
            else rated.set(slot, [functionName, group, 1]);
          }
        }
        // Read to the end, or nothing new was found full (then every row was taken, and so is the claim).
        if (rows.length < scan || full.length === fullBefore) break;
      }

      if (taken.length === 0) return { jobs: [], roomAt };
      const jobs = claimedInOrder(
        lease.all({ owner, token, until: now + leaseMs, taken: JSON.stringify(leased) }),
        counts,
      );
      if (rated.size > 0) {
        const groups = JSON.stringify([...rated.values()]);
        start.run({ owner, token, groups });
        hold.run({ groups });
      }
      return { jobs, roomAt };
    },
    /**
     * Dates the jobs of `owner`'s claims seen to begin since the last write (unless their claim was dated
     * already, by a sweep): the starts count from then.
     */
    begun(owner: string, claims: readonly ClaimStarts[]): void {
      for (const claim of claims) {
        const { functionName, group, token, begun, at } = claim;
        claim.begun = 0;
        claim.at = 0;
        // Each statement is given exactly the parameters it names: node:sqlite refuses any other.
        const row = { function: functionName, group, token };
        if (claim.left > 0 && takeBegun.run({ ...row, begun }).changes > 0)
          datePart.run({ ...row, part: ++claim.parts, owner, begun, at });
        else dateRest.run({ ...row, at });
      }
    },
  };
}
