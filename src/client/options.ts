/** The options of a job and of a set of jobs, and their checks. */
import { maxCatchUp, type Priority, type ScheduleRequest } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { parseDuration } from '../shared/duration.js';
import { checkCount, checkMilliseconds, checkObject, checkTimeAhead } from '../shared/validate.js';
import type { JobEvent, JobEventHandlers, TaskEvent } from './events.js';

/** Options of one job (`run`, `task`). */
export interface RunOptions<R = unknown> {
  /**
   * Where the job waits in the queue: high before normal before low.
   * @default 'normal'
   */
  readonly priority?: Priority;
  /**
   * Coalesces identical jobs: a job submitted while another of the same function and unique is queued or
   * running joins it instead of running again, and every caller gets the one result (as gearmand does,
   * the first job's input is the one that runs). At most 64 bytes of UTF-8, as in Gearman.
   * @example `report:${userId}:${day}`
   */
  readonly unique?: string;
  /**
   * The longest the job may run, in milliseconds, counted from when it starts (time spent queued does not
   * count). When it elapses the caller gets a JobTimeoutError and the job's `signal` aborts.
   * @default the function's own `timeout`, or none
   */
  readonly timeout?: number;
  /** Aborting it drops the job if it is queued, or aborts the job's own `signal` if it runs. */
  readonly signal?: AbortSignal;
  /** Callbacks per event type. @example `{ status: (e) => bar.update(e.numerator / e.denominator) }` */
  readonly on?: JobEventHandlers<JobEvent<R>>;
}

/** Options of a background job (`background`, `backgroundJob`). */
export interface BackgroundOptions {
  /** @default 'normal' */
  readonly priority?: Priority;
  /**
   * While a job of the same function and unique is queued or running, submitting another returns that
   * job's handle instead of adding one, as gearmand does. At most 64 bytes of UTF-8.
   */
  readonly unique?: string;
  /** Not before this time (a Date, or milliseconds since the epoch), as Gearman's SUBMIT_JOB_EPOCH. */
  readonly runAt?: Date | number;
  /** Not before this many milliseconds from now (instead of `runAt`). */
  readonly delay?: number;
  /**
   * How many times to try the job before it is dead (a crash or a timeout counts as a failed attempt).
   * @default 3, or the queue's `attempts`
   */
  readonly attempts?: number;
  /**
   * The base of the exponential backoff between attempts, in milliseconds: the n-th retry waits between
   * half and all of `backoff` x 2^(n-1).
   * @default 1000, or the queue's `backoff`
   */
  readonly backoff?: number;
}

/** When a schedule fires: a cron expression (5 fields, or 6 with seconds), or a fixed period. */
export type ScheduleWhen =
  | { readonly cron: string }
  /** A period in milliseconds or as text (`'15m'`), aligned to the epoch: `'15m'` fires at :00, :15, ... UTC. */
  | { readonly every: number | string };

/** Options of a schedule (`schedule`): its time zone, what it does after an outage, and its jobs' options. */
export interface ScheduleOptions {
  /** The IANA time zone a cron expression is read in (daylight-saving changes follow it). @default 'UTC' */
  readonly tz?: string;
  /**
   * Which slots are enqueued when several are due at once (no runner was alive at their time):
   * `'none'` only a slot that is on time (late by less than a minute and than the period after it),
   * `'latest'` the latest one, `'all'` every one up to 1,000, or a number: the latest that many (0 is
   * `'none'`).
   * @default 'latest'
   */
  readonly catchUp?: 'none' | 'latest' | 'all' | number;
  /** @default 'normal' */
  readonly priority?: Priority;
  /** @default 3, or the queue's `attempts` */
  readonly attempts?: number;
  /** @default 1000, or the queue's `backoff` */
  readonly backoff?: number;
  /**
   * Where its jobs go: `'queue'` the file's own runners; `'gearman'` job servers, to which a `gearshift
   * scheduler --queue <file> --gearman ...` process submits each slot (docs/schedules.md).
   * @default 'queue'
   */
  readonly target?: 'queue' | 'gearman';
}

/** A schedule's timing and options, checked. */
export type CheckedSchedule = Omit<ScheduleRequest, 'id' | 'functionName' | 'input' | 'payload'>;

/** Checks a schedule's timing and options (the expression itself is checked by the queue's clock). */
export function checkSchedule(when: ScheduleWhen, options: ScheduleOptions | undefined): CheckedSchedule {
  checkObject('when', when);
  const cron = 'cron' in when ? when.cron : undefined;
  const every = 'every' in when ? when.every : undefined;
  if ((cron === undefined) === (every === undefined))
    throw new InvalidOptionError('when', '{ cron } or { every }, one of the two', when);
  if (options !== undefined) checkObject('options', options);
  const { tz, catchUp = 'latest', priority = 'normal', attempts, backoff, target = 'queue' } = options ?? {};
  if (target !== 'queue' && target !== 'gearman')
    throw new InvalidOptionError('options.target', "'queue' or 'gearman'", target);
  checkPriority('options.priority', priority);
  if (attempts !== undefined) checkCount('options.attempts', attempts, 1);
  if (backoff !== undefined) checkMilliseconds('options.backoff', backoff, 0);
  if (tz !== undefined && cron === undefined)
    throw new InvalidOptionError(
      'options.tz',
      'left out for `every` (a period is the same in every zone)',
      tz,
    );
  return {
    cron,
    tz,
    everyMs: every === undefined ? undefined : wholeMilliseconds(parseDuration('when.every', every, 1)),
    catchUp: catchUpCount(catchUp),
    priority,
    attempts,
    backoff,
    target: target === 'gearman' ? 'gearman' : undefined,
  };
}

