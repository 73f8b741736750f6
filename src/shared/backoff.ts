/**
 * The one backoff rule, wherever a retry is scheduled (a failed job's next attempt, in TypeScript and in
 * the SQL that takes back expired leases; a lost connection's next try): exponential with jitter. The
 * n-th retry (n from 1) waits between half and all of `base` x 2^(n-1), capped at `max`; the jitter
 * keeps many retries that began together (a server restart, a burst of failures) from staying together.
 * No wait is longer than the longest duration gearshift takes (10 years).
 */

import { maxDurationMs } from './timers.js';

/** Doublings past this many add nothing (2^20 times the base is beyond any sensible wait). */
const maxDoublings = 20;

/** The wait before retry number `attempt` (1 for the first retry), in milliseconds. */
export function backoffDelay(base: number, attempt: number, max = maxDurationMs): number {
  const full = Math.min(base * 2 ** Math.min(Math.max(attempt, 1) - 1, maxDoublings), max);
  return Math.round(full / 2 + Math.random() * (full / 2));
}

/**
 * The same rule as a SQL expression over two integer columns (or parameters), for a statement that
 * schedules retries of many rows at once: SQLite's random() gives each row its own jitter.
 */
export function backoffDelaySql(base: string, attempt: string): string {
  const full = `min(${base} << min(max(${attempt}, 1) - 1, ${maxDoublings}), ${maxDurationMs})`;
  return `CAST(round(${full} / 2.0 + ${full} / 2.0 * ((random() & 16777215) / 16777216.0)) AS INTEGER)`;
}
