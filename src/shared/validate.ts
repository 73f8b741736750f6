/**
 * Checks of option values, with errors that name the option, what it got and the range it takes: the
 * leaf every layer uses (client, backends, worker, CLI), so that one option reads the same wherever it
 * is given.
 */
import { InvalidOptionError } from '../errors.js';
import { maxDurationMs } from './timers.js';

/** Checks a whole number from `min` up; `alternative` names what else the option takes ("or 'auto'"). */
export function checkCount(name: string, value: unknown, min: number, alternative?: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const expected = `an integer from ${min} and up`;
    throw new InvalidOptionError(name, alternative ? `${expected}, ${alternative}` : expected, value);
  }
  return value;
}

/** The range of durations, as error messages state it. */
const durationRange = `${maxDurationMs} (10 years)`;

/**
 * Checks a duration in milliseconds from `min` (or, with `min` 0 and `positive`, above 0) up to
 * {@link maxDurationMs}: any such value waits as long as it says (see timers.ts).
 */
export function checkMilliseconds(name: string, value: unknown, min: number, positive = false): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (positive && value <= 0) ||
    value > maxDurationMs
  ) {
    const from = positive ? 'above 0' : `from ${min}`;
    throw new InvalidOptionError(name, `a number of milliseconds ${from} up to ${durationRange}`, value);
  }
  return value;
}

/** Checks a point in time (a Date, or milliseconds since the epoch) no further than the longest duration from `now`. */
export function checkTimeAhead(name: string, value: unknown, now: number): number {
  const at = value instanceof Date ? value.getTime() : value;
  if (typeof at !== 'number' || !Number.isFinite(at) || at - now > maxDurationMs) {
    throw new InvalidOptionError(
      name,
      `a valid Date or a number of milliseconds since the epoch, at most ${durationRange} from now`,
      value,
    );
  }
  return at;
}

/** Checks that a value is a non-null object. */
export function checkObject(name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value);
  }
}
