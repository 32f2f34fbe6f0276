import { TOKEN, Ch, fieldContentEnd } from './chars.js';
import { FramingError } from './framing-error.js';
import { type Known, knownField } from './known-fields.js';

/** Where the head readFields read last ends (just past its empty line): one shared scratch object. */
export const lastHead = { end: 0 };

/**
 * Appends the line [start, end) to the kept ranges, the first `n` numbers of `ranges` ([start, end)
 * pairs), merging it with the last range when adjacent; returns the new count. Writing at index `n`
 * appends when the list is no longer, so a scratch list grows as needed and is never cut.
 */
export function keepLine(ranges: number[], n: number, start: number, end: number): number {
  if (n > 0 && ranges[n - 1] === start) {
    ranges[n - 1] = end;
    return n;
  }
  ranges[n] = start;
  ranges[n + 1] = end;
  return n + 2;
}

/** What a head parser does with each field line (requests and responses differ only here). */
export interface FieldVisitor {
  /**
   * One valid field line [lineStart, lineEnd): the name is [lineStart, nameEnd), the value without
   * surrounding whitespace [valueStart, valueEnd). Returns whether the line is forwarded. Throws
   * FramingError to refuse the message.
   */
  field(buf: Buffer, known: Known, lineStart: number, nameEnd: number, valueStart: number, valueEnd: number, lineEnd: number): boolean;
}

/**
 * The kept ranges of the head being read (heads are read one at a time, synchronously), copied out at
 * their exact size: a list pushed to from [] reserves 17 slots (~150 bytes per head, per request).
 */
const ranges: number[] = new Array<number>(64).fill(0);

/** The first n numbers of `ranges`, copied: usually 2 (the kept lines are adjacent); Array#slice costs ~10 times the loop. */
function keptRanges(n: number): number[] {
  if (n === 2) return [ranges[0]!, ranges[1]!];
  const out = new Array<number>(n);
  for (let k = 0; k < n; k++) out[k] = ranges[k]!;
  return out;
}

/**
 * Reads the field lines of a head from `start` up to its final empty line, reading buf[start, limit)
 * only, where buf[limit - 1] is an LF (see headLimit): every byte loop stops there at the latest, so
 * only whole lines are checked against `limit`. Each line is validated (RFC 9112 §5: a token name right
 * before the colon, no whitespace there, OWS around the value, no obs-fold, no control characters, CR
 * only before LF; `status` answers a bad one: 400 for clients, 502 for nodes), classified and shown to
 * `visitor`. Returns the lines the visitor forwards, as [start, end) pairs (adjacent lines merged),
 * with the head's end in `lastHead.end`; null when the empty line is not within `limit` (what the
 * visitor saw is then to be thrown away). One loop, no call per line but the visitor's: the line scan
 * was a function of its own, and its call and the positions it handed back cost about a tenth of it.
 */
export function readFields(buf: Buffer, start: number, limit: number, status: number, visitor: FieldVisitor): number[] | null {
  let n = 0;
  let i = start;
  const token = TOKEN; // a local name: an imported one is loaded and checked at every use
  for (;;) {
    if (i + 1 >= limit) return null;
    let c = buf[i]!;
    if (c === Ch.CR && buf[i + 1] === Ch.LF) break;
    const lineStart = i;
    if (c === Ch.SP || c === Ch.HTAB) throw new FramingError(status, 'obsolete line folding');
    // tchar: letters and '-' (nearly every name byte) by comparison, the rest by the table.
    while (((c | 0x20) - 0x61) >>> 0 < 26 || c === 0x2d || token[c] === 1) c = buf[++i]!;
    const nameEnd = i;
    if (nameEnd === lineStart || c !== Ch.COLON) throw new FramingError(status, 'malformed header field');
    c = buf[++i]!;
    while (c === Ch.SP || c === Ch.HTAB) c = buf[++i]!;
    const valueStart = i;
    i = fieldContentEnd(buf, i);
    // The line's CRLF and the first byte of the next, which must not fold it.
    if (i + 2 >= limit) return null;
    if (buf[i] !== Ch.CR || buf[i + 1] !== Ch.LF) throw new FramingError(status, 'invalid character in header field');
    // A folded continuation on the next line belongs to this value: refuse it before the value is judged.
    c = buf[i + 2]!;
    if (c === Ch.SP || c === Ch.HTAB) throw new FramingError(status, 'obsolete line folding');
    let valueEnd = i;
    while (valueEnd > valueStart && ((c = buf[valueEnd - 1]!) === Ch.SP || c === Ch.HTAB)) valueEnd--;
    i += 2;
    if (visitor.field(buf, knownField(buf, lineStart, nameEnd), lineStart, nameEnd, valueStart, valueEnd, i))
      n = keepLine(ranges, n, lineStart, i);
  }
  lastHead.end = i + 2;
  return keptRanges(n);
}
