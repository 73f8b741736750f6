/**
 * Schedules, as rows: kept (upserted by id), listed, removed, and ticked. A tick enqueues the due slots
 * of every schedule and moves each one's `next_at` past now, in the caller's write transaction: a slot
 * is enqueued by whichever runner ticks first, and by no other (they find `next_at` moved), and a tick
 * cut short by a crash leaves nothing behind (the transaction rolls back whole).
 */
import { ScheduleClock, type ScheduleTiming } from '../schedule-clock.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import type { NewJob, prepareInsertJobs } from './insert-jobs.js';

/** A schedule as stored. */
export interface ScheduleRow {
  readonly id: string;
  readonly functionName: string;
  /** As a job's input: JSON text, bytes, or null. */
  readonly input: string | Uint8Array | null;
  readonly cron: string | null;
  readonly tz: string | null;
  readonly everyMs: number | null;
  /** How many due slots a tick enqueues, the latest ones (0: only one that is on time). */
  readonly catchUp: number;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly backoff: number;
  /** The first slot not enqueued yet; null when the expression fires no more. */
  readonly nextAt: number | null;
  /** The last slot enqueued, if any. */
  readonly lastSlot: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a caller keeps: a row without its progress. */
export type ScheduleDefinition = Omit<ScheduleRow, 'nextAt' | 'lastSlot' | 'createdAt' | 'updatedAt'>;

const columns = `id, function AS functionName, input, cron, tz, every_ms AS everyMs, catch_up AS catchUp,
  priority, max_attempts AS maxAttempts, backoff, next_at AS nextAt, last_slot AS lastSlot,
  created_at AS createdAt, updated_at AS updatedAt`;

/** The timing of a row, for its clock. */
export function timingOf(row: Pick<ScheduleRow, 'cron' | 'tz' | 'everyMs'>): ScheduleTiming {
  return row.everyMs !== null
    ? { every: row.everyMs }
    : { cron: row.cron as string, tz: row.tz ?? undefined };
}

/** The unique of a slot's job: the schedule and the slot, readable in status and the console. */
export function slotUnique(id: string, slot: number): string {
  return `${id}@${new Date(slot).toISOString()}`;
}

export function prepareSchedules(db: SqliteConnection, insertJobs: ReturnType<typeof prepareInsertJobs>) {
  const byId = db.prepare(`SELECT ${columns} FROM schedules WHERE id = ?`);
  const all = db.prepare(`SELECT ${columns} FROM schedules ORDER BY id`);
  const due = db.prepare(
    `SELECT ${columns} FROM schedules INDEXED BY schedules_due WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at`,
  );
  const soonest = db.prepare('SELECT min(next_at) FROM schedules WHERE next_at IS NOT NULL');
  const insert = db.prepare(
    `INSERT INTO schedules (id, function, input, cron, tz, every_ms, catch_up, priority, max_attempts, backoff,
       next_at, last_slot, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
  );
  const update = db.prepare(
    `UPDATE schedules SET function = ?, input = ?, cron = ?, tz = ?, every_ms = ?, catch_up = ?, priority = ?,
       max_attempts = ?, backoff = ?, next_at = ?, updated_at = ? WHERE id = ?`,
  );
  const advance = db.prepare('UPDATE schedules SET next_at = ?, last_slot = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM schedules WHERE id = ?');
  /** Clocks by timing: croner parses an expression once. */
  const clocks = new Map<string, ScheduleClock>();
  const clockOf = (row: Pick<ScheduleRow, 'cron' | 'tz' | 'everyMs'>) => {
    const key = `${row.everyMs}|${row.cron}|${row.tz}`;
    let clock = clocks.get(key);
    if (!clock) {
      clock = new ScheduleClock(timingOf(row));
      clocks.set(key, clock);
    }
    return clock;
  };

  return {
    clockOf,

    /**
     * Keeps a schedule (inside the caller's transaction). A new one's first slot is the first after now;
     * one kept again with the same timing keeps its place (so that processes that all declare it at
     * start neither repeat nor skip a slot); a changed timing starts after now and after its last slot.
     */
    upsert(definition: ScheduleDefinition, now: number): ScheduleRow {
      const existing = byId.get(definition.id) as ScheduleRow | undefined;
      const sameTiming =
        existing !== undefined &&
        existing.cron === definition.cron &&
        existing.tz === definition.tz &&
        existing.everyMs === definition.everyMs;
      const clock = clockOf(definition);
      const { id, functionName, input, cron, tz, everyMs, catchUp, priority, maxAttempts, backoff } =
        definition;
      if (!existing) {
        insert.run(
          id,
          functionName,
          input,
          cron,
          tz,
          everyMs,
          catchUp,
          priority,
          maxAttempts,
          backoff,
          clock.next(now),
          now,
          now,
        );
      } else {
        const nextAt = sameTiming ? existing.nextAt : clock.next(Math.max(now, existing.lastSlot ?? 0));
        update.run(
          functionName,
          input,
          cron,
          tz,
          everyMs,
          catchUp,
          priority,
          maxAttempts,
          backoff,
          nextAt,
          now,
          id,
        );
      }
      return byId.get(id) as ScheduleRow;
    },

    remove(id: string): boolean {
      return remove.run(id).changes > 0;
    },

    list(): ScheduleRow[] {
      return all.all() as ScheduleRow[];
    },

    /** The soonest slot not enqueued yet, of any schedule; null when none is due ever. */
    soonest(): number | null {
      return (soonest.value() as number | null) ?? null;
    },

    /**
     * Enqueues the due slots of every schedule (inside the caller's write transaction) and moves each
     * past now; returns how many jobs it added.
     */
    tick(now: number): number {
      let added = 0;
      for (const row of due.all(now) as ScheduleRow[]) {
        const clock = clockOf(row);
        const slots = clock.due(row.nextAt as number, now, row.catchUp);
        const jobs = slots.map(
          (slot): NewJob => ({
            functionName: row.functionName,
            input: row.input,
            unique: slotUnique(row.id, slot),
            priority: row.priority,
            foreground: false,
            runAt: slot,
            maxAttempts: row.maxAttempts,
            backoff: row.backoff,
            traceparent: null,
          }),
        );
        insertJobs(jobs, now);
        added += jobs.length;
        advance.run(clock.next(now), slots.at(-1) ?? row.lastSlot, row.id);
      }
      return added;
    },
  };
}
