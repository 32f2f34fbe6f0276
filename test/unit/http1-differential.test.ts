/**
 * Differential tests of the HTTP/1.1 parsers against llhttp (node:http's parser, strict mode), and the
 * split property over whole streams (heads, bodies, pipelined messages, rejections): see harness/differential/. For every
 * generated stream, either fnlb rejects it, or both accept it with the same framing; llhttp rejecting
 * what fnlb accepts passes only under an RFC exception (harness/differential/differential.ts EXCEPTIONS).
 *
 * Fixed seeds and run counts keep this to a few seconds; `npm run fuzz -- --minutes N` is the long run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  checkRequests,
  checkResponse,
  describe as describeVerdict,
  EXCEPTIONS,
  KEEP_ALIVE_EXCEPTIONS,
  type Verdict,
} from '../../harness/differential/differential.js';
import { everyByte, frameRequests } from '../../harness/differential/engine-framing.js';
import { requestInput, responseInput } from '../../harness/differential/generators.js';
import { llhttpParse } from '../../harness/differential/llhttp.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const RUNS = 3000;

function assertClean(input: Buffer, v: Verdict): void {
  assert.deepEqual(v.findings, [], describeVerdict(input, v));
}

describe('llhttp oracle', () => {
  it('parses a pipelined stream with offsets, bodies and keep-alive', () => {
    const text = 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\r\nGET /b HTTP/1.0\r\n\r\n';
    const r = llhttpParse('request', latin1(text));
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.messages.map((m) => [m.method, m.url, m.begin, m.headEnd, m.end, m.body.toString(), m.keepAlive]),
      [
        ['POST', '/a', 0, 48, 51, 'abc', true],
        ['GET', '/b', 53, 72, 72, '', false],
      ],
    );
  });

  it('is strict: a bare LF, obs-fold and a space before the colon are errors at their byte', () => {
    for (const [text, at] of [
      ['GET / HTTP/1.1\r\nX: a\nb\r\n\r\n', 20],
      ['GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', 22],
      ['GET / HTTP/1.1\r\nX : a\r\n\r\n', 17],
    ] as const) {
      const r = llhttpParse('request', latin1(text));
      assert.ok(r.error !== undefined && r.error.at === at, `${JSON.stringify(text)}: ${JSON.stringify(r.error)}`);
    }
  });

  it('responses: HEAD skips the body; a close-delimited body ends at the end of input', () => {
    const head = llhttpParse('response', latin1('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), { skipBody: () => true });
    assert.equal(head.messages[0]!.end, 38);
    const close = llhttpParse('response', latin1('HTTP/1.1 200 OK\r\n\r\nabc'));
    assert.deepEqual([close.messages[0]!.end, close.messages[0]!.body.toString()], [22, 'abc']);
  });
});

/* ------------------------------------------------------------------ the RFC exceptions, by example */

