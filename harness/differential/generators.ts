/**
 * fast-check generators of HTTP/1.1 byte streams from a grammar that mixes valid and near-valid pieces
 * (RFC 9112): request lines, status lines, field lines, Content-Length and Transfer-Encoding variants,
 * chunked bodies, pipelined messages, then arbitrary byte mutations of the whole.
 * Everything is built as latin1 text, so every byte 0x00-0xff can appear.
 */
import fc from 'fast-check';

/** Picks mostly the first arbitrary: `rare` of the time (out of 100) one of the odd ones. */
function pick<T>(usual: fc.Arbitrary<T>, rare: number, ...odd: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  if (odd.length === 0 || rare === 0) return usual;
  return fc.oneof({ arbitrary: usual, weight: (100 - rare) * odd.length }, ...odd.map((a) => ({ arbitrary: a, weight: rare })));
}
const one = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
const chars = (s: string): string[] => s.split('');
const join = (a: string[]): string => a.join('');

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const byteChar = (lo: number, hi: number): fc.Arbitrary<string> => fc.integer({ min: lo, max: hi }).map((c) => String.fromCharCode(c));
/** Controls other than HTAB, CR and LF, and DEL. */
const ctl = fc.oneof(byteChar(0x00, 0x08), one('\x0b', '\x0c', '\x7f'), byteChar(0x0e, 0x1f));
const obsText = byteChar(0x80, 0xff);
const anyByte = byteChar(0x00, 0xff);

const token = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...chars(TCHAR)), { minLength: min, maxLength: max }).map(join);
const caseOf = (name: string): fc.Arbitrary<string> => one(name, name.toLowerCase(), name.toUpperCase());
/** Valid optional whitespace. */
const ows = pick(one('', ' '), 30, one('\t', '  ', ' \t', '\t '));
const hexOf = (n: number): fc.Arbitrary<string> =>
  fc.tuple(fc.nat({ max: 2 }), fc.boolean()).map(([z, upper]) => '0'.repeat(z) + (upper ? n.toString(16).toUpperCase() : n.toString(16)));

interface Framing {
  lines: string[];
  body: string;
}

/**
 * The grammar. `dirty` lets near-valid pieces in (invalid bytes, bad numbers, odd forms); a clean message
 * is valid for fnlb, except for the choices RFC 9112 leaves open, so both kinds get through to the
 * comparison often.
 */
