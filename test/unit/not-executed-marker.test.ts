/** The not-executed marker in response heads (parseResponseHead) and Idempotency-Key in request heads. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findHeadEnd } from '../../src/engine/http1/head-scan.js';
import { notExecutedMatch, parseResponseHead } from '../../src/engine/http1/response-head.js';
import { parseRequestHead } from '../../src/engine/http1/request-head.js';

const MARKER = notExecutedMatch({ kind: 'header', name: 'X-Fn-Not-Executed', value: '1' });

function parse(text: string, marker: typeof MARKER | 'off' = MARKER) {
  const buf = Buffer.from(text, 'latin1');
  const res = parseResponseHead(buf, findHeadEnd(buf, 0), false, marker === 'off' ? undefined : marker);
  let kept = '';
  for (let p = 0; p < res.keep.length; p += 2) kept += buf.toString('latin1', res.keep[p], res.keep[p + 1]);
  return { res, kept };
}

describe('not-executed marker', () => {
  it('a 503 or 429 with the marker (any name case, value trimmed) is not executed; the line is dropped', () => {
    for (const status of [503, 429]) {
      for (const line of ['X-Fn-Not-Executed: 1', 'x-fn-not-executed:1', 'X-FN-NOT-EXECUTED:  1  ']) {
        const { res, kept } = parse(`HTTP/1.1 ${status} No\r\nA: b\r\n${line}\r\nContent-Length: 0\r\n\r\n`);
        assert.equal(res.notExecuted, true, line);
        assert.equal(kept, 'A: b\r\nContent-Length: 0\r\n');
      }
    }
  });

  it('another status, another value, or no marker configured: not "not executed"', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\nX-Fn-Not-Executed: 1\r\nContent-Length: 0\r\n\r\n').res.notExecuted, false);
    assert.equal(parse('HTTP/1.1 500 E\r\nX-Fn-Not-Executed: 1\r\nContent-Length: 0\r\n\r\n').res.notExecuted, false);
    const wrong = parse('HTTP/1.1 503 E\r\nX-Fn-Not-Executed: 10\r\nContent-Length: 0\r\n\r\n');
    assert.equal(wrong.res.notExecuted, false);
    assert.equal(wrong.kept, 'Content-Length: 0\r\n', 'the marker line never reaches a client');
    const off = parse('HTTP/1.1 503 E\r\nX-Fn-Not-Executed: 1\r\nContent-Length: 0\r\n\r\n', 'off');
    assert.equal(off.res.notExecuted, false);
    assert.equal(off.kept, 'X-Fn-Not-Executed: 1\r\nContent-Length: 0\r\n');
  });

  it('a name alone matches any value', () => {
    const any = notExecutedMatch({ kind: 'header', name: 'X-Refused' });
    assert.equal(parse('HTTP/1.1 429 E\r\nX-Refused: whatever\r\nContent-Length: 0\r\n\r\n', any).res.notExecuted, true);
  });
});

describe('Idempotency-Key', () => {
  const head = (text: string) => {
    const buf = Buffer.from(text, 'latin1');
    return parseRequestHead(buf, findHeadEnd(buf, 0), { hashHeader: undefined });
  };

  it('a non-empty key is noted and forwarded', () => {
    const h = head('POST /r/a/b HTTP/1.1\r\nHost: x\r\nidempotency-KEY: abc\r\nContent-Length: 0\r\n\r\n');
    assert.equal(h.idempotencyKey, true);
    assert.equal(h.idempotent, false);
    assert.equal(h.keep.length, 2, 'every line kept');
  });

  it('no key, or an empty one: not noted', () => {
    assert.equal(head('POST /r/a/b HTTP/1.1\r\nHost: x\r\n\r\n').idempotencyKey, false);
    assert.equal(head('POST /r/a/b HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \r\n\r\n').idempotencyKey, false);
  });
});
