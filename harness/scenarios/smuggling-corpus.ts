/**
 * The corpus of malformed, ambiguous and request-smuggling requests, as raw bytes, shared by
 * test/blackbox/malformed.test.ts (fnlb alone, exact assertions) and the fnlb / nginx / HAProxy comparison
 * (test/blackbox/corpus-compare.test.ts, bench/corpus.ts).
 *
 * Every vector says what RFC 9112 (and RFC 9110 where it is the one that decides) demands of a server
 * that is a gateway: reject with a given status and close, or forward exactly `requests` clean requests.
 * Where the RFCs allow either (e.g. CL+TE "ought to be handled as an error"), the vector holds fnlb's
 * choice, which is always the stricter one. `todo` marks a vector where fnlb does not (yet) do what the
 * RFC demands: the test runs and reports it but does not fail the suite.
 *
 * Sources besides the RFCs: PortSwigger's request-smuggling research (CL.TE, TE.CL, TE.TE, CL.0, the
 * 2025 Expect-based desyncs), the Transfer-Encoding mutations of smuggler.py (names in brackets), and
 * the "funky chunks" chunk-line terminator tricks.
 */
import assert from 'node:assert/strict';
import type { ParsedRequest } from '../client/http1-reader.js';

export const HOST = 'lb.test';
const P = `POST /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n`;
const G = `GET /r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n`;
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const CHUNK_OK = '5\r\nhello\r\n0\r\n\r\n';
/** A chunked body whose only chunk is a complete request: harmless as data, a smuggled request if the framing is lost. */
const CHUNKED_SMUGGLE = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;

export type Expect = number | readonly number[] | 'forward';

/** What one forwarded request must look like at the node, whichever proxy forwarded it. */
export interface Seen {
  method: string;
  /** Origin-form (an absolute-form target the proxy passed on is reduced to its path and query). */
  target: string;
  body: string;
}

export interface Vector {
  name: string;
  bytes: string | Buffer;
  expect: Expect;
  /** Forwarded vectors: how many requests the node must see (default 1). */
  requests?: number;
  /** Forwarded vectors: the body of the (single) forwarded request (default empty). */
  body?: string;
  /** Forwarded vectors with several requests: each of them (default: one request, from the request line and `body`). */
  sees?: Seen[];
  /** fnlb only: more checks on what the node got (e.g. headers fnlb rewrites). */
  check?: (reqs: ParsedRequest[]) => void;
  /** Known deviation of fnlb from the RFC: the test runs and reports but does not fail the suite. */
  todo?: string;
}

export interface CorpusEnv {
  /** A listener no proxy may ever contact (the absolute-form vectors name it). */
  trapPort: number;
}

/** Classic TE.TE: a Content-Length plus an obfuscated Transfer-Encoding line. */
const teWithCl = (teLine: string): string => `${P}Content-Length: 4\r\n${teLine}\r\n\r\n1\r\nZ\r\n0\r\n\r\n`;
/** An obfuscated Transfer-Encoding line alone, followed by a chunked body carrying a request. */
const teAlone = (teLine: string): string => `${P}${teLine}\r\n\r\n${CHUNKED_SMUGGLE}`;
/** A field that is not Transfer-Encoding (but looks like it) and an exact Content-Length: the CL frames the chunked-looking body. */
const notTe = (line: string): string => `${P}${line}\r\nContent-Length: ${CHUNKED_SMUGGLE.length}\r\n\r\n${CHUNKED_SMUGGLE}`;
const chunked = (body: string): string => `${P}Transfer-Encoding: chunked\r\n\r\n${body}`;
/** A valid head announcing a chunked body that the RFC 9112 §7.1 grammar rejects: 400, not one byte to the node. */
const badChunks = (name: string, body: string): Vector => ({ name, bytes: chunked(body), expect: 400 });
const withCl = (value: string): string => `${P}Content-Length: ${value}\r\n\r\nhello`;
const line = (requestLine: string): string => `${requestLine}\r\nHost: ${HOST}\r\n\r\n`;
const host = (value: string): string => `GET /r/app/fn HTTP/1.1\r\nHost: ${value}\r\n\r\n`;

