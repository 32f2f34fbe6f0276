import { CR, LF } from './chars.js';
import { FramingError } from './framing-error.js';

/**
 * Finds the end of a message head (index just past CRLFCRLF) in buf, or -1 if incomplete.
 * `scanFrom` is where the previous call stopped, so a head arriving in many pieces is scanned once.
 * A bare LF anywhere in the head is rejected here, before we wait for more bytes that would never frame.
 * A plain loop: heads are a few hundred bytes, and one Buffer#indexOf call per line (a trip into C++
 * each) cost more than reading the bytes here.
 */
export function findHeadEnd(buf: Buffer, scanFrom: number): number {
  const n = buf.length;
  for (let i = scanFrom > 3 ? scanFrom - 3 : 0; i < n; i++) {
    if (buf[i] !== LF) continue;
    if (i === 0 || buf[i - 1] !== CR) throw new FramingError(400, 'bare LF in message head');
    if (i >= 3 && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}
