/**
 * Schedules, as rows: kept (upserted by id), listed, removed, and ticked. A tick enqueues the due slots
 * of every schedule and moves each one's `next_at` past now, in the caller's write transaction: a slot
 * is enqueued by whichever runner ticks first, and by no other (they find `next_at` moved), and a tick
 * cut short by a crash leaves nothing behind (the transaction rolls back whole).
 */
import { InvalidOptionError } from '../../errors.js';
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
  /** Where its jobs go: null for this file's runners, 'gearman' for a scheduler process to submit. */
  readonly target: ScheduleTarget | null;
  /** The first slot not enqueued yet; null when the expression fires no more. */
  readonly nextAt: number | null;
  /** The last slot enqueued, if any. */
  readonly lastSlot: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Where a schedule's jobs go, besides the file itself. */
export type ScheduleTarget = 'gearman';

/** A slot of a Gearman schedule, claimed by a scheduler until gearmand has accepted its job. */
export interface ScheduleSend {
  readonly scheduleId: string;
  readonly slot: number;
  readonly functionName: string;
  readonly input: string | Uint8Array | null;
  readonly priority: number;
}

/** A schedule a tick could not read here, parked (its next slot cleared), and why. */
export interface ParkedSchedule {
  readonly id: string;
  readonly reason: string;
}

/** What a tick did. */
export interface TickResult {
  readonly added: number;
  readonly parked: readonly ParkedSchedule[];
}

/** What a caller keeps: a row without its progress. */
export type ScheduleDefinition = Omit<ScheduleRow, 'nextAt' | 'lastSlot' | 'createdAt' | 'updatedAt'>;

