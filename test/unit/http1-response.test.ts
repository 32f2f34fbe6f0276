/**
 * Response-head framing (src/engine/http1/response-head.ts) and the head sent back to the client
 * (clientResponseHead in rewrite.ts): status-line forms, body-kind rules of RFC 9112 §6.3, reuse of the
 * node connection, refused heads (FramingError 502), hop-by-hop fields, zero-copy pass-through.
 *
 * The regression sections hold the framing bugs the first version of these tests found (listed framing
 * fields stripped, Host structure, '#', chunk-ext grammar, HTTP/1.0 + Transfer-Encoding reuse).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { findHeadEnd } from '../../src/engine/http1/head-scan.js';
import { BodyKind, parseResponseHead, readResponseHead, type ResponseHead } from '../../src/engine/http1/response-head.js';
import { FramingError } from '../../src/engine/http1/framing-error.js';
import { checkOnePass as checkBothWays } from '../../harness/one-pass.js';
import { clientResponseHead } from '../../src/engine/http1/rewrite.js';

/** A buffer of its own (not a slice of Node's shared pool), so identity checks mean something. */
function own(s: string): Buffer {
  const b = Buffer.alloc(Buffer.byteLength(s, 'latin1'));
  b.write(s, 0, 'latin1');
  return b;
}

/** The one-pass read agrees with the long way (harness/one-pass.ts): every head the tests below parse goes through it. */
function checkOnePass(buf: Buffer, isHead: boolean): void {
  checkBothWays(
    buf,
    (end) => parseResponseHead(buf, end, isHead),
    (limit) => readResponseHead(buf, limit, isHead, undefined, false),
  );
}

function parse(text: string, isHead = false): { buf: Buffer; res: ResponseHead } {
  const buf = own(text);
  checkOnePass(buf, isHead);
  const end = findHeadEnd(buf, 0);
  assert.notEqual(end, -1, 'no head end');
  return { buf, res: parseResponseHead(buf, end, isHead) };
}

function keptText(buf: Buffer, keep: number[]): string {
  let s = '';
  for (let p = 0; p < keep.length; p += 2) s += buf.toString('latin1', keep[p], keep[p + 1]);
  return s;
}

function assert502(text: string, why: string): void {
  const buf = own(text);
  checkOnePass(buf, false);
  assert.throws(
    () => parseResponseHead(buf, findHeadEnd(buf, 0), false),
    (err: unknown) => {
      assert.ok(err instanceof FramingError, `${why}: ${String(err)}`);
      assert.equal(err.status, 502, `${why}: ${err.message}`);
      return true;
    },
  );
}

const isSame = (out: Buffer, buf: Buffer): boolean => out.buffer === buf.buffer && out.byteOffset === buf.byteOffset;

/* ------------------------------------------------------------------ status line */