function grammar(dirty: boolean) {
  /** pick(), with the odd pieces only in a dirty message. */
  const mostly = <T>(usual: fc.Arbitrary<T>, rare: number, ...odd: fc.Arbitrary<T>[]): fc.Arbitrary<T> =>
    pick(usual, dirty ? rare : 0, ...odd);

  const eol = mostly(one('\r\n'), 3, one('\n', '\r', '\r\r\n', '\n\r', ' \r\n', '\r \n'));

  /* -------------------------------------------------- request line */
  const method = pick(
    one('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'),
    8,
    one('PURGE', 'TRACE', 'M-SEARCH', 'get', 'FOO'),
    dirty ? one('CONNECT', 'GETT', 'G(T', 'G ET', 'GET\t', '', 'Post') : one('LINK'),
    token(1, 6),
  );
  const pathChar = mostly(
    fc.constantFrom(...chars("abcxyzABC0123456789-._~!$&'()*+,;=:@/%")),
    3,
    one('?', '#', '"', '<', '>', '\\', '^', '`', '{', '|', '}', '[', ']', ' ', '\t'),
    ctl,
    obsText,
  );
  const path = fc.array(pathChar, { maxLength: 16 }).map((a) => '/' + join(a));
  const host = mostly(
    one('fn.example', 'a', '127.0.0.1', 'a.b:8080', '[::1]:8080', 'x-y.z', '', 'a%41', 'a:'),
    25,
    one('a:b:c', '[::1', 'a:8x', 'a%zz', 'a b', 'a\tb', 'a@b', 'a/b', 'é', ':80'),
  );
  const target = fc.oneof(
    { arbitrary: path, weight: 10 },
    { arbitrary: fc.tuple(path, fc.array(pathChar, { maxLength: 8 })).map(([p, q]) => `${p}?${join(q)}`), weight: 3 },
    {
      arbitrary: fc
        .tuple(mostly(one('http://', 'https://', 'HTTP://'), 30, one('ftp://', 'http:/', 'http:')), host, one('', '/', '/a', '?q', '/a?b'))
        .map((a) => join(a)),
      weight: 2,
    },
    { arbitrary: mostly(one('*', '//a/b'), 100, one('**', '*/', 'a', 'fn.example:80', '', '/a b', '/%00', '/%zz')), weight: 1 },
  );
  const version = mostly(
    one('HTTP/1.1', 'HTTP/1.0'),
    15,
    one(
      'HTTP/1.2',
      'HTTP/2.0',
      'HTTP/0.9',
      'HTTP/2',
      'http/1.1',
      'HTTP/1.1 ',
      'HTTP/11',
      'HTTP/1.01',
      'HTTP/1',
      'HTTP/1.x',
      'HTTP 1.1',
      'HTTP/9.9',
      '',
    ),
  );
  const sp = mostly(one(' '), 4, one('  ', '\t', ''));
  const requestLine = fc.tuple(method, sp, target, sp, version, eol).map((a) => join(a));

  /* -------------------------------------------------- field lines */
  const fieldName = mostly(
    token(1, 10),
    8,
    fc.tuple(token(1, 5), one(' ', '\t', '\x00', '(', '"', '\x7f', '\xe9', '/'), token(0, 4)).map((a) => join(a)),
    one('', ' X', '\tX'),
  );
  const valueChar = pick(
    fc.constantFrom(...chars('abcXYZ019 -_=;,"/()*')),
    dirty ? 3 : 1,
    obsText,
    one('\t', ':'),
    ...(dirty ? [ctl, one('\r', '\n')] : []),
  );
  const fieldValue = fc.array(valueChar, { maxLength: 14 }).map(join);
  const fieldLine = (name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
    fc.tuple(name, mostly(one(':'), 6, one(' :', '\t:', '', '::')), ows, value, ows, eol).map((a) => join(a));
  /** A second copy of a field now and then. */
  const maybeTwice = (line: fc.Arbitrary<string>): fc.Arbitrary<string[]> =>
    fc.tuple(line, mostly(fc.constant(null), 15, line)).map(([a, b]) => (b === null ? [a] : [a, b]));

  /** Content-Length values: mostly the right length, else signs, lists, zeros, spaces, huge numbers. */
  const contentLengthValue = (n: number): fc.Arbitrary<string> =>
    pick(
      one(String(n)),
      dirty ? 30 : 5,
      one(`0${n}`, `00${n}`),
      ...(dirty
        ? [
            one(
              `+${n}`,
              `-${n}`,
              `${n},${n}`,
              `${n}, ${n}`,
              `${n}, ${n + 1}`,
              `${n} ${n}`,
              `0x${n.toString(16)}`,
              `${n}.0`,
              `${n}e0`,
              '',
              ' ',
            ),
            one('99999999999999999999', '18446744073709551616', '4294967296', '1000000000000000', '999999999999999', '9007199254740993'),
            fc.nat({ max: 40 }).map(String),
          ]
        : []),
    );
  const transferEncodingValue = mostly(
    pick(one('chunked'), 10, one('Chunked', 'CHUNKED', ',chunked', 'chunked,', 'chunked ,')),
    30,
    one('chunked, chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'gzip', 'chunked;q=1'),
    one('xchunked', 'chunkedx', '"chunked"', 'chunked\x0b', '\x0bchunked', '', 'chunk ed', 'identity, chunked'),
  );
  const connectionValue = pick(
    one('close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'close, keep-alive', 'keep-alive, x-a', 'x-a', 'upgrade', 'Upgrade', 'te'),
    dirty ? 30 : 10,
    one('content-length', 'transfer-encoding', 'host', 'keep-alive, close'),
    ...(dirty ? [one('close x', ',close,', 'close;q', '"close"')] : []),
  );

  /* -------------------------------------------------- chunked bodies */
  const chunkExt = pick(
    one(''),
    25,
    one(';a', ';a=b', ';a="b c"', ';a="\\"x"', ';a=b;c', ';a;b=c'),
    one(' ;a', '; a', ';a = b', ';a =b', ';a= b', ' \t;a'),
    ...(dirty ? [one(';a=', ';=b', ';', ';a b', ';a="b', ';a=\x01', ';a\x00', ' ', '\t', ';a ', ';a;', ';a="\x7f"')] : []),
  );
  const chunkSize = (n: number): fc.Arbitrary<string> =>
    mostly(
      hexOf(n),
      10,
      one('', 'g', '-1', '+1', `0x${n.toString(16)}`, ' ' + n.toString(16), 'ffffffffffffffffff', '10000000000000', '00000000000000000001'),
      fc.nat({ max: 40 }).map((m) => m.toString(16)),
    );
  const chunkData = (n: number): fc.Arbitrary<string> =>
    fc.oneof(fc.array(anyByte, { minLength: n, maxLength: n }).map(join), one('0\r\n\r\n'.padEnd(n, 'x').slice(0, n)));
  const chunk = fc
    .integer({ min: 1, max: 24 })
    .chain((n) =>
      fc
        .tuple(chunkSize(n), chunkExt, eol, chunkData(n), mostly(one('\r\n'), 8, one('', '\n', '\r', 'x\r\n', '\r\n\r\n')))
        .map((a) => join(a)),
    );
  const trailerLine = fieldLine(token(1, 8), fieldValue);
  const chunkedBody = fc
    .tuple(
      fc.array(chunk, { maxLength: 4 }),
      mostly(one('0', '00', '000'), 10, one('0 ', ' 0', '')),
      chunkExt,
      eol,
      fc.array(trailerLine, { maxLength: 2 }),
      mostly(one('\r\n'), 8, one('\n', '', '\r')),
    )
    .map(([chunks, last, ext, e, trailers, fin]) => join(chunks) + last + ext + e + join(trailers) + fin);

  /** The framing fields and a body consistent with them, mostly. */
  const framing: fc.Arbitrary<Framing> = fc.oneof(
    { arbitrary: fc.constant<Framing>({ lines: [], body: '' }), weight: 4 },
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.nat({ max: 30 }), fc.boolean())
        .chain(([n, upper]) =>
          fc.tuple(
            maybeTwice(fieldLine(caseOf('Content-Length'), contentLengthValue(n))),
            fc.oneof(
              fc.array(anyByte, { minLength: n, maxLength: n }).map(join),
              fc.constant('GET /x HTTP/1.1\r\nHost: a\r\n\r\n'.slice(0, n).padEnd(n, upper ? 'B' : 'b')),
            ),
          ),
        )
        .map(([lines, body]) => ({ lines, body })),
    },
    {
      weight: 5,
      arbitrary: fc
        .tuple(maybeTwice(fieldLine(caseOf('Transfer-Encoding'), transferEncodingValue)), chunkedBody)
        .map(([lines, body]) => ({ lines, body })),
    },
    {
      weight: dirty ? 2 : 0,
      arbitrary: fc
        .tuple(
          fieldLine(caseOf('Transfer-Encoding'), transferEncodingValue),
          fieldLine(caseOf('Content-Length'), contentLengthValue(5)),
          chunkedBody,
          fc.boolean(),
        )
        .map(([te, cl, body, teFirst]) => ({ lines: teFirst ? [te, cl] : [cl, te], body })),
    },
  );

  const obsFold = fc.tuple(one(' ', '\t'), fieldValue, eol).map((a) => join(a));
  const requestField = fc.oneof(
    { arbitrary: fieldLine(fieldName, fieldValue), weight: 10 },
    { arbitrary: fieldLine(caseOf('Connection'), connectionValue), weight: 2 },
    { arbitrary: fieldLine(one('Upgrade'), pick(one('h2c', 'foo'), dirty ? 30 : 0, one('websocket', 'WebSocket/13'))), weight: 1 },
    { arbitrary: fieldLine(one('Expect'), pick(one('100-continue', '100-Continue'), dirty ? 30 : 0, one('bogus'))), weight: 1 },
    { arbitrary: fieldLine(one('X-Forwarded-For', 'Keep-Alive', 'TE', 'Trailer', 'Proxy-Connection', 'X-Fn-Id'), fieldValue), weight: 1 },
    { arbitrary: dirty ? fc.oneof(fieldLine(one('Host', 'host'), host), obsFold) : fieldLine(token(1, 4), fieldValue), weight: 1 },
  );

  /** One request: request line, Host (mostly), other fields in any order, framing, body. */
  const requestMessage: fc.Arbitrary<string> = fc
    .tuple(
      requestLine,
      mostly(fieldLine(one('Host'), host), 10, one('')),
      fc.array(requestField, { maxLength: 5 }),
      framing,
      fc.nat(),
      mostly(one('\r\n'), 4, eol),
    )
    .map(([line, h, fields, f, at, end]) => {
      const lines = [...fields];
      for (const l of [h, ...f.lines]) lines.splice(lines.length === 0 ? 0 : at % (lines.length + 1), 0, l);
      return line + join(lines) + end + f.body;
    });

  /* -------------------------------------------------- responses */
  const statusCode = mostly(
    one('200', '204', '304', '404', '500', '100', '103', '201', '599'),
    12,
    one('101', '199', '099', '600', '999', '20', '2000', 'abc', '2 0', '+20'),
  );
  const reason = mostly(one('OK', 'No Content', 'Not Modified', 'X', ''), 30, fieldValue);
  const statusLine = fc
    .tuple(
      mostly(
        one('HTTP/1.1', 'HTTP/1.0'),
        10,
        one('HTTP/1.2', 'HTTP/2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/0.9', 'ICY', 'HTTP/1.x'),
      ),
      sp,
      statusCode,
      mostly(one(' '), 8, one('', '  ', '\t')),
      reason,
      eol,
    )
    .map((a) => join(a));
  const responseField = fc.oneof(
    { arbitrary: fieldLine(fieldName, fieldValue), weight: 10 },
    { arbitrary: fieldLine(caseOf('Connection'), connectionValue), weight: 2 },
    { arbitrary: fieldLine(one('Keep-Alive', 'Proxy-Connection', 'Upgrade', 'Trailer', 'TE'), fieldValue), weight: 1 },
    { arbitrary: dirty ? obsFold : fieldLine(token(1, 4), fieldValue), weight: 1 },
  );
  const interim = fc
    .tuple(
      mostly(one('HTTP/1.1 100 Continue', 'HTTP/1.1 103 Early Hints', 'HTTP/1.1 102'), 30, one('HTTP/1.0 100 Continue')),
      fc.array(responseField, { maxLength: 1 }),
    )
    .map(([l, f]) => `${l}\r\n${join(f)}\r\n`);
  const responseMessage: fc.Arbitrary<GenResponse> = fc
    .record({
      interims: pick(fc.constant<string[]>([]), 15, fc.array(interim, { minLength: 1, maxLength: 2 })),
      line: statusLine,
      fields: fc.array(responseField, { maxLength: 4 }),
      framing,
      at: fc.nat(),
      end: mostly(one('\r\n'), 4, eol),
      after: pick(
        one(''),
        30,
        one('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'garbage', '\r\n'),
        fc.array(anyByte, { maxLength: 6 }).map(join),
      ),
      head: pick(fc.constant(false), 15, fc.constant(true)),
    })
    .map((r) => {
      const lines = [...r.fields];
      for (const l of r.framing.lines) lines.splice(lines.length === 0 ? 0 : r.at % (lines.length + 1), 0, l);
      return { text: join(r.interims) + r.line + join(lines) + r.end + (r.head ? '' : r.framing.body) + r.after, head: r.head };
    });

  return { requestMessage, responseMessage, path };
}

export interface GenResponse {
  text: string;
  /** The request was HEAD: the response has no body whatever its fields say. */
  head: boolean;
}

const clean = grammar(false);
const dirty = grammar(true);

/** A plain valid request, as a pipelined follower. */
const simpleRequest = fc
  .tuple(one('GET', 'POST', 'HEAD'), clean.path, one('HTTP/1.1', 'HTTP/1.0'), fc.nat({ max: 12 }))
  .map(([m, p, v, n]) => `${m} ${p} ${v}\r\nHost: a\r\n${m === 'POST' ? `Content-Length: ${n}\r\n\r\n${'p'.repeat(n)}` : '\r\n'}`);

const leadingEmptyLines = pick(one(''), 15, one('\r\n', '\r\n\r\n', '\r\n'.repeat(4), '\n', '\r', '\r\n\n'));
const anyMessage = <T>(weightDirty: number, a: { clean: fc.Arbitrary<T>; dirty: fc.Arbitrary<T> }): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: a.clean, weight: 100 - weightDirty }, { arbitrary: a.dirty, weight: weightDirty });
const requestMessage = (weightDirty: number) => anyMessage(weightDirty, { clean: clean.requestMessage, dirty: dirty.requestMessage });

