/**
 * The retry-or-end rule of a failed attempt, in TypeScript and as the SQL that takes back a dead runner's
 * jobs: the same state, the same end time, and a next run within the same backoff bounds, over every
 * combination of attempts left, foreground or background, and backoff.
 */
import { describe, expect, it } from 'vitest';
import { afterFailure, afterFailureSql } from '../src/queue/after-failure.js';
import { openSqlite } from '../src/queue/sqlite/open-sqlite.js';
import { State } from '../src/queue/stored-codes.js';

const now = 1_000_000;
const oldRunAt = 500;
const cases = [1, 2, 3, 5].flatMap((attempts) =>
  [1, 3, 5].flatMap((maxAttempts) =>
    [false, true].flatMap((foreground) =>
      [0, 1000].map((backoff) => ({ attempts, maxAttempts, foreground, backoff, runAt: oldRunAt })),
    ),
  ),
);

/** The SQL rule applied to one row holding the case. */
function inSql(job: (typeof cases)[number]) {
  const db = openSqlite(':memory:');
  try {
    db.exec(`CREATE TABLE jobs (state INTEGER, attempts INTEGER, max_attempts INTEGER, foreground INTEGER,
      backoff INTEGER, run_at INTEGER, finished_at INTEGER)`);
    db.prepare(
      'INSERT INTO jobs (state, attempts, max_attempts, foreground, backoff, run_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(State.running, job.attempts, job.maxAttempts, job.foreground ? 1 : 0, job.backoff, job.runAt);
    db.prepare(`UPDATE jobs SET ${afterFailureSql()}`).run({ now });
    return db.prepare('SELECT state, run_at AS runAt, finished_at AS finishedAt FROM jobs').get() as {
      state: number;
      runAt: number;
      finishedAt: number | null;
    };
  } finally {
    db.close();
  }
}

describe('after a failed attempt: TypeScript and SQL', () => {
  it('decide the same for every case: queued again within the backoff while attempts remain, else failed or dead', () => {
    for (const job of cases) {
      const typescript = afterFailure(job, now);
      const sql = inSql(job);
      const where = JSON.stringify(job);
      expect(sql.state, where).toBe(typescript.state);
      const retried = job.attempts < job.maxAttempts;
      expect(typescript.state, where).toBe(
        retried ? State.queued : job.foreground ? State.failed : State.dead,
      );
      expect(sql.finishedAt, where).toBe(retried ? null : now);
      for (const runAt of [typescript.runAt, sql.runAt]) {
        if (!retried) expect(runAt, where).toBe(oldRunAt);
        else {
          const full = job.backoff * 2 ** (job.attempts - 1);
          expect(runAt - now, where).toBeGreaterThanOrEqual(full / 2);
          expect(runAt - now, where).toBeLessThanOrEqual(full);
        }
      }
    }
  });

  it('ends a final failure at once, and a cancelled job as cancelled, whatever attempts remain', () => {
    const job = { attempts: 1, maxAttempts: 5, foreground: false, backoff: 1000, runAt: oldRunAt };
    expect(afterFailure(job, now, 'final')).toEqual({ state: State.dead, runAt: oldRunAt });
    expect(afterFailure({ ...job, foreground: true }, now, 'final')).toEqual({
      state: State.failed,
      runAt: oldRunAt,
    });
    expect(afterFailure(job, now, 'cancelled')).toEqual({ state: State.cancelled, runAt: oldRunAt });
  });
});