describe('parseResponseHead: status line', () => {
  const OK: [string, string, number, number][] = [
    ['with reason', 'HTTP/1.1 200 OK\r\n\r\n', 200, 11],
    ['reason with spaces, tabs and obs-text', 'HTTP/1.1 404 Not \tFound \xe9\r\n\r\n', 404, 11],
    ['empty reason after SP', 'HTTP/1.1 200 \r\n\r\n', 200, 11],
    ['no SP and no reason ("HTTP/1.1 200" CRLF)', 'HTTP/1.1 200\r\n\r\n', 200, 11],
    ['HTTP/1.0', 'HTTP/1.0 200 OK\r\n\r\n', 200, 10],
    ['lowest status 100', 'HTTP/1.1 100 Continue\r\n\r\n', 100, 11],
    ['highest status 599', 'HTTP/1.1 599 X\r\n\r\n', 599, 11],
  ];
  for (const [name, text, status, version] of OK) {
    it(`accepts: ${name}`, () => {
      const { res } = parse(text);
      assert.equal(res.status, status);
      assert.equal(res.version, version);
      assert.equal(res.lineEnd, text.indexOf('\r\n') + 2);
      assert.equal(res.headEnd, text.length);
    });
  }

  const BAD: [string, string][] = [
    ['HTTP/2', 'HTTP/2 200 OK\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n'],
    ['HTTP/0.9', 'HTTP/0.9 200 OK\r\n\r\n'],
    ['lower-case http', 'http/1.1 200 OK\r\n\r\n'],
    ['no version', '200 OK\r\n\r\n'],
    ['ICY', 'ICY 200 OK\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 X\r\n\r\n'],
    ['status 600', 'HTTP/1.1 600 X\r\n\r\n'],
    ['status 000', 'HTTP/1.1 000 X\r\n\r\n'],
    ['letters as status', 'HTTP/1.1 abc X\r\n\r\n'],
    ['two spaces before status', 'HTTP/1.1  200 OK\r\n\r\n'],
    ['tab before status', 'HTTP/1.1\t200 OK\r\n\r\n'],
    ['reason glued to status', 'HTTP/1.1 200OK\r\n\r\n'],
    ['control char in reason', 'HTTP/1.1 200 O\x01K\r\n\r\n'],
    ['NUL in reason', 'HTTP/1.1 200 O\x00K\r\n\r\n'],
    ['bare CR in reason', 'HTTP/1.1 200 O\rK\r\n\r\n'],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  ];
  for (const [name, text] of BAD) it(`refuses: ${name} → 502`, () => assert502(text, name));

  it('any status line with a 3-digit code 100..599 (except 101) and a valid reason parses', () => {
    const reason = fc
      .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 20 })
      .map((cs) => String.fromCharCode(...cs));
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }).filter((s) => s !== 101),
        fc.constantFrom('0', '1'),
        reason,
        (status, minor, r) => {
          fc.pre(minor === '1' || status >= 200); // HTTP/1.0 has no 1xx (see the differential regressions)
          const { res } = parse(`HTTP/1.${minor} ${status} ${r}\r\n\r\n`);
          assert.equal(res.status, status);
          assert.equal(res.version, minor === '1' ? 11 : 10);
        },
      ),
    );
  });
});

/* ------------------------------------------------------------------ body kind, reuse */

