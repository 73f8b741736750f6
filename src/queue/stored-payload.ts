/**
 * Payloads as a queue file keeps them: JSON as TEXT, bytes as a BLOB, nothing as NULL. SQLite's
 * dynamic typing tells them apart on the way back, so no column says which is which.
 */
import type { PayloadMode } from '../backend.js';

/** Turns an input or a result into what is stored. */
export function toStored(value: unknown, payload: PayloadMode): string | Uint8Array | null {
  if (value === undefined) return null;
  if (payload === 'bytes' || Buffer.isBuffer(value)) return value as Buffer;
  return JSON.stringify(value);
}

/** Turns what is stored back into the value: a BLOB becomes a Buffer, whichever driver read it. */
export function fromStored(stored: string | Uint8Array | null): unknown {
  if (stored === null) return undefined;
  if (typeof stored === 'string') return JSON.parse(stored);
  return Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
}
