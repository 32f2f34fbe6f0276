import { Ch } from './chars.js';
import { keepLine } from './field-line.js';

/**
 * Fields a Connection header may never remove: they frame the message (or are mandatory), and dropping
 * them would let a body reach the node as a second request.
 */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host']);

/**
 * Removes from `keep` (pairs of [start, end) line ranges into buf) every header line whose name is in
 * `names`: the headers a Connection field declares hop-by-hop. Rare, so written for clarity.
 */
export function withoutListedHeaders(buf: Buffer, keep: number[], names: string[]): number[] {
  const kept: number[] = [];
  let n = 0;
  for (let p = 0; p < keep.length; p += 2) {
    let s = keep[p];
    const e = keep[p + 1];
    while (s < e) {
      const lineEnd = buf.indexOf(Ch.LF, s) + 1;
      const name = buf.toString('latin1', s, buf.indexOf(Ch.COLON, s)).toLowerCase();
      if (!names.includes(name) || PROTECTED.has(name)) {
        n = keepLine(kept, n, s, lineEnd);
      }
      s = lineEnd;
    }
  }
  return kept;
}
