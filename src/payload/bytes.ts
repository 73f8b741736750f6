/** Raw byte payloads, for functions declared with `{ bytes: handler }`. */
import { PayloadError } from '../errors.js';

/**
 * Turns a bytes payload into a Buffer: a Buffer as it is, any other Uint8Array as a view on the same
 * memory (a Buffer loses its prototype when it crosses a thread), a string as UTF-8.
 */
export function toBuffer(functionName: string, what: string, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new PayloadError(
    functionName,
    what,
    `is ${kind}, but this function takes bytes (a Buffer, a Uint8Array or a string)`,
  );
}
