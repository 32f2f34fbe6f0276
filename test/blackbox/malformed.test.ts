/**
 * Black-box: a corpus of malformed, ambiguous and smuggling requests sent as raw bytes to a real fnlb
 * process whose only node is an in-process recording raw backend. For each vector, on a fresh connection:
 *   - rejected vectors: the exact 4xx/5xx status, Connection: close and the connection closed by fnlb,
 *     and NOT ONE byte reached the node;
 *   - valid vectors: forwarded, and the bytes the node received parse as exactly the expected number of
 *     requests with nothing left over (so no smuggled second request).
 * fnlb must still serve a normal GET at the end. A table (vector → status, closed, node bytes) is printed.
 *
 * The regression sections hold the framing bugs the first version of these tests found (listed framing
 * fields stripped, Host structure, '#', chunk-ext grammar, HTTP/1.0 + Transfer-Encoding reuse).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRawBackend, type RawBackend } from '../helpers/raw-backend.js';
import { RawConnection, httpRequest, parseRequests, type ParsedRequest, type ParsedResponse } from '../helpers/raw-client.js';
import { startFnlb, cleanup, sleep, type FnlbProcess } from '../helpers/processes.js';

const HOST = 'lb.test';
const P = `POST /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n`;
const G = `GET /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n`;
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const CHUNK_OK = '5\r\nhello\r\n0\r\n\r\n';
/** A chunked body whose only chunk is a complete request: harmless as data, a smuggled request if the framing is lost. */
const CHUNKED_SMUGGLE = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;

type Expect = number | readonly number[] | 'forward';

interface Vector {
  name: string;
  bytes: string | Buffer;
  expect: Expect;
  /** Forwarded vectors: how many requests the node must see (default 1). */
  requests?: number;
  /** Forwarded vectors: more checks on what the node got. */
  check?: (reqs: ParsedRequest[]) => void;
  /** Known deviation from the RFC: the test runs and reports but does not fail the suite. */
  todo?: string;
}

/** Classic TE.TE: a Content-Length plus an obfuscated Transfer-Encoding line. */
const teWithCl = (teLine: string): string => `${P}Content-Length: 4\r\n${teLine}\r\n\r\n1\r\nZ\r\n0\r\n\r\n`;
/** An obfuscated Transfer-Encoding line alone, followed by a chunked body carrying a request. */
const teAlone = (teLine: string): string => `${P}${teLine}\r\n\r\n${CHUNKED_SMUGGLE}`;
const chunked = (body: string): string => `${P}Transfer-Encoding: chunked\r\n\r\n${body}`;
const withCl = (value: string): string => `${P}Content-Length: ${value}\r\n\r\nhello`;

let trapPort = 0; // set in before(): a listener fnlb must never contact

