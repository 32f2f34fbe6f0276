import { CR, LF } from './chars.js';
import { FramingError } from './framing-error.js';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Finds the end of a message head (index just past CRLFCRLF) in buf, or -1 if incomplete.
 * `scanFrom` is where the previous call stopped, so a head arriving in many pieces is scanned once.
 * A bare LF anywhere in the head is rejected here, before we wait for more bytes that would never frame.
 */
export function findHeadEnd(buf: Buffer, scanFrom: number): number {
  const from = scanFrom > 3 ? scanFrom - 3 : 0;
  let lf = buf.indexOf(LF, from);
  let end = -1;
  const found = buf.indexOf(HEAD_END, from);
  if (found !== -1) end = found + 4;
  const limit = end === -1 ? buf.length : end;
  while (lf !== -1 && lf < limit) {
    if (lf === 0 || buf[lf - 1] !== CR) throw new FramingError(400, 'bare LF in message head');
    lf = buf.indexOf(LF, lf + 1);
  }
  return end;
}
