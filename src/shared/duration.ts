/**
 * Durations as people write them: `500` (milliseconds), `500ms`, `30s`, `15m`, `12h`, `7d`, or several
 * of them together (`1h30m`). The CLI takes them for every duration, and the API where a duration may
 * be written as text (`purge({ olderThan: '7d' })`).
 */
import { InvalidOptionError } from '../errors.js';
import { checkMilliseconds } from './validate.js';

const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * A duration in milliseconds from a number, or from text with units; checked against `min` and the
 * longest duration gearshift takes, with an error that names `name`.
 */
export function parseDuration(name: string, value: unknown, min = 0): number {
  if (typeof value === 'number') return checkMilliseconds(name, value, min);
  const text = typeof value === 'string' ? value.trim() : '';
  let ms: number | undefined;
  if (/^\d+(?:\.\d+)?(?:e\d+)?$/i.test(text)) ms = Number(text);
  else if (text.length > 0) {
    part.lastIndex = 0;
    let total = 0;
    while (part.lastIndex < text.length) {
      const match = part.exec(text);
      if (!match) {
        total = Number.NaN;
        break;
      }
      total += Number(match[1]) * (unitMs[match[2] as string] as number);
    }
    ms = total;
  }
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new InvalidOptionError(
      name,
      'a duration: milliseconds, or a number with a unit (ms, s, m, h, d) such as 30s, 15m, 7d or 1h30m',
      value,
    );
  }
  return checkMilliseconds(name, ms, min);
}