function wholeMilliseconds(ms: number): number {
  if (!Number.isInteger(ms)) throw new InvalidOptionError('when.every', 'a whole number of milliseconds', ms);
  return ms;
}

function catchUpCount(value: unknown): number {
  if (value === 'none') return 0;
  if (value === 'latest') return 1;
  if (value === 'all') return maxCatchUp;
  if (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= maxCatchUp)
    return value as number;
  throw new InvalidOptionError(
    'options.catchUp',
    `'none', 'latest', 'all' or a number of slots from 0 to ${maxCatchUp}`,
    value,
  );
}

/** Options of a set of jobs (`runAll`); `R` is the union of its tasks' result types. */
export interface RunAllOptions<R = unknown> {
  /**
   * At most this many of the set's jobs in flight at once; the others wait in the client, as the task
   * descriptions given, so that memory stays bounded however large the set. A window set here is kept
   * full (the next job starts as one ends); the default one is refilled 64 jobs at a time (between 960
   * and 1,024 in flight), so that a Gearman client sends them in one write.
   * @default 1024
   */
  readonly concurrency?: number;
  /** Aborting it aborts every job of the set that has not ended. */
  readonly signal?: AbortSignal;
  /** The priority of tasks that do not set their own. */
  readonly priority?: Priority;
  /** The timeout of tasks that do not set their own. */
  readonly timeout?: number;
  /** Callbacks per event type, for the events of every task; each event carries its task's `index`. */
  readonly on?: JobEventHandlers<TaskEvent<R>>;
}

const priorities: readonly Priority[] = ['high', 'normal', 'low'];

/** Gearman's limit on a unique key (GEARMAN_MAX_UNIQUE_SIZE), kept on every backend so none is a trap. */
export const maxUniqueBytes = 64;

/** Checks the options of one job; `where` names them in errors (`options`, `tasks[3].options`). */
export function checkRunOptions<R>(options: RunOptions<R> | undefined, where: string): RunOptions<R> {
  if (options === undefined) return {};
  checkObject(where, options);
  const { priority, unique, timeout, signal, on } = options;
  if (priority !== undefined) checkPriority(`${where}.priority`, priority);
  if (unique !== undefined) checkUnique(`${where}.unique`, unique);
  if (timeout !== undefined) checkTimeout(`${where}.timeout`, timeout);
  if (signal !== undefined) checkSignal(`${where}.signal`, signal);
  if (on !== undefined) checkHandlers(`${where}.on`, on);
  return options;
}

/** Checks the options of a set of jobs. */
export function checkRunAllOptions<R>(options: RunAllOptions<R> | undefined): RunAllOptions<R> {
  if (options === undefined) return {};
  checkObject('options', options);
  const { concurrency, signal, priority, timeout, on } = options;
  if (concurrency !== undefined) checkCount('options.concurrency', concurrency, 1);
  if (signal !== undefined) checkSignal('options.signal', signal);
  if (priority !== undefined) checkPriority('options.priority', priority);
  if (timeout !== undefined) checkTimeout('options.timeout', timeout);
  if (on !== undefined) checkHandlers('options.on', on);
  return options;
}

/** Checks the options of a background job and turns `delay` into `runAt`. */
export function checkBackgroundOptions(
  options: BackgroundOptions | undefined,
  where: string,
  now: number,
): BackgroundOptions & { readonly runAt?: number } {
  if (options === undefined) return {};
  checkObject(where, options);
  const { priority, unique, runAt, delay, attempts, backoff } = options;
  if (priority !== undefined) checkPriority(`${where}.priority`, priority);
  if (unique !== undefined) checkUnique(`${where}.unique`, unique);
  if (attempts !== undefined) checkCount(`${where}.attempts`, attempts, 1);
  if (backoff !== undefined) checkMilliseconds(`${where}.backoff`, backoff, 0);
  if (runAt !== undefined && delay !== undefined) {
    throw new InvalidOptionError(
      `${where}.delay`,
      'left out when `runAt` is given (one or the other)',
      delay,
    );
  }
  let at: number | undefined;
  if (runAt !== undefined) at = checkTimeAhead(`${where}.runAt`, runAt, now);
  if (delay !== undefined) at = now + checkMilliseconds(`${where}.delay`, delay, 0);
  return { ...options, runAt: at };
}

function checkPriority(name: string, value: unknown): void {
  if (!priorities.includes(value as Priority))
    throw new InvalidOptionError(name, "'high', 'normal' or 'low'", value);
}

function checkUnique(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new InvalidOptionError(name, 'a non-empty string', value);
  if (value.includes('\u0000')) throw new InvalidOptionError(name, 'a string without NUL characters', value);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxUniqueBytes) {
    throw new InvalidOptionError(
      name,
      `at most ${maxUniqueBytes} bytes of UTF-8 (Gearman's limit), not ${bytes}`,
      value,
    );
  }
}

function checkTimeout(name: string, value: unknown): void {
  checkMilliseconds(name, value, 0, true);
}

function checkSignal(name: string, value: unknown): void {
  if (!(value instanceof AbortSignal)) throw new InvalidOptionError(name, 'an AbortSignal', value);
}

function checkHandlers(name: string, value: unknown): void {
  checkObject(name, value);
  for (const [type, handler] of Object.entries(value as object)) {
    if (typeof handler !== 'function') throw new InvalidOptionError(`${name}.${type}`, 'a function', handler);
  }
}
