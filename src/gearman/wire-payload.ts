/**
 * Payloads on the Gearman wire: JSON as UTF-8 text (what a PHP worker's json_encode produces and its
 * json_decode reads), bytes as they are, no input as an empty payload.
 */

import type { PayloadMode } from '../backend.js';
import { PayloadError } from '../errors.js';

/** An input, result or data chunk as bytes on the wire. */
export function toWire(value: unknown, payload: PayloadMode): Buffer {
  if (payload === 'bytes') return Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
  return value === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Refuses a payload larger than the packets this side accepts (`gearman.maxPacketBytes`), before it is
 * sent: a peer with the same limit would drop the connection over it, so the one job fails instead.
 */
export function checkWireSize(functionName: string, what: string, bytes: Buffer, maxBytes: number): void {
  if (bytes.length <= maxBytes) return;
  throw new PayloadError(
    functionName,
    what,
    `is ${bytes.length} bytes, more than the ${maxBytes} a packet may carry (gearman.maxPacketBytes)`,
  );
}

/**
 * Bytes from the wire as a value. JSON payloads must be JSON: a worker (or client) that sends plain text
 * to a JSON function gets a PayloadError that says so, rather than a guess at what it meant. NUL bytes
 * after the JSON are left out: some client libraries end a payload with one, as a C string, and the JSON
 * before it is what they meant.
 */
export function fromWire(functionName: string, what: string, bytes: Buffer, payload: PayloadMode): unknown {
  if (payload === 'bytes') return bytes;
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8', 0, end));
  } catch {
    // Its size, never its bytes (nor JSON.parse's message, which quotes them): a payload may hold a
    // user's data, and error messages end up in logs.
    throw new PayloadError(
      functionName,
      what,
      `is not JSON (${bytes.length} bytes); to exchange raw bytes, send a Buffer or declare the function with { bytes }`,
    );
  }
}
