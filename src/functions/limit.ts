/**
 * A function's limit: how many of its jobs may run at once and how many may start per window, per
 * function or per group of jobs that share a key. The queue file enforces it across every runner in the
 * claim (src/queue/sql/claim-limited.ts); the local pool and a Gearman worker hold it in memory, per
 * process (src/local/limit-gate.ts). All three group jobs by the same key, read here.
 */
import { InvalidOptionError } from '../errors.js';
import { checkCount, checkMilliseconds, checkObject } from '../shared/validate.js';

/** At most `max` jobs start in any window of `perMs` milliseconds (a sliding window). */
export interface RateLimit {
  readonly max: number;
  readonly perMs: number;
}

/**
 * What a function declares as `limit`: at most `concurrency` jobs running at once, at most `rate.max`
 * started in any `rate.perMs`, or both. With `key`, each group of jobs whose input has the same value at
 * that path (a tenant, an API token) has the limit to itself; without it, the function has one.
 */
export interface FunctionLimit {
  readonly concurrency?: number | undefined;
  readonly rate?: RateLimit | undefined;
  /**
   * A path into the job's JSON input, its names joined by dots: `'tenant'`, `'account.id'`. Jobs group by
   * the value there, as text (`7` and `"7"` are one group); jobs without it form one group of their own.
   * A path, not a function, so that the queue file can read it in the claim itself, without loading the
   * functions module.
   */
  readonly key?: string | undefined;
}

/** A name on a key's path: anything but a dot, a quote or a bracket (which SQLite's paths would read). */
const segment = /^[^."[\]\\]+$/;

/** Checks a declared limit; `where` names it in errors (`defineFunctions(): 'send'.limit`). */
export function checkLimit(where: string, value: unknown, payload: 'json' | 'bytes'): FunctionLimit {
  checkObject(where, value);
  const { concurrency, rate, key, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw new InvalidOptionError(
      `${where}.${unknown[0]}`,
      'no such option (concurrency, rate, key)',
      rest[unknown[0] as string],
    );
  if (concurrency === undefined && rate === undefined)
    throw new InvalidOptionError(where, 'an object with concurrency, rate or both', value);
  if (concurrency !== undefined) checkCount(`${where}.concurrency`, concurrency, 1);
  if (rate !== undefined) {
    checkObject(`${where}.rate`, rate);
    const { max, perMs, ...other } = rate as Record<string, unknown>;
    const stray = Object.keys(other)[0];
    if (stray !== undefined)
      throw new InvalidOptionError(`${where}.rate.${stray}`, 'no such option (max, perMs)', other[stray]);
    checkCount(`${where}.rate.max`, max, 1);
    checkMilliseconds(`${where}.rate.perMs`, perMs, 1);
  }
  if (key !== undefined) {
    if (typeof key !== 'string' || !key.split('.').every((name) => segment.test(name)))
      throw new InvalidOptionError(
        `${where}.key`,
        "a path into the input, names joined by dots ('tenant', 'account.id')",
        key,
      );
    if (payload === 'bytes')
      throw new InvalidOptionError(
        `${where}.key`,
        'no key: a bytes function has no JSON input to read it from',
        key,
      );
  }
  return {
    concurrency: concurrency as number | undefined,
    rate: rate === undefined ? undefined : { max: (rate as RateLimit).max, perMs: (rate as RateLimit).perMs },
    key: key as string | undefined,
  };
}

/** The key as SQLite's JSON functions take it: `$."account"."id"`, each name quoted. */
export function limitKeyJsonPath(key: string): string {
  return `$${key
    .split('.')
    .map((name) => `."${name}"`)
    .join('')}`;
}

/**
 * The group a job's input falls in, as the queue's claim computes it in SQL: the value at the key's
 * path as text (an object or array as its JSON), or '' when the function has no key or the input has
 * nothing (or null) there.
 */
export function limitGroupOf(limit: FunctionLimit, input: unknown): string {
  if (limit.key === undefined) return '';
  let value = input;
  for (const name of limit.key.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, name))
      return '';
    value = (value as Record<string, unknown>)[name];
  }
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}