describe('where llhttp refuses what RFC 9110/9112 allows (fnlb accepts, counted as exceptions)', () => {
  const REQ = 'Host: a\r\n';
  const EXAMPLES: [id: string, side: 'req' | 'res', text: string][] = [
    ['method-token', 'req', `FOO / HTTP/1.1\r\n${REQ}\r\n`],
    ['chunk-ext-bws', 'req', `POST / HTTP/1.1\r\n${REQ}Transfer-Encoding: chunked\r\n\r\n1 ;a = b\r\nx\r\n0\r\n\r\n`],
    ['content-length-trailing-htab', 'req', `POST / HTTP/1.1\r\n${REQ}Content-Length: 1\t\r\n\r\nx`],
    ['transfer-encoding-list-syntax', 'req', `POST / HTTP/1.1\r\n${REQ}Transfer-Encoding: chunked,\r\n\r\n1\r\nx\r\n0\r\n\r\n`],
    ['duplicate-equal-content-length-response', 'res', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx'],
    ['http10-transfer-encoding-closes', 'res', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['connection-token-htab', 'req', `GET / HTTP/1.1\r\n${REQ}Connection: close\t\r\n\r\n`],
    ['close-wins', 'res', 'HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n'],
    ['proxy-connection-not-read', 'req', 'OPTIONS / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n'],
    ['proxy-connection-not-read', 'req', `GET / HTTP/1.1\r\n${REQ}Proxy-Connection: close\r\n\r\n`],
    [
      'connection-in-trailers',
      'req',
      `POST / HTTP/1.1\r\n${REQ}Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nConnection: close\r\n\r\n`,
    ],
  ];
  const documented = [...EXCEPTIONS, ...KEEP_ALIVE_EXCEPTIONS];

  it('every exception has an example here and an RFC section', () => {
    assert.deepEqual([...new Set(EXAMPLES.map(([id]) => id))].sort(), documented.map((e) => e.id).sort());
    for (const e of documented) assert.match(e.rfc, /RFC 911[02] §\d/, e.id);
  });

  for (const [id, side, text] of EXAMPLES) {
    it(`${id}: ${JSON.stringify(text)}`, () => {
      const buf = latin1(text);
      const v = side === 'req' ? checkRequests(buf) : checkResponse(buf, false);
      assertClean(buf, v);
      assert.ok(v.exceptions.includes(id), `exception ${id} not applied: ${JSON.stringify(v.exceptions)}`);
      assert.match(v.ours, /^(end|closed)$/, 'fnlb accepts it');
    });
  }
});

/* ------------------------------------------------------------------ what the fuzzer found (fixed) */

describe('regressions found by the differential fuzzer (clean now)', () => {
  const REQUESTS = [
    'GET http://"n.example HTTP/1.1\r\nHost:\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \t\r\n\r\n1\r\nx\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 2\r\n\r\nok',
    'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: foo\r\nConnection: upgrade\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
  ];
  for (const text of REQUESTS) it(`request ${JSON.stringify(text)}`, () => assertClean(latin1(text), checkRequests(latin1(text))));

  const RESPONSES: [string, boolean][] = [
    ['HTTP/1.0 304 X\r\ncontent-length:1 \r\nconnection:keep-alive, close\r\n\r\nA', false],
    ['HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.1 109 \r\nContent-Length: 8\r\n\r\nGET /x H', false],
    ['HTTP/1.1 201 \r\nTransfer-Encoding: chunked \t\r\n\r\n1\r\nx\r\n0\r\n\r\n', false],
    ['HTTP/1.1 201 \r\nTransfer-Encoding: chunked, \r\n\r\n1\r\nx\r\n0\r\n\r\n', false],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n', false],
    ['HTTP/1.1 200 OK\r\nTrailer: x\r\n\r\n', true],
  ];
  for (const [text, head] of RESPONSES) {
    it(`response${head ? ' to HEAD' : ''} ${JSON.stringify(text)}`, () => assertClean(latin1(text), checkResponse(latin1(text), head)));
  }
});

/* ------------------------------------------------------------------ properties */

describe('differential properties (fixed seeds)', () => {
  it(`requests: fnlb rejects, or fnlb and llhttp frame alike; 1-byte pieces frame like one piece (${RUNS} streams)`, () => {
    fc.assert(
      fc.property(requestInput, (text) => {
        const buf = latin1(text);
        assertClean(buf, checkRequests(buf));
      }),
      { seed: 4242, numRuns: RUNS },
    );
  });

  it(`responses: the same, with HEAD, 1xx, 204/304 and close-delimited bodies (${RUNS} streams)`, () => {
    fc.assert(
      fc.property(responseInput, (r) => {
        const buf = latin1(r.text);
        assertClean(buf, checkResponse(buf, r.head));
      }),
      { seed: 4343, numRuns: RUNS },
    );
  });
});

describe('empty lines before a request line (ClientConnection.parseNext)', () => {
  it('five empty lines: 400 whether they come in one piece or byte by byte (counted per request, not per read)', () => {
    const buf = latin1(`${'\r\n'.repeat(5)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`);
    const whole = frameRequests(buf);
    const bytewise = frameRequests(buf, everyByte(buf.length));
    assert.equal(bytewise.outcome, whole.outcome);
  });
});
