/**
 * When a schedule's slots fall, and which of them a tick enqueues. Cron expressions, time zones and
 * daylight-saving changes are croner's (a well-kept library with no dependencies, loaded when a cron schedule is first read); `every` is plain
 * arithmetic, aligned to the epoch. Pure: the queue's ticker gives it the time.
 */
import { createRequire } from 'node:module';
import type { Cron } from 'croner';
import { InvalidOptionError } from '../errors.js';
import { maxDurationMs } from '../shared/timers.js';

/** When a schedule fires: a cron expression (in a time zone), or a fixed period. */
export type ScheduleTiming =
  | { readonly cron: string; readonly tz?: string | undefined }
  | { readonly every: number };

/** The most a slot may be late and still count as on time, for `catchUp: 'none'`. */
const onTimeMs = 60_000;

/** A schedule's slots. */
export class ScheduleClock {
  readonly #cron: Cron | undefined;
  readonly #every: number | undefined;

  /** Checks the timing; a bad expression or time zone is an InvalidOptionError that names it. */
  constructor(timing: ScheduleTiming, option = 'schedule') {
    if ('every' in timing) {
      const every = timing.every;
      if (!Number.isSafeInteger(every) || every < 1 || every > maxDurationMs)
        throw new InvalidOptionError(`${option}.every`, 'a period of 1 ms to 10 years', every);
      this.#every = every;
      return;
    }
    const { cron, tz } = timing;
    // croner also reads a date (with ':') as a one-shot run, and a 7th field as a year: neither repeats.
    if (typeof cron !== 'string' || cron.trim() === '' || cron.includes(':'))
      throw new InvalidOptionError(`${option}.cron`, 'a cron expression such as "0 2 * * *"', cron);
    if (tz !== undefined && !isTimeZone(tz))
      throw new InvalidOptionError(`${option}.tz`, 'an IANA time zone such as "Europe/Berlin" or "UTC"', tz);
    try {
      // Loaded on first use: a file without cron schedules never loads it.
      const { Cron } = createRequire(import.meta.url)('croner') as typeof import('croner');
      this.#cron = new Cron(cron, {
        paused: true,
        mode: '5-or-6-parts',
        ...(tz === undefined ? {} : { timezone: tz }),
      });
    } catch (error) {
      throw new InvalidOptionError(
        `${option}.cron`,
        `a cron expression of 5 or 6 fields such as "0 2 * * *" (${(error as Error).message})`,
        cron,
      );
    }
    if (this.#cron.nextRun() === null)
      throw new InvalidOptionError(`${option}.cron`, 'a cron expression that fires again', cron);
  }

  /** A clock for a stored schedule, or the reason it cannot have one (a runner whose Node lacks its zone). */
  static of(timing: ScheduleTiming): ScheduleClock | InvalidOptionError {
    try {
      return new ScheduleClock(timing);
    } catch (error) {
      if (error instanceof InvalidOptionError) return error;
      throw error;
    }
  }

  /** The first slot strictly after `after` (milliseconds since the epoch); null when there is none. */
  next(after: number): number | null {
    if (this.#every !== undefined) return (Math.floor(after / this.#every) + 1) * this.#every;
    return (this.#cron as Cron).nextRun(new Date(after))?.getTime() ?? null;
  }

  /**
   * The slots a tick at `now` enqueues, oldest first: of the slots from `from` (the first not yet
   * enqueued) to `now`, the latest `catchUp` (0: only one that is on time, late by less than a minute and
   * than the period after it).
   */
  due(from: number, now: number, catchUp: number): number[] {
    if (from > now) return [];
    const latest = this.#latest(from, now, Math.max(catchUp, 1));
    if (catchUp > 0) return latest;
    const last = latest.at(-1);
    if (last === undefined) return [];
    const after = this.next(last);
    const lateness = now - last;
    return lateness < onTimeMs && (after === null || lateness < after - last) ? [last] : [];
  }

  /**
   * The latest `count` slots in [from, now], oldest first. `from` is a slot (the first not enqueued):
   * walked forward from it, which is one step when the runners keep up, back from now only past a backlog
   * longer than `count`.
   */
  #latest(from: number, now: number, count: number): number[] {
    if (this.#every !== undefined) {
      const every = this.#every;
      const last = Math.floor(now / every) * every;
      const first = Math.max(Math.ceil(from / every) * every, last - (count - 1) * every);
      const slots: number[] = [];
      for (let slot = first; slot <= last; slot += every) slots.push(slot);
      return slots;
    }
    const cron = this.#cron as Cron;
    const forward: number[] = [];
    for (let slot: number | null = from; slot !== null && slot <= now; slot = this.next(slot)) {
      forward.push(slot);
      if (forward.length > count) break;
    }
    if (forward.length <= count) return forward;
    // A run in the same second as the reference counts as before it: one past now includes a slot at now.
    return cron
      .previousRuns(count, new Date(now + 1))
      .map((date) => date.getTime())
      .filter((slot) => slot >= from && slot <= now)
      .reverse();
  }
}

/** Whether `Intl` knows the time zone. */
function isTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
