/**
 * Payloads on the Gearman wire: JSON as UTF-8 text (what a PHP worker's json_encode produces and its
 * json_decode reads), bytes as they are, no input as an empty payload.
 */
import { PayloadError } from '../errors.js';
import type { PayloadMode } from '../functions/define.js';

/** An input, result or data chunk as bytes on the wire. */
export function toWire(value: unknown, payload: PayloadMode): Buffer {
  if (payload === 'bytes') return Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
  return value === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Bytes from the wire as a value. JSON payloads must be JSON: a worker (or client) that sends plain text
 * to a JSON function gets a PayloadError that says so, rather than a guess at what it meant.
 */
export function fromWire(functionName: string, what: string, bytes: Buffer, payload: PayloadMode): unknown {
  if (payload === 'bytes') return bytes;
  if (bytes.length === 0) return undefined;
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    const shown = text.length > 40 ? `${JSON.stringify(text.slice(0, 40))}...` : JSON.stringify(text);
    throw new PayloadError(
      functionName,
      what,
      `is not JSON (${bytes.length} bytes: ${shown}); to exchange raw bytes, send a Buffer or declare the function with { bytes }`,
    );
  }
}