const columns = `id, function AS functionName, input, cron, tz, every_ms AS everyMs, catch_up AS catchUp,
  priority, max_attempts AS maxAttempts, backoff, target, next_at AS nextAt, last_slot AS lastSlot,
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
  // The file's own schedules (target null) and Gearman's, each read by its own ticker.
  const due = db.prepare(
    `SELECT ${columns} FROM schedules INDEXED BY schedules_due
     WHERE next_at IS NOT NULL AND next_at <= ? AND target IS ? ORDER BY next_at`,
  );
  const soonest = db.prepare('SELECT min(next_at) FROM schedules WHERE next_at IS NOT NULL AND target IS ?');
  const save = db.prepare(
    `INSERT INTO schedules (id, function, input, cron, tz, every_ms, catch_up, priority, max_attempts, backoff,
       target, next_at, last_slot, created_at, updated_at)
     VALUES (:id, :functionName, :input, :cron, :tz, :everyMs, :catchUp, :priority, :maxAttempts, :backoff,
       :target, :nextAt, NULL, :now, :now)
     ON CONFLICT (id) DO UPDATE SET function = excluded.function, input = excluded.input, cron = excluded.cron,
       tz = excluded.tz, every_ms = excluded.every_ms, catch_up = excluded.catch_up, priority = excluded.priority,
       max_attempts = excluded.max_attempts, backoff = excluded.backoff, target = excluded.target,
       next_at = excluded.next_at, updated_at = excluded.updated_at`,
  );
  const sendColumns = 'schedule_id AS scheduleId, slot, function AS functionName, input, priority';
  const claimSend = db.prepare(
    `INSERT INTO schedule_sends (schedule_id, slot, function, input, priority, claimed_by, claimed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const takeOver = db.prepare(
    `UPDATE schedule_sends SET claimed_by = ?, claimed_at = ? WHERE claimed_by <> ? AND claimed_at < ?
     RETURNING ${sendColumns}`,
  );
  const renewSends = db.prepare(
    'UPDATE schedule_sends SET claimed_at = ? WHERE claimed_by = ? RETURNING schedule_id AS scheduleId, slot',
  );
  const sent = db.prepare('DELETE FROM schedule_sends WHERE schedule_id = ? AND slot = ?');
  const advance = db.prepare('UPDATE schedules SET next_at = ?, last_slot = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM schedules WHERE id = ?');
  const park = db.prepare('UPDATE schedules SET next_at = NULL WHERE id = ?');
  /** Clocks by timing (croner parses an expression once), or why a stored timing has none here. */
  const clocks = new Map<string, ScheduleClock | InvalidOptionError>();
  const storedClock = (row: Pick<ScheduleRow, 'cron' | 'tz' | 'everyMs'>) => {
    const key = `${row.everyMs}|${row.cron}|${row.tz}`;
    let clock = clocks.get(key);
    if (!clock) {
      clock = ScheduleClock.of(timingOf(row));
      clocks.set(key, clock);
    }
    return clock;
  };
  /** A timing's clock; a bad one is the InvalidOptionError that names it. */
  const clockOf = (row: Pick<ScheduleRow, 'cron' | 'tz' | 'everyMs'>): ScheduleClock => {
    const clock = storedClock(row);
    if (clock instanceof InvalidOptionError) throw clock;
    return clock;
  };

  /**
   * Hands each due schedule of a target with its slots due now to `use` (which writes their jobs or
   * claims), then moves it past now: a schedule that is due is moved in the same transaction as its
   * jobs, whatever happens to the others. One whose timing this process cannot read (a time zone its
   * Node lacks) is parked, its next slot cleared, and reported, instead of stopping every tick.
   */
  const eachDue = (
    target: ScheduleTarget | null,
    now: number,
    use: (row: ScheduleRow, slots: readonly number[]) => void,
    parked: ParkedSchedule[],
  ) => {
    for (const row of due.all(now, target) as ScheduleRow[]) {
      const clock = storedClock(row);
      if (clock instanceof InvalidOptionError) {
        park.run(row.id);
        parked.push({ id: row.id, reason: clock.message });
        continue;
      }
      const slots = clock.due(row.nextAt as number, now, row.catchUp);
      use(row, slots);
      advance.run(clock.next(now), slots.at(-1) ?? row.lastSlot, row.id);
    }
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
      const nextAt = !existing
        ? clock.next(now)
        : sameTiming
          ? existing.nextAt
          : clock.next(Math.max(now, existing.lastSlot ?? 0));
      save.run({ ...definition, nextAt, now });
      return byId.get(definition.id) as ScheduleRow;
    },

    remove(id: string): boolean {
      return remove.run(id).changes > 0;
    },

    list(): ScheduleRow[] {
      return all.all() as ScheduleRow[];
    },

    /** The soonest slot not enqueued yet, of the file's schedules or Gearman's; null when none is due ever. */
    soonest(target: ScheduleTarget | null): number | null {
      return (soonest.value(target) as number | null) ?? null;
    },

    /**
     * Enqueues the due slots of the file's schedules (inside the caller's write transaction) and moves
     * each past now; returns how many jobs it added, and the schedules it had to park.
     */
    tick(now: number): TickResult {
      let added = 0;
      const parked: ParkedSchedule[] = [];
      eachDue(
        null,
        now,
        (row, slots) => {
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
        },
        parked,
      );
      return { added, parked };
    },

    /**
     * A scheduler's tick (inside its write transaction): claims the due slots of Gearman's schedules for
     * `by`, moves each schedule past now, and takes over the claims older than `staleBefore` (their
     * scheduler died or stalled); returns every slot it now holds to send.
     */
    claimSends(
      now: number,
      by: string,
      staleBefore: number,
    ): { claimed: ScheduleSend[]; parked: ParkedSchedule[] } {
      const claimed: ScheduleSend[] = takeOver.all(by, now, by, staleBefore) as ScheduleSend[];
      const parked: ParkedSchedule[] = [];
      eachDue(
        'gearman',
        now,
        (row, slots) => {
          for (const slot of slots) {
            const send = {
              scheduleId: row.id,
              slot,
              functionName: row.functionName,
              input: row.input,
              priority: row.priority,
            };
            if (claimSend.run(row.id, slot, row.functionName, row.input, row.priority, by, now).changes > 0)
              claimed.push(send);
          }
        },
        parked,
      );
      return { claimed, parked };
    },

    /**
     * Keeps a scheduler's claims fresh while it sends (gearmand may be slow to answer); returns the
     * slots it still holds (another scheduler took over those it no longer does).
     */
    renewSends(by: string, now: number): { scheduleId: string; slot: number }[] {
      return renewSends.all(now, by) as { scheduleId: string; slot: number }[];
    },

    /** A slot's job was accepted by gearmand: its claim ends. */
    sent(scheduleId: string, slot: number): void {
      sent.run(scheduleId, slot);
    },
  };
}
