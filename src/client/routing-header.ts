import type { Dispatcher } from 'undici';

/**
 * The value of header `name` in a request's headers, in any shape undici takes: an object (fetch passes
 * one with lower-case names), a flat [name, value, ...] array, [name, value] pairs, or an iterable of
 * pairs. The first value when repeated; undefined when absent.
 */
export function routingHeader(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (headers == null) return undefined;
  const wanted = name.toLowerCase();
  const first = (v: unknown): string | undefined => (Array.isArray(v) ? first(v[0]) : v == null ? undefined : String(v));
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return fromPairs(headers as unknown as Iterable<[string, unknown]>, wanted, first);
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === wanted) return first(headers[i + 1]);
    }
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return fromPairs(headers as Iterable<[string, unknown]>, wanted, first);
  }
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted) return first(v);
  }
  return undefined;
}

function fromPairs(pairs: Iterable<[string, unknown]>, wanted: string, first: (v: unknown) => string | undefined): string | undefined {
  for (const [k, v] of pairs) if (String(k).toLowerCase() === wanted) return first(v);
  return undefined;
}
