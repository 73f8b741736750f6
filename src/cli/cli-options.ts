/** Reading the values of command-line options, with errors that name the option. */
import { checkCount, checkMilliseconds } from '../shared/validate.js';
import { UsageError } from './usage-error.js';

/** A whole number option (`--threads 4`), or its default. */
export function countOption(name: string, value: string | undefined, fallback: number, min: number): number {
  return checkCount(name, value === undefined ? fallback : Number(value), min);
}

/** A duration option in milliseconds, or undefined when absent. */
export function millisecondsOption(name: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : checkMilliseconds(name, Number(value), 0);
}

/** The queue file option, required by a command. */
export function requiredQueue(command: string, queue: string | undefined): string {
  if (!queue) throw new UsageError(`${command} needs --queue <file> (the queue file to work on)`);
  return queue;
}
