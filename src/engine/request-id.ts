import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';

/** Per process: ids of different processes (workers, restarts) do not collide. */
const PREFIX = randomBytes(4).toString('hex');
const PREFIX_BYTES = Buffer.from(PREFIX, 'latin1');
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Two hex digits per byte value: four lookups instead of Number#toString(16) (~7x slower). */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));
let counter = 0;

/** A request id is 16 hex characters: the per-process prefix, then the request's number. */
export const REQUEST_ID_LENGTH = 16;

/**
 * The number of the next request id (no randomness per request). The id itself is written into the
 * node's head as bytes (writeRequestId) and made a string only when something reads it (requestIdText).
 */
export function nextRequestNumber(): number {
  return (counter = (counter + 1) >>> 0);
}

/** The id of request number `n`. */
export function requestIdText(n: number): string {
  return PREFIX + HEX[n >>> 24]! + HEX[(n >>> 16) & 0xff]! + HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!;
}

/** Writes the id of request number `n` at out[at, at + REQUEST_ID_LENGTH). */
export function writeRequestId(out: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < 8; i++) out[at + i] = PREFIX_BYTES[i]!;
  for (let i = REQUEST_ID_LENGTH - 1; i >= 8; i--, n >>>= 4) out[at + i] = DIGITS[n & 15]!;
}