const VECTORS: (() => Vector)[] = [
  // --- CL.TE / TE.CL
  () => ({ name: 'CL.TE (CL 6, TE chunked, "0\\r\\n\\r\\nG")', bytes: `${P}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`, expect: 400 }),
  () => ({ name: 'TE.CL (TE chunked, CL 4, chunk = request)', bytes: `${P}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${CHUNKED_SMUGGLE}`, expect: 400 }),
  () => ({ name: 'CL.CL (two different Content-Length)', bytes: `${P}Content-Length: 0\r\nContent-Length: 41\r\n\r\n${SMUGGLED}`, expect: 400 }),
  // --- TE.TE: CL + obfuscated TE
  () => ({ name: 'TE.TE "chunked " + CL', bytes: teWithCl('Transfer-Encoding: chunked '), expect: 400 }),
  () => ({ name: 'TE.TE "Chunked" + CL', bytes: teWithCl('Transfer-Encoding: Chunked'), expect: 400 }),
  () => ({ name: 'TE.TE "xchunked" + CL', bytes: teWithCl('Transfer-Encoding: xchunked'), expect: 400 }),
  () => ({ name: 'TE.TE "chunked\\t" + CL', bytes: teWithCl('Transfer-Encoding: chunked\t'), expect: 400 }),
  () => ({ name: 'TE.TE "chunked, chunked" + CL', bytes: teWithCl('Transfer-Encoding: chunked, chunked'), expect: 400 }),
  () => ({ name: 'TE.TE "Transfer-Encoding :" + CL', bytes: teWithCl('Transfer-Encoding : chunked'), expect: 400 }),
  () => ({ name: 'TE.TE "Transfer-Encoding\\t:" + CL', bytes: teWithCl('Transfer-Encoding\t: chunked'), expect: 400 }),
  () => ({ name: 'TE.TE "\\x0bchunked" + CL', bytes: teWithCl('Transfer-Encoding: \x0bchunked'), expect: 400 }),
  () => ({ name: 'TE.TE line-folded TE + CL', bytes: teWithCl('Transfer-Encoding:\r\n chunked'), expect: 400 }),
  () => ({ name: 'TE.TE two TE lines + CL', bytes: teWithCl('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity'), expect: 400 }),
  () => ({ name: 'TE.TE "identity" + CL', bytes: teWithCl('Transfer-Encoding: identity'), expect: 400 }),
  // --- obfuscated TE alone
  () => ({ name: 'TE "Chunked" alone (valid: case-insensitive)', bytes: teAlone('Transfer-Encoding: Chunked'), expect: 'forward', check: bodyIs(SMUGGLED) }),
  () => ({ name: 'TE " chunked\\t" alone (valid: OWS trimmed)', bytes: teAlone('Transfer-Encoding:  chunked\t'), expect: 'forward', check: bodyIs(SMUGGLED) }),
  () => ({ name: 'TE "xchunked" alone', bytes: teAlone('Transfer-Encoding: xchunked'), expect: 400 }),
  () => ({ name: 'TE "chunked, chunked" alone', bytes: teAlone('Transfer-Encoding: chunked, chunked'), expect: 400 }),
  () => ({ name: 'TE "gzip, chunked" alone', bytes: teAlone('Transfer-Encoding: gzip, chunked'), expect: 501 }),
  () => ({ name: 'TE "chunked, gzip" alone', bytes: teAlone('Transfer-Encoding: chunked, gzip'), expect: 400 }),
  () => ({ name: 'TE "chunked\\x0b" alone', bytes: teAlone('Transfer-Encoding: chunked\x0b'), expect: 400 }),
  () => ({ name: 'TE line-folded alone', bytes: teAlone('Transfer-Encoding:\r\n chunked'), expect: 400 }),
  () => ({ name: 'TE "Transfer-Encoding :" alone', bytes: teAlone('Transfer-Encoding : chunked'), expect: 400 }),
  () => ({ name: 'TE in HTTP/1.0', bytes: `POST /r/app/fn HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNK_OK}`, expect: 400 }),
  // --- Content-Length
  () => ({ name: 'CL duplicate identical', bytes: `${P}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, expect: 400 }),
  () => ({ name: 'CL -1', bytes: withCl('-1'), expect: 400 }),
  () => ({ name: 'CL +5', bytes: withCl('+5'), expect: 400 }),
  () => ({ name: 'CL 0x5', bytes: withCl('0x5'), expect: 400 }),
  () => ({ name: 'CL "0 5" (space inside)', bytes: withCl('0 5'), expect: 400 }),
  () => ({ name: 'CL "5, 5" (list)', bytes: withCl('5, 5'), expect: 400 }),
  () => ({ name: 'CL empty', bytes: withCl(''), expect: 400 }),
  () => ({ name: 'CL 16 digits', bytes: withCl('1000000000000005'), expect: 400 }),
  // --- field syntax
  () => ({ name: 'obs-fold', bytes: `${G}X-A: 1\r\n folded\r\n\r\n`, expect: 400 }),
  () => ({ name: 'bare LF ending a header line', bytes: `${G}X-A: 1\n\r\n`, expect: 400 }),
  () => ({ name: 'LF-only request', bytes: `GET /r/app/fn HTTP/1.1\nHost: ${HOST}\n\n`, expect: 400 }),
  () => ({ name: 'bare CR in a header value', bytes: `${G}X-A: 1\r2\r\n\r\n`, expect: 400 }),
  () => ({ name: 'NUL in a header value', bytes: `${G}X-A: a\x00b\r\n\r\n`, expect: 400 }),
  () => ({ name: 'NUL in a header name', bytes: `${G}X\x00A: b\r\n\r\n`, expect: 400 }),
  () => ({ name: 'NUL in the target', bytes: `GET /r/app/fn\x00x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'space before colon (Host :)', bytes: `GET /r/app/fn HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'empty header name', bytes: `${G}: x\r\n\r\n`, expect: 400 }),
  // --- chunked body framing (head is valid; the body is not)
  () => ({ name: 'chunk size "zz"', bytes: chunked('zz\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk size "0x5"', bytes: chunked('0x5\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk size "-1"', bytes: chunked('-1\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk size 2^52', bytes: chunked('10000000000000\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk size 17 digits', bytes: chunked('00000000000000005\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk size "5 x"', bytes: chunked('5 x\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk ext with control char', bytes: chunked('5;a=\x01\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk ext empty name "5;"', bytes: chunked('5;\r\nhello\r\n0\r\n\r\n'), expect: 400 }),
  () => ({ name: 'chunk data longer than size', bytes: chunked(`3\r\nhello\r\n0\r\n\r\n`), expect: 400 }),
  () => ({ name: 'chunk lines LF-only', bytes: chunked('5\nhello\n0\n\n'), expect: 400 }),
  () => ({ name: 'chunk trailer obs-fold', bytes: chunked('5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n'), expect: 400 }),
  // --- request line
  () => ({ name: 'two spaces after method', bytes: `GET  /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({
    name: 'lower-case method "get" (a valid token)',
    bytes: `get /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    expect: 'forward',
    check: (r) => assert.equal(r[0]!.method, 'get'),
  }),
  () => ({ name: 'custom method PURGE', bytes: `PURGE /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 'forward', check: (r) => assert.equal(r[0]!.method, 'PURGE') }),
  () => ({ name: 'lower-case "http/1.1"', bytes: `GET /r/app/fn http/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'HTTP/1.2', bytes: `GET /r/app/fn HTTP/1.2\r\nHost: ${HOST}\r\n\r\n`, expect: 505 }),
  () => ({ name: 'HTTP/2.0 request line', bytes: `GET /r/app/fn HTTP/2.0\r\nHost: ${HOST}\r\n\r\n`, expect: 505 }),
  () => ({ name: 'HTTP/2 preface "PRI * HTTP/2.0"', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expect: [505, 400] }),
  () => ({ name: 'relative target "foo"', bytes: `GET foo HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'raw non-ASCII in target', bytes: `GET /r/app/caf\xe9 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'fragment in target', bytes: `GET /r/app/fn#x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, expect: 400 }),
  () => ({ name: 'CONNECT', bytes: `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`, expect: 501 }),
  () => ({
    name: 'absolute-form, foreign host',
    bytes: `GET http://127.0.0.1:${trapPort}/r/app/fn?q=1 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    expect: 'forward',
    check: (r) => {
      assert.equal(r[0]!.target, '/r/app/fn?q=1');
      assert.equal(r[0]!.headers.host, HOST, 'Host unchanged');
    },
  }),
  () => ({
    name: 'HTTP/1.0 without Host',
    bytes: 'GET /r/app/fn HTTP/1.0\r\n\r\n',
    expect: 'forward',
    check: (r) => assert.match(r[0]!.headers.host ?? '', /^127\.0\.0\.1:\d+$/),
  }),
  // --- Host
  () => ({ name: 'missing Host', bytes: 'GET /r/app/fn HTTP/1.1\r\nAccept: */*\r\n\r\n', expect: 400 }),
  () => ({ name: 'double Host', bytes: `${G}Host: other.test\r\n\r\n`, expect: 400 }),
  () => ({ name: 'Host with a space', bytes: 'GET /r/app/fn HTTP/1.1\r\nHost: a b\r\n\r\n', expect: 400 }),
  () => ({ name: 'Host "a:b:c"', bytes: 'GET /r/app/fn HTTP/1.1\r\nHost: a:b:c\r\n\r\n', expect: 400 }),
  // --- limits
  () => ({ name: '20 KiB header', bytes: `${G}X-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, expect: 431 }),
  () => ({ name: '10,000 tiny headers', bytes: `${G}${'a: b\r\n'.repeat(10_000)}\r\n`, expect: 431 }),
  // --- Expect / Upgrade
  () => ({ name: 'Expect: bogus', bytes: `${P}Expect: bogus\r\nContent-Length: 5\r\n\r\nhello`, expect: 417 }),
  () => ({ name: 'Upgrade: websocket', bytes: `${G}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, expect: 501 }),
  // --- framing fields named in Connection (hop-by-hop abuse)
  () => ({
    name: 'Connection: content-length (CL body = request)',
    bytes: `${P}Connection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    expect: 'forward',
    check: bodyIs(SMUGGLED),
  }),
  () => ({
    name: 'Connection: transfer-encoding (chunk = request)',
    bytes: `${P}Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_SMUGGLE}`,
    expect: 'forward',
    check: bodyIs(SMUGGLED),
  }),
  () => ({
    name: 'Connection: host',
    bytes: `${G}Connection: host\r\n\r\n`,
    expect: 'forward',
    check: (r) => assert.equal(r[0]!.headers.host, HOST, 'node got no Host'),
  }),
  // --- legitimate pipelining still framed correctly
  () => ({
    name: 'CL body then pipelined GET (valid)',
    bytes: `${P}Content-Length: 5\r\n\r\nhello${G}\r\n`,
    expect: 'forward',
    requests: 2,
    check: (r) => {
      assert.equal(r[0]!.body.toString(), 'hello');
      assert.equal(r[1]!.method, 'GET');
    },
  }),
  () => ({
    name: 'chunked body then pipelined GET (valid)',
    bytes: `${P}Transfer-Encoding: chunked\r\n\r\n${CHUNK_OK}${G}\r\n`,
    expect: 'forward',
    requests: 2,
    check: (r) => {
      assert.equal(r[0]!.body.toString(), 'hello');
      assert.equal(r[1]!.method, 'GET');
    },
  }),
];

function bodyIs(expected: string): (reqs: ParsedRequest[]) => void {
  return (reqs) => assert.equal(reqs[0]!.body.toString('latin1'), expected);
}

interface Row {
  vector: string;
  expected: string;
  status: string;
  closed: string;
  nodeBytes: number;
  nodeRequests: string;
  verdict: string;
}

interface Sent {
  raw: Buffer;
  responses: ParsedResponse[];
  /** fnlb closed the connection (within 1 s of its last response). */
  closed: boolean;
  timedOut: boolean;
}

/**
 * Sends the bytes on a fresh connection, waits (≤ 2 s) for `responses` final responses or the close, then,
 * if `awaitClose`, up to 1 s more for fnlb to close the connection.
 */
async function send(port: number, bytes: string | Buffer, responses: number, awaitClose: boolean): Promise<Sent> {
  const conn = await RawConnection.open(port);
  let timedOut = false;
  try {
    await conn.write(bytes);
  } catch {
    // fnlb may close while a huge head is still being written; what it answered is still readable
  }
  try {
    await conn.waitForResponses(responses, 2000);
  } catch (err) {
    timedOut = /timed out/.test((err as Error).message);
  }
  const closed = conn.remoteClosed || (awaitClose && (await conn.waitForClose(1000)));
  const out = { raw: conn.raw, responses: conn.responses.filter((x) => x.status >= 200), closed, timedOut };
  conn.destroy();
  return out;
}

function statusOf(raw: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 32).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

describe('malformed and smuggling requests through fnlb', () => {
  let node: RawBackend;
  let trap: RawBackend;
  let lb: FnlbProcess;
  const rows: Row[] = [];

  before(async () => {
    node = await startRawBackend();
    trap = await startRawBackend({ recordOnly: true });
    trapPort = trap.port;
    lb = await startFnlb([
      '--listen', '127.0.0.1:0',
      '--nodes', node.id,
      '--hc-path=', // TCP connect checks: the node receives only what clients send
      '--hc-interval', '2s',
      '--max-idle-per-node', '0', // a fresh node connection per request: vectors cannot leak into each other
      '--access-log', 'off',
    ]);
  });

  after(async () => {
    const cols: (keyof Row)[] = ['vector', 'expected', 'status', 'closed', 'nodeBytes', 'nodeRequests', 'verdict'];
    const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      [
        `\nmalformed-request corpus: ${rows.length} vectors, fnlb pid ${lb?.pid}`,
        line(cols.map(String)),
        line(widths.map((w) => '-'.repeat(w))),
        ...rows.map((r) => line(cols.map((c) => String(r[c])))),
      ].join('\n'),
    );
    await cleanup();
    await node?.close();
    await trap?.close();
  });

  for (const make of VECTORS) {
    // Vectors are built lazily (the absolute-form one needs the trap port); titles do not depend on it.
    const title = make().name;
    const known = make().todo;
    it(title, known ? { todo: known } : {}, async () => {
      const v = make();
      const forward = v.expect === 'forward';
      const connsBefore = node.connections.length;
      const bytesBefore = node.connections.map((c) => c.received().length);
      const reqsBefore = node.requests.length;
      const trapBefore = trap.connections.length;

      const r = await send(lb.port, v.bytes, forward ? (v.requests ?? 1) : 1, !forward);
      await sleep(forward ? 60 : 25); // anything still on its way to the node

      // what reached the node during this vector, per connection
      const fresh: Buffer[] = [];
      node.connections.forEach((c, i) => {
        const b = c.received().subarray(i < connsBefore ? bytesBefore[i]! : 0);
        if (b.length > 0) fresh.push(b);
      });
      const nodeBytes = fresh.reduce((n, b) => n + b.length, 0);
      const parsed = fresh.map((b) => parseRequests(b));
      const nodeReqs = parsed.flatMap((p) => p.requests);
      const leftover = parsed.some((p, i) => p.error !== undefined || p.rest !== fresh[i]!.length);
      const first = r.responses[0];
      const status = first?.status ?? statusOf(r.raw);

      const row: Row = {
        vector: v.name,
        expected: forward ? `fwd×${v.requests ?? 1}` : Array.isArray(v.expect) ? v.expect.join('|') : String(v.expect),
        status: status === undefined ? (r.timedOut ? 'timeout' : 'none') : String(status),
        closed: forward ? (r.closed ? 'yes' : '-') : r.closed ? 'yes' : 'NO',
        nodeBytes,
        nodeRequests: `${node.requests.length - reqsBefore}${leftover ? '+junk' : ''}`,
        verdict: known ? 'BUG (todo)' : 'FAIL',
      };
      rows.push(row);

      assert.equal(trap.connections.length, trapBefore, 'fnlb contacted a host named in the request');
      if (forward) {
        assert.equal(status, 200, `expected the node's 200, got ${row.status}: ${JSON.stringify(r.raw.subarray(0, 300).toString('latin1'))}`);
        assert.equal(r.responses.length, v.requests ?? 1, 'responses');
        assert.ok(!leftover, `node got bytes that are not whole requests: ${JSON.stringify(Buffer.concat(fresh).toString('latin1').slice(0, 400))}`);
        assert.equal(nodeReqs.length, v.requests ?? 1, `node saw ${nodeReqs.length} requests: ${nodeReqs.map((q) => `${q.method} ${q.target}`).join(', ')}`);
        assert.equal(node.requests.length - reqsBefore, v.requests ?? 1);
        v.check?.(nodeReqs);
      } else {
        const allowed: readonly number[] = typeof v.expect === 'number' ? [v.expect] : (v.expect as readonly number[]);
        assert.ok(status !== undefined && allowed.includes(status), `expected ${row.expected}, got ${row.status}: ${JSON.stringify(r.raw.subarray(0, 300).toString('latin1'))}`);
        assert.equal(r.responses.length, 1, 'exactly one response');
        assert.equal(first!.headers.connection?.toLowerCase(), 'close', 'Connection: close on a rejection');
        assert.ok(r.closed, 'fnlb closed the connection after rejecting');
        assert.equal(nodeBytes, 0, `node received ${nodeBytes} bytes for a rejected request: ${JSON.stringify(Buffer.concat(fresh).toString('latin1').slice(0, 300))}`);
      }
      row.verdict = known ? 'ok (fixed? drop the todo)' : 'ok';
    });
  }

  it('fnlb is still up and forwards a normal GET', async () => {
    assert.equal(lb.proc.exitCode, null, `fnlb exited: ${lb.stderr}`);
    const before = node.requests.length;
    const r = await httpRequest(lb.port, { path: '/r/app/final', headers: { host: HOST } });
    assert.equal(r.status, 200);
    assert.equal(r.text(), 'ok');
    assert.equal(node.requests.length, before + 1);
    assert.equal(node.requests.at(-1)!.target, '/r/app/final');
    assert.equal(trap.connections.length, 0, 'the absolute-form host was never contacted');
    assert.equal(lb.stderr.includes('Error'), false, `fnlb stderr: ${lb.stderr.slice(0, 500)}`);
  });
});
