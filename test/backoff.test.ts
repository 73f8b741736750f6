/**
 * The one backoff rule, in TypeScript and as the SQL that takes back expired leases: the same bounds,
 * and jitter spread over them, in both.
 */
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/queue/sqlite/open-sqlite.js';
import { backoffDelay, backoffDelaySql } from '../src/shared/backoff.js';

const samples = 2000;

function inSql(base: number, attempt: number): number[] {
  const db = openSqlite(':memory:');
  try {
    const statement = db.prepare(`SELECT ${backoffDelaySql(':base', ':attempt')} AS delay`);
    return Array.from({ length: samples }, () => statement.value({ base, attempt }) as number);
  } finally {
    db.close();
  }
}

function inTypeScript(base: number, attempt: number): number[] {
  return Array.from({ length: samples }, () => backoffDelay(base, attempt));
}

describe('backoff: TypeScript and SQL', () => {
  for (const [base, attempt] of [
    [1000, 1],
    [1000, 3],
    [50, 30],
  ] as const) {
    it(`waits between half and all of base x 2^(n-1), whole milliseconds, spread over it (base ${base}, retry ${attempt})`, () => {
      const full = base * 2 ** Math.min(attempt - 1, 20);
      for (const delays of [inTypeScript(base, attempt), inSql(base, attempt)]) {
        expect(delays.every((delay) => Number.isInteger(delay))).toBe(true);
        expect(Math.min(...delays)).toBeGreaterThanOrEqual(full / 2);
        expect(Math.max(...delays)).toBeLessThanOrEqual(full);
        // Spread: the lowest and highest tenths of the range are both reached.
        expect(Math.min(...delays)).toBeLessThan(full * 0.55);
        expect(Math.max(...delays)).toBeGreaterThan(full * 0.95);
      }
    });
  }

  it('caps the wait at max in TypeScript', () => {
    expect(
      Math.max(...Array.from({ length: 200 }, () => backoffDelay(1000, 30, 30_000))),
    ).toBeLessThanOrEqual(30_000);
  });
});
