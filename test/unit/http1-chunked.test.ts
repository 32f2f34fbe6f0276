/**
 * ChunkedDecoder (src/engine/http1/chunked.ts): the incremental, strict chunked-body validator.
 * Properties: any valid body split at any positions is consumed to the same end, reports done, yields the
 * same payload in collect mode, and stops exactly at the body end when the next message follows. Tables:
 * every malformed size line, data delimiter, extension and trailer is rejected with its status, however
 * the bytes are split.
 *
 * The regression sections hold the framing bugs the first version of these tests found (listed framing
 * fields stripped, Host structure, '#', chunk-ext grammar, HTTP/1.0 + Transfer-Encoding reuse).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { ChunkedDecoder } from '../../src/engine/http1/chunked.js';
import { FramingError } from '../../src/engine/http1/framing-error.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const MAX_TRAILER = 16 * 1024;

interface FeedResult {
  /** Index just past the body, or -1 if not done. */
  end: number;
  done: boolean;
  /** Payload bytes collected from `spans`. */
  data: Buffer;
  dataBytes: number;
}

/**
 * Feeds buf in pieces cut at `cuts`, like the engine does: each piece is its own Buffer (a copy), and the
 * returned index of a piece says where the body ended. Stops at the first piece the body ends in.
 */
function feedPieces(buf: Buffer, cuts: number[], opts: { collect?: boolean; maxTrailer?: number; sameBuffer?: boolean } = {}): FeedResult {
  const dec = new ChunkedDecoder(opts.maxTrailer ?? MAX_TRAILER, opts.collect ?? true);
  const data: Buffer[] = [];
  const bounds = [0, ...[...new Set(cuts)].filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b), buf.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const s = bounds[k]!;
    const e = bounds[k + 1]!;
    let used: number;
    if (opts.sameBuffer) {
      used = dec.feed(buf, s, e);
      for (let i = 0; i < dec.spans.length; i += 2) data.push(buf.subarray(dec.spans[i], dec.spans[i + 1]));
      used -= s;
    } else {
      const piece = Buffer.from(buf.subarray(s, e));
      used = dec.feed(piece, 0, piece.length);
      for (let i = 0; i < dec.spans.length; i += 2) data.push(Buffer.from(piece.subarray(dec.spans[i], dec.spans[i + 1])));
    }
    assert.ok(used >= 0 && used <= e - s, `feed returned ${used} for a piece of ${e - s}`);
    if (dec.done) return { end: s + used, done: true, data: Buffer.concat(data), dataBytes: dec.dataBytes };
    assert.equal(used, e - s, 'a decoder that is not done consumes the whole piece');
  }
  return { end: -1, done: dec.done, data: Buffer.concat(data), dataBytes: dec.dataBytes };
}

function statusOf(buf: Buffer, cuts: number[] = [], maxTrailer = MAX_TRAILER): string {
  try {
    const r = feedPieces(buf, cuts, { maxTrailer });
    return r.done ? `done@${r.end}` : 'incomplete';
  } catch (err) {
    if (err instanceof FramingError) return String(err.status);
    throw err;
  }
}

/* ------------------------------------------------------------------ generators */

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
const quoted = fc
  .array(
    fc.oneof(
      fc.constantFrom(...'abc ,;=\t'.split('')),
      fc.constant('\\"'),
      fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    ),
    { maxLength: 8 },
  )
  .map((a) => `"${a.join('')}"`);
const bws = fc.constantFrom('', ' ', '\t', ' \t ');
/** chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) */
const ext = fc
  .array(fc.tuple(bws, bws, token, fc.option(fc.tuple(bws, bws, fc.oneof(token, quoted)), { nil: undefined })), { maxLength: 3 })
  .map((es) => es.map(([b1, b2, n, v]) => `${b1};${b2}${n}${v === undefined ? '' : `${v[0]}=${v[1]}${v[2]}`}`).join(''));
const hexSize = (n: number) =>
  fc.tuple(fc.nat({ max: 3 }), fc.boolean()).map(([zeros, upper]) => {
    const h = '0'.repeat(zeros) + n.toString(16);
    return upper ? h.toUpperCase() : h;
  });