/** A stream of one to three requests as a client sends them on one connection. */
export const requestStream: fc.Arbitrary<string> = fc
  .tuple(
    leadingEmptyLines,
    requestMessage(40),
    fc.array(fc.tuple(leadingEmptyLines, fc.oneof(simpleRequest, requestMessage(20))), { maxLength: 2 }),
  )
  .map(([lead, first, rest]) => lead + first + rest.map(([l, r]) => l + r).join(''));

/** Interim responses, one final response with its body, then maybe what a broken node sends after it. */
export const responseStream: fc.Arbitrary<GenResponse> = anyMessage(40, { clean: clean.responseMessage, dirty: dirty.responseMessage });

/* ------------------------------------------------------------------ mutations */

const SPECIAL = [
  '\r',
  '\n',
  ' ',
  '\t',
  '\x00',
  ':',
  ',',
  ';',
  '"',
  '=',
  '0',
  '9',
  'a',
  'F',
  '\x7f',
  '\x80',
  '\xff',
  '\x0b',
  '\x0c',
  '-',
  '+',
  '#',
  '/',
];
type Mutation = [kind: number, at: number, ch: string, len: number];
const mutation: fc.Arbitrary<Mutation> = fc.tuple(
  fc.nat({ max: 4 }),
  fc.nat(),
  fc.oneof(fc.constantFrom(...SPECIAL), anyByte),
  fc.integer({ min: 1, max: 40 }),
);

