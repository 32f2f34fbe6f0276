import { randomBytes } from 'node:crypto';

/** Per process: ids of different processes (workers, restarts) do not collide. */
const PREFIX = randomBytes(4).toString('hex');
let counter = 0;

/** A request id: 16 hex characters, a random per-process prefix and a counter (no randomness per request). */
export function nextRequestId(): string {
  counter = (counter + 1) >>> 0;
  return PREFIX + (counter + 0x1_0000_0000).toString(16).slice(1);
}
