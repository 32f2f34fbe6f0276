/** Byte-class tables for RFC 9110/9112 grammar checks without regexes on the hot path. */

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** tchar: header names, methods, transfer codings. */
export const TOKEN = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** field-content: VCHAR, obs-text, SP and HTAB; never NUL, CR, LF, other controls or DEL. */
export const FIELD_VALUE = table((c) => c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/**
 * Index of the first byte at or after `i` that is not field-content (FIELD_VALUE): a head's reads end
 * in an LF (see headLimit), which stops it. By comparisons: the loop runs over every header value, and
 * a table lookup per byte cost more instructions (callgrind).
 */
export function fieldContentEnd(buf: Uint8Array, i: number): number {
  let c = buf[i];
  while (c! > 0x1f ? c !== 0x7f : c === Ch.HTAB) c = buf[++i];
  return i;
}

/** request-target: visible ASCII only (no spaces, controls, DEL, raw non-ASCII, or a fragment '#'). */
export const TARGET = table((c) => c >= 0x21 && c <= 0x7e && c !== 0x23);

/** reg-name characters of a host (RFC 3986 unreserved and sub-delims; '%' is checked apart). */
export const REG_NAME = table((c) => isAlnum(c) || "-._~!$&'()*+,;=".includes(String.fromCharCode(c)));

/** Hex digit value, or 255. */
export const HEX = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

/** ASCII lower-case mapping. */
export const LOWER = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c >= 0x41 && c <= 0x5a ? c + 32 : c;
  return t;
})();

/** Case-insensitive compare of buf[start, start+name.length) with a lower-case ASCII name. */
export function equalsLower(buf: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (LOWER[buf[start + i]] !== name[i]) return false;
  return true;
}

/**
 * The bytes the parsers compare against. A const enum, so each use compiles to its number: an imported
 * `const` is a live binding, which optimized code loads and checks for its temporal dead zone at every
 * use, inside the byte loops.
 */
export const enum Ch {
  HTAB = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  SP = 0x20,
  COLON = 0x3a,
}