/** Applies byte mutations: replace, insert, delete, duplicate a slice, delete a slice. */
export function mutate(text: string, mutations: readonly Mutation[]): string {
  let s = text;
  for (const [kind, at, ch, len] of mutations) {
    if (s.length === 0) break;
    const i = at % s.length;
    switch (kind) {
      case 0:
        s = s.slice(0, i) + ch + s.slice(i + 1);
        break;
      case 1:
        s = s.slice(0, i) + ch + s.slice(i);
        break;
      case 2:
        s = s.slice(0, i) + s.slice(i + 1);
        break;
      case 3:
        s = s.slice(0, i + len) + s.slice(i, i + len) + s.slice(i + len);
        break;
      default:
        s = s.slice(0, i) + s.slice(i + len);
    }
  }
  return s;
}

/** The stream as generated (half of the time) or with one to three byte mutations. */
export function mutated<T>(arb: fc.Arbitrary<T>, get: (t: T) => string, set: (t: T, text: string) => T): fc.Arbitrary<T> {
  return fc.oneof(
    arb,
    fc.tuple(arb, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([t, ms]) => set(t, mutate(get(t), ms))),
  );
}

export const requestInput: fc.Arbitrary<string> = mutated(
  requestStream,
  (s) => s,
  (_, s) => s,
);
export const responseInput: fc.Arbitrary<GenResponse> = mutated(
  responseStream,
  (r) => r.text,
  (r, text) => ({ ...r, text }),
);
