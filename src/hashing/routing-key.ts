/**
 * Routing keys. An IronFunctions call is `ANY /r/:app/*route`: the function is (app, route path)
 * and the query string is its input, not its identity, so every call of one function lands on the
 * same node and keeps its hot containers warm. `/r/{app}/{route...}` therefore keys on the path alone; any other path
 * (`/v1/apps`, `/version`) keys on its path the same way.
 */

const QUESTION = 0x3f; // '?'
const HASH = 0x23; // '#'
const SLASH = 0x2f; // '/'

/**
 * The routing key of a request target: the path without query string or fragment.
 * "/r/myapp/hello?x=1" → "/r/myapp/hello". An absolute-form target ("http://h:1/r/a/b?q")
 * keys on its path too ("/r/a/b"), so both forms of one call land alike. An empty path keys as "/".
 * The path is taken as sent: no percent-decoding, no trailing-slash or dot-segment folding.
 */
export function functionKey(target: string): string {
  let start = 0;
  if (target.length > 0 && target.charCodeAt(0) !== SLASH && isAbsoluteForm(target)) {
    // Skip "scheme://authority"; the path starts at the next '/'.
    const authority = target.indexOf('//') + 2;
    start = firstOf(target, authority, SLASH);
    if (start === target.length) return '/';
  }
  const end = firstOf(target, start, QUESTION, HASH);
  if (end === start) return '/';
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

/**
 * The routing key when hashing on a configured header: its value when present and non-empty,
 * otherwise the function key of the target, so requests without the header keep function affinity.
 */
export function headerKey(value: string | undefined, fallbackTarget: string): string {
  return value !== undefined && value.length > 0 ? value : functionKey(fallbackTarget);
}

/** "http://" or "https://" (any case) at the start. */
function isAbsoluteForm(t: string): boolean {
  const colon = t.indexOf('://');
  if (colon !== 4 && colon !== 5) return false;
  const c0 = t.charCodeAt(0) | 0x20;
  const c1 = t.charCodeAt(1) | 0x20;
  const c2 = t.charCodeAt(2) | 0x20;
  const c3 = t.charCodeAt(3) | 0x20;
  if (c0 !== 0x68 || c1 !== 0x74 || c2 !== 0x74 || c3 !== 0x70) return false; // "http"
  return colon === 4 || (t.charCodeAt(4) | 0x20) === 0x73; // "s"
}

/** Index of the first of one or two code units at or after `from`, or the length. */
function firstOf(s: string, from: number, a: number, b = a): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === a || c === b) return i;
  }
  return s.length;
}