/** The whole corpus. Names and expectations do not depend on `env`, only some bytes do. */
export function smugglingCorpus(env: CorpusEnv): Vector[] {
  const trap = `127.0.0.1:${env.trapPort}`;
  return [
    // --- CL.TE / TE.CL
    {
      name: 'CL.TE (CL 6, TE chunked, "0\\r\\n\\r\\nG")',
      bytes: `${P}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
      expect: 400,
    },
    {
      name: 'TE.CL (TE chunked, CL 4, chunk = request)',
      bytes: `${P}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${CHUNKED_SMUGGLE}`,
      expect: 400,
    },
    { name: 'CL.CL (two different Content-Length)', bytes: `${P}Content-Length: 0\r\nContent-Length: 41\r\n\r\n${SMUGGLED}`, expect: 400 },
    // --- TE.TE: CL + obfuscated TE
    { name: 'TE.TE "chunked " + CL', bytes: teWithCl('Transfer-Encoding: chunked '), expect: 400 },
    { name: 'TE.TE "Chunked" + CL', bytes: teWithCl('Transfer-Encoding: Chunked'), expect: 400 },
    { name: 'TE.TE "xchunked" + CL', bytes: teWithCl('Transfer-Encoding: xchunked'), expect: 400 },
    { name: 'TE.TE "chunked\\t" + CL', bytes: teWithCl('Transfer-Encoding: chunked\t'), expect: 400 },
    { name: 'TE.TE "chunked, chunked" + CL', bytes: teWithCl('Transfer-Encoding: chunked, chunked'), expect: 400 },
    { name: 'TE.TE "Transfer-Encoding :" + CL', bytes: teWithCl('Transfer-Encoding : chunked'), expect: 400 },
    { name: 'TE.TE "Transfer-Encoding\\t:" + CL', bytes: teWithCl('Transfer-Encoding\t: chunked'), expect: 400 },
    { name: 'TE.TE "\\x0bchunked" + CL', bytes: teWithCl('Transfer-Encoding: \x0bchunked'), expect: 400 },
    { name: 'TE.TE line-folded TE + CL', bytes: teWithCl('Transfer-Encoding:\r\n chunked'), expect: 400 },
    { name: 'TE.TE two TE lines + CL', bytes: teWithCl('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity'), expect: 400 },
    { name: 'TE.TE "identity" + CL', bytes: teWithCl('Transfer-Encoding: identity'), expect: 400 },
    // --- obfuscated TE alone
    {
      name: 'TE "Chunked" alone (valid: case-insensitive)',
      bytes: teAlone('Transfer-Encoding: Chunked'),
      expect: 'forward',
      body: SMUGGLED,
    },
    {
      name: 'TE " chunked\\t" alone (valid: OWS trimmed)',
      bytes: teAlone('Transfer-Encoding:  chunked\t'),
      expect: 'forward',
      body: SMUGGLED,
    },
    { name: 'TE "xchunked" alone', bytes: teAlone('Transfer-Encoding: xchunked'), expect: 400 },
    { name: 'TE "chunked, chunked" alone', bytes: teAlone('Transfer-Encoding: chunked, chunked'), expect: 400 },
    { name: 'TE "gzip, chunked" alone', bytes: teAlone('Transfer-Encoding: gzip, chunked'), expect: 501 },
    { name: 'TE "chunked, gzip" alone', bytes: teAlone('Transfer-Encoding: chunked, gzip'), expect: 400 },
    { name: 'TE "chunked\\x0b" alone', bytes: teAlone('Transfer-Encoding: chunked\x0b'), expect: 400 },
    { name: 'TE line-folded alone', bytes: teAlone('Transfer-Encoding:\r\n chunked'), expect: 400 },
    { name: 'TE "Transfer-Encoding :" alone', bytes: teAlone('Transfer-Encoding : chunked'), expect: 400 },
    { name: 'TE in HTTP/1.0', bytes: `POST /r/app/fn HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNK_OK}`, expect: 400 },
    // --- Content-Length
    { name: 'CL duplicate identical', bytes: `${P}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, expect: 400 },
    { name: 'CL -1', bytes: withCl('-1'), expect: 400 },
    { name: 'CL +5', bytes: withCl('+5'), expect: 400 },
    { name: 'CL 0x5', bytes: withCl('0x5'), expect: 400 },
    { name: 'CL "0 5" (space inside)', bytes: withCl('0 5'), expect: 400 },
    { name: 'CL "5, 5" (list)', bytes: withCl('5, 5'), expect: 400 },
    { name: 'CL empty', bytes: withCl(''), expect: 400 },
    { name: 'CL 16 digits', bytes: withCl('1000000000000005'), expect: 400 },
    // --- field syntax
    { name: 'obs-fold', bytes: `${G}X-A: 1\r\n folded\r\n\r\n`, expect: 400 },
    { name: 'bare LF ending a header line', bytes: `${G}X-A: 1\n\r\n`, expect: 400 },
    { name: 'LF-only request', bytes: `GET /r/app/fn HTTP/1.1\nHost: ${HOST}\n\n`, expect: 400 },
    { name: 'bare CR in a header value', bytes: `${G}X-A: 1\r2\r\n\r\n`, expect: 400 },
    { name: 'NUL in a header value', bytes: `${G}X-A: a\x00b\r\n\r\n`, expect: 400 },
    { name: 'NUL in a header name', bytes: `${G}X\x00A: b\r\n\r\n`, expect: 400 },
    { name: 'NUL in the target', bytes: line('GET /r/app/fn\x00x HTTP/1.1'), expect: 400 },
    { name: 'space before colon (Host :)', bytes: `GET /r/app/fn HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`, expect: 400 },
    { name: 'empty header name', bytes: `${G}: x\r\n\r\n`, expect: 400 },
    // --- chunked body framing (head is valid; the body is not)
    { name: 'chunk size "zz"', bytes: chunked('zz\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk size "0x5"', bytes: chunked('0x5\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk size "-1"', bytes: chunked('-1\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk size 2^52', bytes: chunked('10000000000000\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk size 17 digits', bytes: chunked('00000000000000005\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk size "5 x"', bytes: chunked('5 x\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk ext with control char', bytes: chunked('5;a=\x01\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk ext empty name "5;"', bytes: chunked('5;\r\nhello\r\n0\r\n\r\n'), expect: 400 },
    { name: 'chunk data longer than size', bytes: chunked(`3\r\nhello\r\n0\r\n\r\n`), expect: 400 },
    { name: 'chunk lines LF-only', bytes: chunked('5\nhello\n0\n\n'), expect: 400 },
    { name: 'chunk trailer obs-fold', bytes: chunked('5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n'), expect: 400 },
    // --- request line
    { name: 'two spaces after method', bytes: line('GET  /r/app/fn HTTP/1.1'), expect: 400 },
    {
      name: 'lower-case method "get" (a valid token)',
      bytes: line('get /r/app/fn HTTP/1.1'),
      expect: 'forward',
      check: (r) => assert.equal(r[0]!.method, 'get'),
    },
    {
      name: 'custom method PURGE',
      bytes: line('PURGE /r/app/fn HTTP/1.1'),
      expect: 'forward',
      check: (r) => assert.equal(r[0]!.method, 'PURGE'),
    },
    { name: 'lower-case "http/1.1"', bytes: line('GET /r/app/fn http/1.1'), expect: 400 },
    { name: 'HTTP/1.2', bytes: line('GET /r/app/fn HTTP/1.2'), expect: 505 },
    { name: 'HTTP/2.0 request line', bytes: line('GET /r/app/fn HTTP/2.0'), expect: 505 },
    { name: 'HTTP/2 preface "PRI * HTTP/2.0"', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expect: [505, 400] },
    { name: 'relative target "foo"', bytes: line('GET foo HTTP/1.1'), expect: 400 },
    { name: 'raw non-ASCII in target', bytes: line('GET /r/app/caf\xe9 HTTP/1.1'), expect: 400 },
    { name: 'fragment in target', bytes: line('GET /r/app/fn#x HTTP/1.1'), expect: 400 },
    { name: 'CONNECT', bytes: `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`, expect: 501 },
    {
      // RFC 9112 §3.2.2: a server receiving absolute-form MUST ignore the received Host and use the
      // target's authority instead; a gateway forwarding it must then not pass the ignored Host on.
      name: 'absolute-form, foreign host',
      bytes: `GET http://${trap}/r/app/fn?q=1 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
      expect: 'forward',
      check: (r) => {
        assert.equal(r[0]!.target, '/r/app/fn?q=1');
        assert.equal(r[0]!.headers.host, trap, 'Host is the authority of the absolute-form target');
      },
    },
    {
      name: 'HTTP/1.0 without Host',
      bytes: 'GET /r/app/fn HTTP/1.0\r\n\r\n',
      expect: 'forward',
      check: (r) => assert.match(r[0]!.headers.host ?? '', /^127\.0\.0\.1:\d+$/),
    },
    // --- Host
    { name: 'missing Host', bytes: 'GET /r/app/fn HTTP/1.1\r\nAccept: */*\r\n\r\n', expect: 400 },
    { name: 'double Host', bytes: `${G}Host: other.test\r\n\r\n`, expect: 400 },
    { name: 'Host with a space', bytes: host('a b'), expect: 400 },
    { name: 'Host "a:b:c"', bytes: host('a:b:c'), expect: 400 },
    // --- limits
    { name: '20 KiB header', bytes: `${G}X-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, expect: 431 },
    { name: '10,000 tiny headers', bytes: `${G}${'a: b\r\n'.repeat(10_000)}\r\n`, expect: 431 },
    // --- Expect / Upgrade
    { name: 'Expect: bogus', bytes: `${P}Expect: bogus\r\nContent-Length: 5\r\n\r\nhello`, expect: 417 },
    {
      name: 'Upgrade: websocket',
      bytes: `${G}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      expect: 501,
    },
    // --- framing fields named in Connection (hop-by-hop abuse)
    {
      name: 'Connection: content-length (CL body = request)',
      bytes: `${P}Connection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
      expect: 'forward',
      body: SMUGGLED,
    },
    {
      name: 'Connection: transfer-encoding (chunk = request)',
      bytes: `${P}Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_SMUGGLE}`,
      expect: 'forward',
      body: SMUGGLED,
    },
    {
      name: 'Connection: host',
      bytes: `${G}Connection: host\r\n\r\n`,
      expect: 'forward',
      check: (r) => assert.equal(r[0]!.headers.host, HOST, 'node got no Host'),
    },
    // --- absolute-form and authority (RFC 9112 §3.2, RFC 9110 §4.2 and §7.2); no proxy may contact the trap
    {
      name: 'absolute-form, same host',
      bytes: `GET http://${HOST}/r/app/fn?q=1 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
      expect: 'forward',
      check: (r) => assert.equal(r[0]!.target, '/r/app/fn?q=1'),
    },
    {
      name: 'absolute-form, foreign host = Host',
      bytes: `GET http://${trap}/r/app/fn HTTP/1.1\r\nHost: ${trap}\r\n\r\n`,
      expect: 'forward',
      check: (r) => {
        assert.equal(r[0]!.target, '/r/app/fn');
        assert.equal(r[0]!.headers.host, trap);
      },
    },
    {
      name: 'absolute-form without a path',
      bytes: `GET http://${HOST} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
      expect: 'forward',
      check: (r) => assert.equal(r[0]!.target, '/'),
    },
    {
      name: 'absolute-form with userinfo',
      bytes: `GET http://user:pw@${HOST}/r/app/fn HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
      expect: 400,
    },
    { name: 'absolute-form with empty authority', bytes: line('GET http:///r/app/fn HTTP/1.1'), expect: 400 },
    { name: 'absolute-form, HTTP/1.1 without Host', bytes: `GET http://${HOST}/r/app/fn HTTP/1.1\r\n\r\n`, expect: 400 },
    { name: 'absolute-form, scheme ftp', bytes: line(`GET ftp://${HOST}/r/app/fn HTTP/1.1`), expect: 400 },
    { name: 'authority-form in a GET', bytes: line(`GET ${HOST}:80 HTTP/1.1`), expect: 400 },
    { name: 'asterisk-form in a GET', bytes: line('GET * HTTP/1.1'), expect: 400 },
    { name: 'Host with userinfo', bytes: host(`user@${HOST}`), expect: 400 },
    { name: 'Host with a path', bytes: host(`${HOST}/x`), expect: 400 },
    { name: 'Host "a.test, b.test" (list)', bytes: host('a.test, b.test'), expect: 400 },
    { name: 'Host with a non-numeric port', bytes: host(`${HOST}:8x`), expect: 400 },
    // --- request line (RFC 9112 §3)
    { name: 'tab between method and target', bytes: line('GET\t/r/app/fn HTTP/1.1'), expect: 400 },
    { name: 'space after the version', bytes: line('GET /r/app/fn HTTP/1.1 '), expect: 400 },
    { name: 'space inside the target', bytes: line('GET /r/app/f n HTTP/1.1'), expect: 400 },
    { name: 'CTL 0x01 in the target', bytes: line('GET /r/app/fn\x01 HTTP/1.1'), expect: 400 },
    { name: 'DEL 0x7f in the target', bytes: line('GET /r/app/fn\x7f HTTP/1.1'), expect: 400 },
    { name: 'HTTP/0.9 request line', bytes: 'GET /r/app/fn\r\n\r\n', expect: 400 },
    { name: 'version "HTTP/1.10"', bytes: line('GET /r/app/fn HTTP/1.10'), expect: 400 },
    { name: 'method with "@"', bytes: line('G@T /r/app/fn HTTP/1.1'), expect: 400 },
    { name: 'empty line before the request line (valid, §2.2)', bytes: `\r\n${G}\r\n`, expect: 'forward' },
    {
      name: '20 KiB request target',
      bytes: line(`GET /r/app/fn?${'q'.repeat(20 * 1024)} HTTP/1.1`),
      expect: 414,
    },
    // --- whitespace and line ends in the header section (RFC 9112 §2.2, §5)
    {
      name: 'whitespace line after the request line',
      bytes: `POST /r/app/fn HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: ${HOST}\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n`,
      expect: 400,
    },
    { name: 'bare LF before a TE line [badsetupLF]', bytes: teWithCl('X-A: 1\nTransfer-Encoding: chunked'), expect: 400 },
    { name: 'LF LF inside the head [bodysplit]', bytes: teWithCl('X-A: 1\n\nTransfer-Encoding: chunked'), expect: 400 },
    { name: 'bare CR after "chunked" [0dsuffix]', bytes: teWithCl('Transfer-Encoding: chunked\r'), expect: 400 },
    // --- more smuggler.py Transfer-Encoding mutations
    { name: 'TE name with a space [spacejoin1] + CL', bytes: teWithCl('Transfer Encoding: chunked'), expect: 400 },
    { name: 'TE name with a backslash [backslash] + CL', bytes: teWithCl('Transfer\\Encoding: chunked'), expect: 400 },
    { name: 'TE name + 0xA0 before colon [nbsp] + CL', bytes: teWithCl('Transfer-Encoding\xa0: chunked'), expect: 400 },
    { name: 'TE value "\\x0cchunked" [midspace-0c] + CL', bytes: teWithCl('Transfer-Encoding:\x0cchunked'), expect: 400 },
    { name: 'TE value "\\xa0chunked" [unispace] + CL', bytes: teWithCl('Transfer-Encoding:\xa0chunked'), expect: 400 },
    { name: 'TE value quoted "\\"chunked\\"" [quoted]', bytes: teAlone('Transfer-Encoding: "chunked"'), expect: 400 },
    { name: "TE value 'chunked' [aposed]", bytes: teAlone("Transfer-Encoding: 'chunked'"), expect: 400 },
    { name: 'TE value "chunk" [lazygrep]', bytes: teAlone('Transfer-Encoding: chunk'), expect: 400 },
    { name: 'TE value RFC 2047 encoded [qencode]', bytes: teAlone('Transfer-Encoding: =?UTF-8?B?Y2h1bmtlZA==?='), expect: 400 },
    { name: 'TE "chunked, cow" alone [commaCow]', bytes: teAlone('Transfer-Encoding: chunked, cow'), expect: 400 },
    { name: 'TE "cow, chunked" alone [cowComma]', bytes: teAlone('Transfer-Encoding: cow, chunked'), expect: 501 },
    { name: 'TE "identity, chunked" alone', bytes: teAlone('Transfer-Encoding: identity, chunked'), expect: 501 },
    {
      name: 'TE "cow" + TE "chunked" lines [revdualchunk]',
      bytes: teAlone('Transfer-Encoding: cow\r\nTransfer-Encoding: chunked'),
      expect: [400, 501],
    },
    { name: 'TE with an empty value + CL', bytes: teWithCl('Transfer-Encoding: '), expect: 400 },
    {
      name: 'Transfer_Encoding + exact CL [underjoin1] (not TE: CL frames)',
      bytes: notTe('Transfer_Encoding: chunked'),
      expect: 'forward',
      body: CHUNKED_SMUGGLE,
    },
    {
      name: 'Transfer-%45ncoding + exact CL [encode] (not TE)',
      bytes: notTe('Transfer-%45ncoding: chunked'),
      expect: 'forward',
      body: CHUNKED_SMUGGLE,
    },
    {
      name: 'Content-Encoding: chunked + exact CL [contentEnc]',
      bytes: notTe('Content-Encoding: chunked'),
      expect: 'forward',
      body: CHUNKED_SMUGGLE,
    },
    // --- Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
    { name: 'CL "005" (leading zeros, valid)', bytes: withCl('005'), expect: 'forward', body: 'hello' },
    { name: 'CL "5 " (trailing OWS, valid)', bytes: withCl('5 '), expect: 'forward', body: 'hello' },
    { name: 'CL "\\x0b5"', bytes: withCl('\x0b5'), expect: 400 },
    { name: 'CL 2^64+5 (20 digits)', bytes: withCl('18446744073709551621'), expect: 400 },
    { name: 'CL line-folded', bytes: `${P}Content-Length:\r\n 5\r\n\r\nhello`, expect: 400 },
    { name: 'GET with a CL body (valid)', bytes: `${G}Content-Length: 5\r\n\r\nhello`, expect: 'forward', body: 'hello' },
    // --- chunked (RFC 9112 §7.1)
    badChunks('chunk size ffffffffffffffff1 (overflow)', 'ffffffffffffffff1\r\nhello\r\n0\r\n\r\n'),
    badChunks('chunk size 10000000000000005 (2^64 wrap to 5)', '10000000000000005\r\nhello\r\n0\r\n\r\n'),
    badChunks('chunk size " 5" (leading space)', ' 5\r\nhello\r\n0\r\n\r\n'),
    badChunks('chunk size "5 " (trailing space, no ext)', '5 \r\nhello\r\n0\r\n\r\n'),
    {
      name: 'chunk size "5 ;a=b" (BWS before ext, valid)',
      bytes: chunked('5 ;a=b\r\nhello\r\n0\r\n\r\n'),
      expect: 'forward',
      body: 'hello',
    },
    {
      name: 'chunk ext and last-chunk ext (valid)',
      bytes: chunked('5;a="b c"\r\nhello\r\n0;x=y\r\n\r\n'),
      expect: 'forward',
      body: 'hello',
    },
    badChunks('chunk size line ends in LF only', '5\nhello\r\n0\r\n\r\n'),
    badChunks('chunk data ends in LF only', '5\r\nhello\n0\r\n\r\n'),
    badChunks('chunk data followed by "XX" instead of CRLF', '5\r\nhelloXX0\r\n\r\n'),
    badChunks('last chunk ends in LF only', '5\r\nhello\r\n0\r\n\n'),
    badChunks('chunk ext with a bare LF', '5;a\nb\r\nhello\r\n0\r\n\r\n'),
    badChunks('chunk data shorter than size', '5\r\nhel\r\n0\r\n\r\n'),
    // RFC 9110 §6.5.1: framing fields may not be sent as trailers; a recipient that merged them would
    // reframe the message, so fnlb refuses them (as llhttp does).
    { name: 'trailer Content-Length', bytes: chunked('5\r\nhello\r\n0\r\nContent-Length: 41\r\n\r\n'), expect: 400 },
    { name: 'trailer Transfer-Encoding', bytes: chunked('5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'), expect: 400 },
    {
      name: 'Transfer-Encoding: chunked in a GET (valid)',
      bytes: `${G}Transfer-Encoding: chunked\r\n\r\n${CHUNK_OK}`,
      expect: 'forward',
      body: 'hello',
    },
    // --- Expect (PortSwigger 2025: Expect-based desync)
    { name: 'Expect: "y 100-continue"', bytes: `${P}Expect: y 100-continue\r\nContent-Length: 5\r\n\r\nhello`, expect: 417 },
    {
      name: 'Expect line-folded',
      bytes: `${P}Expect:\r\n 100-continue\r\nContent-Length: 5\r\n\r\nhello`,
      expect: 400,
    },
    {
      name: 'Expect: 100-continue with the body at once (valid)',
      bytes: `${P}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello`,
      expect: 'forward',
      body: 'hello',
    },
    // --- legitimate pipelining still framed correctly
    {
      name: 'CL body then pipelined GET (valid)',
      bytes: `${P}Content-Length: 5\r\n\r\nhello${G}\r\n`,
      expect: 'forward',
      requests: 2,
      sees: [
        { method: 'POST', target: '/r/app/fn', body: 'hello' },
        { method: 'GET', target: '/r/app/fn', body: '' },
      ],
    },
    {
      name: 'chunked body then pipelined GET (valid)',
      bytes: `${P}Transfer-Encoding: chunked\r\n\r\n${CHUNK_OK}${G}\r\n`,
      expect: 'forward',
      requests: 2,
      sees: [
        { method: 'POST', target: '/r/app/fn', body: 'hello' },
        { method: 'GET', target: '/r/app/fn', body: '' },
      ],
    },
  ];
}

/** What the node must see for a forwarded vector: `sees`, or one request from the request line and `body`. */
export function expectedRequests(v: Vector): Seen[] {
  if (v.sees) return v.sees;
  const { method, target } = requestLineOf(v);
  return [{ method, target: originForm(target), body: v.body ?? '' }];
}

/** Method and target of the vector's first request line (for a vector a peer forwards although the RFC lets it reject). */
export function requestLineOf(v: Vector): { method: string; target: string } {
  const text = typeof v.bytes === 'string' ? v.bytes : v.bytes.toString('latin1');
  const first = text.replace(/^(\r\n)+/, '').split('\r\n', 1)[0]!;
  const [method = '', target = ''] = first.split(/[ \t]+/); // as a lenient peer would read a bad line
  return { method, target };
}

/** "http://host:port/p?q" → "/p?q", "http://host" → "/" (any scheme); origin-form is returned as it is. */
export function originForm(target: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*(.*)$/i.exec(target);
  if (!m) return target;
  const rest = m[1]!;
  return rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
}