const fieldValue = fc
  .array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.constant(0x20), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })), {
    maxLength: 16,
  })
  .map((cs) => String.fromCharCode(...cs));
const trailer = fc.tuple(token, bws, fieldValue).map(([n, w, v]) => `${n}:${w}${v}\r\n`);

interface GenBody {
  encoded: Buffer;
  payload: Buffer;
}

const chunkedBody: fc.Arbitrary<GenBody> = fc
  .record({
    chunks: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
    trailers: fc.array(trailer, { maxLength: 3 }),
    lastExt: ext,
    lastZeros: fc.nat({ max: 3 }),
  })
  .chain((r) =>
    fc.tuple(...r.chunks.map((c) => fc.tuple(hexSize(c.length), ext))).map((lines) => {
      const parts: Buffer[] = [];
      r.chunks.forEach((c, i) => {
        const [size, e] = lines[i]!;
        parts.push(latin1(`${size}${e}\r\n`), Buffer.from(c), latin1('\r\n'));
      });
      parts.push(latin1(`${'0'.repeat(r.lastZeros + 1)}${r.lastExt}\r\n${r.trailers.join('')}\r\n`));
      return { encoded: Buffer.concat(parts), payload: Buffer.concat(r.chunks.map((c) => Buffer.from(c))) };
    }),
  );

const cutsFor = (len: number) => fc.array(fc.nat({ max: len }), { maxLength: 16 });
const NEXT = latin1('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');

/* ------------------------------------------------------------------ properties */