describe('parseResponseHead: body kind (RFC 9112 §6.3) and reuse', () => {
  const CASES: { name: string; text: string; head?: boolean; kind: BodyKind; reusable: boolean; cl?: number }[] = [
    { name: 'Content-Length → Length', text: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', kind: BodyKind.Length, reusable: true, cl: 5 },
    {
      name: 'Content-Length: 0 → Length 0',
      text: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      kind: BodyKind.Length,
      reusable: true,
      cl: 0,
    },
    { name: 'chunked → Chunked', text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', kind: BodyKind.Chunked, reusable: true },
    {
      name: 'gzip, chunked (chunked last) → Chunked',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n',
      kind: BodyKind.Chunked,
      reusable: true,
    },
    {
      name: 'chunked, gzip (chunked not last) → Close',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      kind: BodyKind.Close,
      reusable: false,
    },
    { name: 'gzip only → Close', text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', kind: BodyKind.Close, reusable: false },
    { name: 'nothing → Close', text: 'HTTP/1.1 200 OK\r\nX: 1\r\n\r\n', kind: BodyKind.Close, reusable: false },
    {
      name: 'HEAD request with Content-Length → None',
      text: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
      head: true,
      kind: BodyKind.None,
      reusable: true,
      cl: 5,
    },
    {
      name: 'HEAD request with chunked → None',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      head: true,
      kind: BodyKind.None,
      reusable: true,
    },
    { name: 'HEAD request, nothing → None (reusable)', text: 'HTTP/1.1 200 OK\r\n\r\n', head: true, kind: BodyKind.None, reusable: true },
    { name: '100 → None', text: 'HTTP/1.1 100 Continue\r\n\r\n', kind: BodyKind.None, reusable: true },
    { name: '103 → None', text: 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', kind: BodyKind.None, reusable: true },
    {
      name: '204 → None even with Content-Length',
      text: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
      kind: BodyKind.None,
      reusable: true,
      cl: 5,
    },
    {
      name: '304 → None even with chunked',
      text: 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n',
      kind: BodyKind.None,
      reusable: true,
    },
    {
      name: 'Connection: close → not reusable',
      text: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n',
      kind: BodyKind.Length,
      reusable: false,
      cl: 1,
    },
    {
      name: 'Connection: Keep-Alive, CLOSE → not reusable',
      text: 'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\n',
      kind: BodyKind.Length,
      reusable: false,
      cl: 1,
    },
    {
      name: 'HTTP/1.0 → not reusable',
      text: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n',
      kind: BodyKind.Length,
      reusable: false,
      cl: 1,
    },
    {
      name: 'HTTP/1.0 with Connection: keep-alive → reusable',
      text: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n',
      kind: BodyKind.Length,
      reusable: true,
      cl: 1,
    },
    {
      name: 'HTTP/1.0 keep-alive but close-delimited → not reusable',
      text: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n',
      kind: BodyKind.Close,
      reusable: false,
    },
    {
      name: 'HTTP/1.0 204 without keep-alive → not reusable',
      text: 'HTTP/1.0 204 No Content\r\n\r\n',
      kind: BodyKind.None,
      reusable: false,
    },
    {
      name: 'identical duplicate Content-Length is folded',
      text: 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX: 1\r\ncontent-length: 007\r\n\r\n',
      kind: BodyKind.Length,
      reusable: true,
      cl: 7,
    },
  ];
  for (const c of CASES) {
    it(c.name, () => {
      const { res } = parse(c.text, c.head ?? false);
      assert.equal(res.bodyKind, c.kind, 'bodyKind');
      assert.equal(res.reusable, c.reusable, 'reusable');
      if (c.cl !== undefined) assert.equal(res.contentLength, c.cl);
    });
  }

  it('the folded duplicate Content-Length line is not forwarded (the first one is)', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX: 1\r\ncontent-length: 007\r\n\r\n');
    assert.equal(keptText(buf, res.keep), 'Content-Length: 7\r\nX: 1\r\n');
  });

  const REFUSED: [string, string][] = [
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'],
    ['Content-Length list "5, 5"', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n'],
    ['Content-Length -1', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['Content-Length +1', 'HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n'],
    ['Content-Length hex', 'HTTP/1.1 200 OK\r\nContent-Length: 0x1\r\n\r\n'],
    ['Content-Length empty', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n'],
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'],
    ['Transfer-Encoding (not chunked) and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n'],
    ['duplicate Transfer-Encoding lines', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['malformed Transfer-Encoding list', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked gzip\r\n\r\n'],
    ['malformed Connection list', 'HTTP/1.1 200 OK\r\nConnection: a b\r\nContent-Length: 0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\nContent-Length: 0\r\n\r\n'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n'],
    ['bare CR in a value', 'HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n'],
    ['empty header name', 'HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n'],
  ];
  for (const [name, text] of REFUSED) it(`refuses: ${name} → 502`, () => assert502(text, name));

  it('a bare LF in a response head is refused by findHeadEnd', () => {
    assert.throws(() => findHeadEnd(own('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'), 0), FramingError);
  });
});

/* ------------------------------------------------------------------ hop-by-hop, clientResponseHead */

describe('parseResponseHead: forwarded fields', () => {
  it('hop-by-hop response fields are absent from keep; the rest is kept in order, merged', () => {
    const text =
      'HTTP/1.1 200 OK\r\nA: 1\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nB: 2\r\nProxy-Connection: x\r\n' +
      'Upgrade: h2c\r\nTrailer: X-T\r\nTE: trailers\r\nX-Hop: secret\r\nx-hop: again\r\nC: 3\r\nTransfer-Encoding: chunked\r\nD: 4\r\n\r\n';
    const { buf, res } = parse(text);
    assert.equal(keptText(buf, res.keep), 'A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n');
    assert.deepEqual(res.transferEncoding, [text.indexOf('Transfer-Encoding'), text.indexOf('D: 4')]);
    for (let p = 2; p < res.keep.length; p += 2) assert.ok(res.keep[p]! > res.keep[p - 1]!, 'ranges sorted, adjacent ones merged');
  });

  it('Connection: transfer-encoding from a node does not lose the Transfer-Encoding line (kept apart from keep)', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(res.bodyKind, BodyKind.Chunked);
    assert.equal(clientResponseHead(buf, res, true, '').toString('latin1'), 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  });

  it('the Transfer-Encoding line is left out of keep and reported separately', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(keptText(buf, res.keep), 'X: 1\r\n');
    assert.equal(buf.toString('latin1', res.transferEncoding![0], res.transferEncoding![1]), 'Transfer-Encoding: chunked\r\n');
  });

  it('kept ranges + dropped lines: property over random ordinary headers and hop-by-hop ones', () => {
    const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~";
    const special = new Set([
      'content-length',
      'transfer-encoding',
      'connection',
      'keep-alive',
      'proxy-connection',
      'upgrade',
      'trailer',
      'te',
    ]);
    const name = fc
      .array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 10 })
      .map((a) => a.join(''))
      .filter((n) => !special.has(n.toLowerCase()));
    const line = fc.tuple(name, fc.stringMatching(/^[ -~]{0,12}$/)).map(([n, v]) => ({ line: `${n}: ${v.trim()}\r\n`, fwd: true }));
    const hop = fc
      .constantFrom(
        'Keep-Alive: 1\r\n',
        'Proxy-Connection: x\r\n',
        'Upgrade: h2c\r\n',
        'Trailer: X\r\n',
        'TE: trailers\r\n',
        'Connection: keep-alive\r\n',
      )
      .map((l) => ({ line: l, fwd: false }));
    fc.assert(
      fc.property(fc.array(fc.oneof(line, line, hop), { maxLength: 10 }), fc.constantFrom('', 'Content-Length: 3\r\n'), (lines, cl) => {
        const all = cl === '' ? lines : [...lines, { line: cl, fwd: true }];
        const text = `HTTP/1.1 200 OK\r\n${all.map((l) => l.line).join('')}\r\n`;
        const { buf, res } = parse(text);
        assert.equal(
          keptText(buf, res.keep),
          all
            .filter((l) => l.fwd)
            .map((l) => l.line)
            .join(''),
        );
        // nothing changed but a lone Connection: keep-alive ⇒ the node's bytes go out untouched
        const out = clientResponseHead(buf, res, true, '');
        const dropped = all.filter((l) => !l.fwd);
        const loneKeepAlive = dropped.length === 1 && dropped[0]!.line === 'Connection: keep-alive\r\n';
        const unchanged = dropped.length === 0 || loneKeepAlive;
        assert.equal(isSame(out, buf), unchanged, 'zero-copy exactly when no line is dropped but a lone Connection: keep-alive');
        assert.equal(out.toString('latin1'), loneKeepAlive ? text : `HTTP/1.1 200 OK\r\n${keptText(buf, res.keep)}\r\n`);
        // Something to add (a client to close): rebuilt, and the node's keep-alive is gone.
        const closing = clientResponseHead(buf, res, true, 'Connection: close\r\n').toString('latin1');
        assert.equal(closing, `HTTP/1.1 200 OK\r\n${keptText(buf, res.keep)}Connection: close\r\n\r\n`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('readResponseHead within a limit', () => {
  it('just past each LF: null before the head ends (never an error), the full parse from there on, whatever follows the head', () => {
    const name = fc
      .stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,9}$/)
      .filter((n) => !/^(content-length|transfer-encoding|connection|keep-alive|upgrade|trailer|te|proxy-connection)$/i.test(n));
    const line = fc
      .tuple(name, fc.stringMatching(/^[ -~]{0,12}$/), fc.constantFrom('', ' ', '\t'))
      .map(([n, v, ows]) => `${n}:${ows}${v.trim()}${ows}\r\n`);
    fc.assert(
      fc.property(
        fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.0 404 Not Found', 'HTTP/1.1 204', 'HTTP/1.1 503 '),
        fc.array(fc.oneof(line, fc.constantFrom('Connection: keep-alive\r\n', 'Content-Length: 2\r\n')), { maxLength: 8 }),
        fc.constantFrom('', 'ok', 'HTTP/1.1 200 OK\r\n\r\n', '\r\n\r\n'),
        (statusLine, lines, after) => {
          fc.pre(lines.filter((l) => l.startsWith('Content-Length')).length < 2);
          const head = `${statusLine}\r\n${lines.join('')}\r\n`;
          const buf = own(head + after);
          const whole = parseResponseHead(buf, head.length, false);
          for (let limit = 0; limit <= buf.length; limit++) {
            if (limit > 0 && buf[limit - 1] !== 0x0a) continue; // a limit is just past an LF (headLimit)
            const read = readResponseHead(buf, limit, false, undefined, false);
            if (limit < head.length) assert.equal(read, null, `limit ${limit}`);
            else assert.deepEqual(read, whole, `limit ${limit}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('clientResponseHead', () => {
  it('returns the node bytes untouched (same memory) when nothing changes', () => {
    for (const text of [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok',
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n',
    ]) {
      const { buf, res } = parse(text);
      const out = clientResponseHead(buf, res, true, '');
      assert.ok(isSame(out, buf), `${JSON.stringify(text)} was copied`);
      assert.equal(out.length, res.headEnd, 'the body is not included');
    }
  });

  it('adds the extra lines before the final CRLF', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    const out = clientResponseHead(buf, res, true, 'Connection: close\r\n');
    assert.ok(!isSame(out, buf));
    assert.equal(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n');
  });

  it('passes a lone Connection: keep-alive on as it came when nothing is added (an HTTP/1.1 client kept alive)', () => {
    for (const text of [
      'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nA: 1\r\nConnection:keep-alive \r\nB: 2\r\n\r\n',
      'HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n',
    ]) {
      const { buf, res } = parse(text);
      const out = clientResponseHead(buf, res, true, '');
      assert.ok(isSame(out, buf), `${JSON.stringify(text)} was copied`);
      assert.equal(out.length, res.headEnd);
    }
  });

  it('drops Connection: keep-alive when it is not alone or something is added', () => {
    const cases: Array<[string, string, string]> = [
      // [node's head, extra, client's head]
      [
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n',
        'Connection: close\r\n',
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
      ],
      [
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n',
        'Connection: keep-alive\r\n',
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n',
      ],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\nB: 2\r\n\r\n', '', 'HTTP/1.1 200 OK\r\nB: 2\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: keep-alive\r\nB: 2\r\n\r\n', '', 'HTTP/1.1 200 OK\r\nB: 2\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nB: 2\r\n\r\n', '', 'HTTP/1.1 200 OK\r\nB: 2\r\n\r\n'],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nB: 2\r\n\r\n', '', 'HTTP/1.1 200 OK\r\nB: 2\r\n\r\n'],
      [
        'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n',
        '',
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      ],
    ];
    for (const [text, extra, expected] of cases) {
      const { buf, res } = parse(text);
      const out = clientResponseHead(buf, res, true, extra);
      assert.ok(!isSame(out, buf), `${JSON.stringify(text)} went out unchanged`);
      assert.equal(out.toString('latin1'), expected, JSON.stringify(text));
    }
  });

  it('removes hop-by-hop lines', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n');
    assert.equal(clientResponseHead(buf, res, true, '').toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
  });

  it('keeps Transfer-Encoding when asked (moved after the kept lines), drops it when de-chunking', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n');
    assert.equal(
      clientResponseHead(buf, res, true, '').toString('latin1'),
      'HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    assert.equal(
      clientResponseHead(buf, res, false, 'Connection: close\r\n').toString('latin1'),
      'HTTP/1.1 200 OK\r\nX: 1\r\nConnection: close\r\n\r\n',
    );
  });

  it("an HTTP/1.0 status line goes out as HTTP/1.1, the proxy's own version (RFC 9110 §6.2)", () => {
    const { buf, res } = parse('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n');
    assert.equal(
      clientResponseHead(buf, res, true, 'Connection: keep-alive\r\n').toString('latin1'),
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n',
    );
    assert.equal(clientResponseHead(buf, res, true, '').toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n');
  });

  it('a head whose kept lines are not one contiguous block is rebuilt', () => {
    const { buf, res } = parse('HTTP/1.1 200 OK\r\nA: 1\r\nTE: x\r\nB: 2\r\n\r\n');
    const out = clientResponseHead(buf, res, true, '');
    assert.ok(!isSame(out, buf));
    assert.equal(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n');
  });
});

/* ------------------------------------------------------------------ known deviations */

describe('parseResponseHead: RFC requirements (regressions of fixed bugs)', () => {
  it('Connection: content-length from a node must not strip the Content-Length the client needs to frame the body', () => {
    const text = 'HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\n';
    const buf = own(text);
    let res: ResponseHead;
    try {
      res = parseResponseHead(buf, findHeadEnd(buf, 0), false);
    } catch (err) {
      if (err instanceof FramingError && err.status === 502) return; // refusing is fine too
      throw err;
    }
    const out = clientResponseHead(buf, res, true, '').toString('latin1');
    assert.match(out, /Content-Length: 2\r\n/, `client gets ${JSON.stringify(out)} with a 2-byte body and no framing`);
  });

  it('an HTTP/1.0 response with Transfer-Encoding has faulty framing: the node connection must not be reused (RFC 9112 §6.1)', () => {
    const { res } = parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(res.reusable, false);
  });
});

/* ------------------------------------------------------------------ found by the llhttp differential (fuzz/) */

describe('parseResponseHead: regressions found by the llhttp differential', () => {
  it('HTTP/1.0 with "Connection: keep-alive, close" (one line or two) is not reusable: close wins (RFC 9112 §9.3)', () => {
    for (const text of [
      'HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.0 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.0 204 OK\r\nConnection: keep-alive\r\nConnection: CLOSE\r\n\r\n',
    ]) {
      assert.equal(parse(text).res.reusable, false, JSON.stringify(text));
    }
    assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').res.reusable, true);
  });

  // The 1xx head goes to the client as is, and the final response follows on the same connection: an
  // interim response that ends the connection makes a client (llhttp) refuse that final response.
  for (const [name, text] of [
    ['HTTP/1.0 100 (HTTP/1.0 has no 1xx; the connection would close after it)', 'HTTP/1.0 100 Continue\r\n\r\n'],
    ['HTTP/1.0 103 even with keep-alive', 'HTTP/1.0 103 Early Hints\r\nConnection: keep-alive\r\n\r\n'],
    ['103 with Connection: close', 'HTTP/1.1 103 Early Hints\r\nConnection: close\r\nLink: </a>\r\n\r\n'],
    ['102 with Connection: keep-alive, close', 'HTTP/1.1 102\r\nconnection: keep-alive, close\r\n\r\n'],
  ] as const) {
    it(`refuses an interim response that closes the connection: ${name} → 502`, () => assert502(text, name));
  }

  // llhttp frames "chunked, chunked" as chunked; it used to be close-delimited for fnlb.
  for (const te of ['chunked, chunked', 'chunked, gzip, chunked', 'Chunked,CHUNKED']) {
    it(`refuses Transfer-Encoding ${JSON.stringify(te)} (chunked twice, RFC 9112 §6.1) → 502`, () => {
      assert502(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n`, te);
    });
  }

  // A 1xx response has no content (RFC 9110 §15.2), but llhttp reads the length of a 104-199 response
  // as a body, which would swallow the start of the final response at the client.
  for (const [name, text] of [
    ['109 with Content-Length: 8', 'HTTP/1.1 109 X\r\nContent-Length: 8\r\n\r\n'],
    ['199 chunked', 'HTTP/1.1 199 X\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['100 with Transfer-Encoding: gzip', 'HTTP/1.1 100 Continue\r\nTransfer-Encoding: gzip\r\n\r\n'],
  ] as const) {
    it(`refuses an interim response with a body length: ${name} → 502`, () => assert502(text, name));
  }
  it('an interim response with Content-Length: 0 is still accepted (no body either way)', () => {
    assert.equal(parse('HTTP/1.1 103 Early Hints\r\nContent-Length: 0\r\n\r\n').res.bodyKind, BodyKind.None);
  });

  // llhttp frames these as close-delimited (not chunked) while fnlb would read chunks: the client and fnlb
  // would disagree on where the response ends.
  for (const te of ['chunked\t', 'chunked \t', 'chunked,', 'chunked ,', 'chunked,,', ',chunked', 'gzip,,chunked', 'gzip,\tchunked', '']) {
    it(`refuses Transfer-Encoding ${JSON.stringify(te)} (an HTAB or an empty list element) → 502`, () => {
      assert502(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n`, te);
    });
  }
  for (const te of ['chunked', 'Chunked ', '\tchunked', 'gzip, chunked', 'gzip ,chunked', 'gzip']) {
    it(`still accepts Transfer-Encoding ${JSON.stringify(te)}`, () => {
      const { res } = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n`);
      assert.equal(res.bodyKind, te === 'gzip' ? BodyKind.Close : BodyKind.Chunked);
    });
  }
});
