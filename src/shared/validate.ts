/**
 * Checks of option values, with errors that name the option and what it got: the leaf every layer uses
 * (client, backends, worker, CLI), so that one option reads the same wherever it is given.
 */
import { InvalidOptionError } from '../errors.js';

/** Checks a whole number from `min` up; `alternative` names what else the option takes ("or 'auto'"). */
export function checkCount(name: string, value: unknown, min: number, alternative?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const expected = `an integer from ${min} and up`;
    throw new InvalidOptionError(name, alternative ? `${expected}, ${alternative}` : expected, value);
  }
  return value;
}

/** Checks a duration in milliseconds from `min` up. */
export function checkMilliseconds(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(name, `a number of milliseconds from ${min} and up`, value);
  }
  return value;
}

/** Checks that a value is a non-null object. */
export function checkObject(name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value);
  }
}