describe('ChunkedDecoder: valid bodies', () => {
  it('one piece: consumed to the end, done, payload collected', () => {
    fc.assert(
      fc.property(chunkedBody, ({ encoded, payload }) => {
        const r = feedPieces(encoded, []);
        assert.equal(r.done, true);
        assert.equal(r.end, encoded.length);
        assert.deepEqual(r.data, payload);
        assert.equal(r.dataBytes, payload.length);
      }),
      { numRuns: 300 },
    );
  });

  it('split at arbitrary positions (separate buffers): same end, done, same payload', () => {
    fc.assert(
      fc.property(
        chunkedBody.chain((b) => cutsFor(b.encoded.length).map((cuts) => ({ ...b, cuts }))),
        ({ encoded, payload, cuts }) => {
          const r = feedPieces(encoded, cuts);
          assert.equal(r.done, true);
          assert.equal(r.end, encoded.length);
          assert.deepEqual(r.data, payload);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('split at arbitrary positions (one buffer, start/end ranges): spans index the buffer', () => {
    fc.assert(
      fc.property(
        chunkedBody.chain((b) => cutsFor(b.encoded.length).map((cuts) => ({ ...b, cuts }))),
        ({ encoded, payload, cuts }) => {
          const r = feedPieces(encoded, cuts, { sameBuffer: true });
          assert.equal(r.end, encoded.length);
          assert.deepEqual(r.data, payload);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('byte by byte: same result', () => {
    fc.assert(
      fc.property(chunkedBody, ({ encoded, payload }) => {
        const r = feedPieces(
          encoded,
          Array.from({ length: encoded.length }, (_, i) => i),
        );
        assert.equal(r.end, encoded.length);
        assert.deepEqual(r.data, payload);
      }),
      { numRuns: 100 },
    );
  });

  it('followed by the next pipelined message: stops exactly at the body end, however split', () => {
    fc.assert(
      fc.property(
        chunkedBody.chain((b) => cutsFor(b.encoded.length + NEXT.length).map((cuts) => ({ ...b, cuts }))),
        ({ encoded, payload, cuts }) => {
          const all = Buffer.concat([encoded, NEXT]);
          const r = feedPieces(all, cuts);
          assert.equal(r.done, true);
          assert.equal(r.end, encoded.length, 'the next message is not consumed');
          assert.deepEqual(r.data, payload);
          // without collect mode too
          assert.equal(feedPieces(all, cuts, { collect: false }).end, encoded.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a truncated body is never done and never throws', () => {
    fc.assert(
      fc.property(
        chunkedBody.chain((b) => fc.nat({ max: b.encoded.length - 1 }).map((n) => ({ ...b, n }))),
        ({ encoded, n }) => {
          const r = feedPieces(encoded.subarray(0, n), []);
          assert.equal(r.done, false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('collect off: spans stay empty; dataBytes still counts', () => {
    const buf = latin1('5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n');
    const dec = new ChunkedDecoder(MAX_TRAILER, false);
    assert.equal(dec.feed(buf, 0, buf.length), buf.length);
    assert.equal(dec.done, true);
    assert.deepEqual(dec.spans, []);
    assert.equal(dec.dataBytes, 8);
  });

  it('feeding after done consumes nothing', () => {
    const buf = latin1('0\r\n\r\nXYZ');
    const dec = new ChunkedDecoder(MAX_TRAILER);
    assert.equal(dec.feed(buf, 0, buf.length), 5);
    assert.equal(dec.feed(buf, 5, buf.length), 5);
    assert.equal(dec.done, true);
  });

  const ACCEPT: [string, string][] = [
    ['minimal', '0\r\n\r\n'],
    ['upper-case hex', 'A\r\n0123456789\r\n0\r\n\r\n'],
    ['leading zeros (16 digits in all)', '000000000000000A\r\n0123456789\r\n0\r\n\r\n'],
    ['extension without value', '1;a\r\nx\r\n0\r\n\r\n'],
    ['extension with token value', '1;a=b\r\nx\r\n0\r\n\r\n'],
    ['extension with quoted value', '1;a="b;c=d \\" e"\r\nx\r\n0\r\n\r\n'],
    ['BWS around ";" and "="', '1 \t; a = b\r\nx\r\n0\r\n\r\n'],
    ['several extensions', '1;a;b=c;d="e"\r\nx\r\n0;last\r\n\r\n'],
    ['trailer fields', '1\r\nx\r\n0\r\nX-T: 1\r\nX-U:\r\n\r\n'],
    ['trailer field with obs-text', '0\r\nX-T: caf\xe9\r\n\r\n'],
    ['data containing CRLF and "0\\r\\n\\r\\n"', '7\r\n0\r\n\r\nxx\r\n0\r\n\r\n'],
  ];
  for (const [name, text] of ACCEPT) {
    it(`accepts: ${name}`, () => assert.equal(statusOf(latin1(text)), `done@${text.length}`));
  }

  it('a size just below 2^52 (13 hex digits) is a valid size line', () => {
    const dec = new ChunkedDecoder(MAX_TRAILER);
    const head = latin1('FFFFFFFFFFFFF\r\nabc');
    assert.equal(dec.feed(head, 0, head.length), head.length);
    assert.equal(dec.done, false);
    assert.equal(dec.dataBytes, 3);
  });
});

/* ------------------------------------------------------------------ rejections */

const REJECT: [string, string, number][] = [
  ['non-hex size', 'g\r\n', 400],
  ['non-hex after digits', '1g\r\nx\r\n0\r\n\r\n', 400],
  ['empty size', '\r\nx\r\n0\r\n\r\n', 400],
  ['empty size line at the end', '1\r\nx\r\n\r\n', 400],
  ['size of 17 digits (leading zeros)', '00000000000000001\r\nx\r\n0\r\n\r\n', 400],
  ['size of 17 digits', '10000000000000000\r\n', 400],
  ['size = 2^52', '10000000000000\r\n', 400],
  ['size > 2^52', 'FFFFFFFFFFFFFF\r\n', 400],
  ['"0x10"', '0x10\r\n', 400],
  ['"-1"', '-1\r\n', 400],
  ['"+5"', '+5\r\nhello\r\n0\r\n\r\n', 400],
  ['leading space', ' 5\r\nhello\r\n0\r\n\r\n', 400],
  ['whitespace then CRLF', '5 \r\nhello\r\n0\r\n\r\n', 400],
  ['whitespace then a digit', '5 5\r\nhello\r\n0\r\n\r\n', 400],
  ['whitespace then a letter', '5\tx\r\nhello\r\n0\r\n\r\n', 400],
  ['missing CRLF after data', '5\r\nhelloX\r\n0\r\n\r\n', 400],
  ['data longer than the size', '5\r\nhello!\r\n0\r\n\r\n', 400],
  ['only CR after data', '5\r\nhello\r0\r\n\r\n', 400],
  ['only LF after data', '5\r\nhello\n0\r\n\r\n', 400],
  ['LF-only size line', '5\nhello\r\n0\r\n\r\n', 400],
  ['LF-only everywhere', '5\nhello\n0\n\n', 400],
  ['bare CR after size', '5\rhello\r\n0\r\n\r\n', 400],
  ['bare CR in extension', '5;a\rb\r\nhello\r\n0\r\n\r\n', 400],
  ['LF in extension', '5;a\nb\r\nhello\r\n0\r\n\r\n', 400],
  ['NUL in extension', '5;a\x00\r\nhello\r\n0\r\n\r\n', 400],
  ['control char in extension', '5;a=\x01\r\nhello\r\n0\r\n\r\n', 400],
  ['DEL in extension', '5;a=\x7f\r\nhello\r\n0\r\n\r\n', 400],
  ['VT in extension', '5;\x0b\r\nhello\r\n0\r\n\r\n', 400],
  ['extension line over 4 KiB', `5;${'a'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`, 400],
  ['bare LF ending the last chunk line', '0\n\r\n', 400],
  ['bare CR ending the body', '0\r\n\r0', 400],
  ['LF-only end of body', '0\r\n\n', 400],
  ['trailer with obs-fold', '0\r\nX-T: 1\r\n 2\r\n\r\n', 400],
  ['trailer starting with whitespace', '0\r\n X-T: 1\r\n\r\n', 400],
  ['trailer with space before colon', '0\r\nX-T : 1\r\n\r\n', 400],
  ['trailer with empty name', '0\r\n: 1\r\n\r\n', 400],
  ['trailer without colon', '0\r\nX-T\r\n\r\n', 400],
  ['trailer with non-token name', '0\r\nX(T): 1\r\n\r\n', 400],
  ['trailer with NUL in value', '0\r\nX-T: a\x00b\r\n\r\n', 400],
  ['trailer with bare CR', '0\r\nX-T: a\rb\r\n\r\n', 400],
  ['trailer with bare LF', '0\r\nX-T: a\nb\r\n\r\n', 400],
  ['trailer line ended by LF only', '0\r\nX-T: a\n\r\n', 400],
];

describe('ChunkedDecoder: rejections (exact status, whatever the split)', () => {
  for (const [name, text, status] of REJECT) {
    it(`${name} → ${status}`, () => {
      const buf = latin1(text);
      assert.equal(statusOf(buf), String(status), `one piece: ${JSON.stringify(text.slice(0, 60))}`);
      fc.assert(
        fc.property(cutsFor(buf.length), (cuts) => {
          assert.equal(statusOf(buf, cuts), String(status));
        }),
        { numRuns: 50 },
      );
    });
  }

  it('trailer section over the limit → 431, whatever the split', () => {
    const limit = 64;
    const small = latin1(`0\r\nX-A: ${'a'.repeat(20)}\r\nX-B: ${'b'.repeat(20)}\r\n\r\n`); // 54 bytes of trailer lines
    assert.equal(statusOf(small, [], limit), `done@${small.length}`);
    const big = latin1(`0\r\nX-A: ${'a'.repeat(40)}\r\nX-B: ${'b'.repeat(40)}\r\n\r\n`);
    assert.equal(statusOf(big, [], limit), '431');
    fc.assert(
      fc.property(cutsFor(big.length), (cuts) => {
        assert.equal(statusOf(big, cuts, limit), '431');
      }),
      { numRuns: 100 },
    );
  });

  it('many small trailer lines add up to the limit → 431', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `T${i}: v\r\n`).join('');
    assert.equal(statusOf(latin1(`0\r\n${lines}\r\n`), [], 256), '431');
    assert.equal(statusOf(latin1(`0\r\n${lines}\r\n`), [], 16 * 1024), `done@${lines.length + 5}`);
  });

  it('a valid body with the CR of any framing CRLF replaced (bare LF) is a 400, however split', () => {
    fc.assert(
      fc.property(
        chunkedBody.chain((b) =>
          fc.tuple(fc.constantFrom(...framingCrPositions(b.encoded)), cutsFor(b.encoded.length)).map(([at, cuts]) => ({ ...b, at, cuts })),
        ),
        ({ encoded, at, cuts }) => {
          assert.equal(encoded[at], 0x0d);
          assert.equal(encoded[at + 1], 0x0a);
          const broken = Buffer.from(encoded);
          broken[at] = 0x0a;
          assert.equal(statusOf(broken, cuts), '400');
          broken[at] = 0x20; // CR replaced by a space: also a 400
          assert.equal(statusOf(broken, cuts), '400');
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Positions of the CR of every CRLF that delimits (not payload data) in a valid chunked body. */
function framingCrPositions(buf: Buffer): Set<number> {
  const out = new Set<number>();
  let i = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', i);
    out.add(lineEnd);
    const size = parseInt(buf.toString('latin1', i, lineEnd).split(/[ \t;]/)[0]!, 16);
    i = lineEnd + 2;
    if (size === 0) break;
    out.add(i + size);
    i += size + 2;
  }
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', i);
    out.add(lineEnd);
    if (lineEnd === i) return out;
    i = lineEnd + 2;
  }
}

/* ------------------------------------------------------------------ known deviations from RFC 9112 §7.1.1 */

describe('ChunkedDecoder: chunk-ext grammar (regressions)', () => {
  const INVALID_EXT: [string, string][] = [
    ['empty extension name', '5;\r\nhello\r\n0\r\n\r\n'],
    ['extension name with a space inside', '5;a b\r\nhello\r\n0\r\n\r\n'],
    ['"=" without a name', '5;=v\r\nhello\r\n0\r\n\r\n'],
    ['"=" without a value', '5;a=\r\nhello\r\n0\r\n\r\n'],
    ['unterminated quoted value', '5;a="b\r\nhello\r\n0\r\n\r\n'],
    ['whitespace after the extension (no "=" follows)', '5;a \r\nhello\r\n0\r\n\r\n'],
    ['non-token char in the name', '5;a@b\r\nhello\r\n0\r\n\r\n'],
  ];
  for (const [name, text] of INVALID_EXT) {
    it(`${name} → 400`, () => assert.equal(statusOf(latin1(text)), '400'));
  }
});

/* ------------------------------------------------------------------ found by the llhttp differential (fuzz/) */

describe('ChunkedDecoder: framing fields in trailers (regressions found by the llhttp differential)', () => {
  // RFC 9110 §6.5.1: a sender must not put Content-Length or Transfer-Encoding in a trailer section; llhttp
  // refuses them, and a node that merged them into the header section would frame the next message anew.
  for (const name of ['Content-Length', 'content-length', 'TRANSFER-ENCODING', 'Transfer-Encoding']) {
    it(`trailer "${name}" → 400, whatever the split`, () => {
      const buf = latin1(`1\r\nx\r\n0\r\nX-A: 1\r\n${name}: 2\r\n\r\n`);
      assert.equal(statusOf(buf), '400');
      fc.assert(
        fc.property(cutsFor(buf.length), (cuts) => assert.equal(statusOf(buf, cuts), '400')),
        { numRuns: 50 },
      );
      assert.equal(
        statusOf(
          buf,
          Array.from({ length: buf.length }, (_, i) => i),
        ),
        '400',
      );
    });
  }
  for (const name of ['Content-Lengt', 'Content-Length2', 'X-Content-Length', 'Transfer-Encodin', 'Content-Type', 'T']) {
    it(`trailer "${name}" is still accepted`, () => {
      const text = `0\r\n${name}: 2\r\n\r\n`;
      assert.equal(statusOf(latin1(text)), `done@${text.length}`);
    });
  }
});
