import { Ch } from './chars.js';
import { FramingError } from './framing-error.js';

/**
 * Finds the end of a message head (index just past CRLFCRLF) in buf, or -1 if incomplete.
 * `scanFrom` is where the previous call stopped, so a head arriving in many pieces is scanned once.
 * A bare LF anywhere in the head is rejected here, before we wait for more bytes that would never frame.
 * Buffer#indexOf from one LF to the next (memchr in C++) rather than a byte loop: a 160-byte response
 * head took ~210 ns by loop, ~90 by indexOf.
 */
export function findHeadEnd(buf: Buffer, scanFrom: number): number {
  let i = scanFrom > 3 ? scanFrom - 3 : 0;
  for (;;) {
    i = buf.indexOf(Ch.LF, i);
    if (i === -1) return -1;
    if (i === 0 || buf[i - 1] !== Ch.CR) throw new FramingError(400, 'bare LF in message head');
    if (i >= 3 && buf[i - 2] === Ch.LF && buf[i - 3] === Ch.CR) return i + 1;
    i++;
  }
}

/** How far back from the end of a read headLimit looks for an LF. */
const LIMIT_LOOK_BACK = 64;

/**
 * Where a one-pass read of the head at the start of buf (readRequestHead, readResponseHead) is to
 * stop: just past the last LF among buf's last LIMIT_LOOK_BACK bytes of the first `max`, so that every
 * byte loop of the read stops at that LF at the latest and checks no bound per byte. A read holding a
 * whole head ends with the head, or with a short body, or a body ending in a newline, almost always.
 * 0 when there is no such LF: the head then takes the long way (findHeadEnd).
 */
export function headLimit(buf: Buffer, max: number): number {
  let end = buf.length < max ? buf.length : max;
  const stop = end > LIMIT_LOOK_BACK ? end - LIMIT_LOOK_BACK : 0;
  for (; end > stop; end--) if (buf[end - 1] === Ch.LF) return end;
  return 0;
}

/** RFC 9112 §2.2: empty lines a server ignores before a request line; more are a malformed request. */
const MAX_EMPTY_LINES = 4;

/**
 * How many empty lines (CRLF) to skip at the start of buf, given how many were already skipped before
 * this request (the count is per request, not per read, so pieces and one whole buffer frame alike).
 */
export function emptyLinesToSkip(buf: Buffer, alreadySkipped: number): number {
  let n = 0;
  while (alreadySkipped + n < MAX_EMPTY_LINES && 2 * n + 1 < buf.length && buf[2 * n] === Ch.CR && buf[2 * n + 1] === Ch.LF) n++;
  return n;
}

/** RFC 9112 §3: a request line alone over the limit is 414 (URI too long); otherwise 431. */
export function headTooLarge(buf: Buffer, maxHead: number): FramingError {
  const lineEnd = buf.indexOf(Ch.LF);
  if (lineEnd === -1 || lineEnd >= maxHead) return new FramingError(414, 'request target too long');
  return new FramingError(431, 'request header fields too large');
}
