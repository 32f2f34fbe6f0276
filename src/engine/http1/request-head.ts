import { HEX, LOWER, REG_NAME, TARGET, TOKEN, Ch, equalsLower } from './chars.js';
import { FramingError } from './framing-error.js';
import { withoutListedHeaders } from './listed-headers.js';
import { type FieldVisitor, lastHead, readFields } from './field-line.js';
import { Known } from './known-fields.js';
import { Buffer } from 'node:buffer';

/**
 * A parsed, validated request head. Only what routing and framing need is decoded;
 * everything else is forwarded as the client sent it (the `keep` byte ranges).
 */
export interface RequestHead {
  method: string;
  /** Origin-form target ("/r/app/fn?x=1"); absolute-form is reduced to this. */
  target: string;
  /** True when the request line must be rebuilt (absolute-form, HTTP/1.0) rather than copied. */
  rewriteLine: boolean;
  /** End of the request line including CRLF. */
  lineEnd: number;
  /** 10 or 11. */
  version: number;
  /** Byte length of the whole head including the final CRLFCRLF. */
  headEnd: number;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The client wants the connection kept open after this exchange. */
  keepAlive: boolean;
  expectContinue: boolean;
  /**
   * Where the Host field's value lies in the head's bytes, [hostStart, hostEnd); -1 when there is none to
   * forward (no Host, or an absolute-form target's authority replaces it). Bytes, not a string: only the
   * node's head needs it, and it copies them.
   */
  hostStart: number;
  hostEnd: number;
  /** The authority of an absolute-form target (RFC 9112 §3.2.2): sent as the Host; the client's Host line is not forwarded. */
  authority: string | undefined;
  /** Value of the configured hash header, if any. */
  hashValue: string | undefined;
  /** Existing X-Forwarded-For, to append to. */
  forwardedFor: string | undefined;
  idempotent: boolean;
  /** A non-empty Idempotency-Key header came: the client makes a second copy harmless (forwarded unchanged). */
  idempotencyKey: boolean;
  /**
   * The client's request id (the --request-id-header field), when it came valid: printable, no spaces,
   * at most 200 bytes. An invalid one is not forwarded (fnlb puts its own in its place).
   */
  requestId: string | undefined;
  /** The routing key, once the router has worked it out (the router's to fill, so it is computed once per request). */
  routingKey: string | undefined;
  /** Header lines to forward: [start, end) pairs into the head buffer, CRLF included (never Transfer-Encoding: see rewrite.ts). */
  keep: number[];
}

export interface RequestHeadOptions {
  /** Lower-case name of the header used as hash key, or undefined. */
  hashHeader: Uint8Array | undefined;
  /** Lower-case name of the request id header (--request-id-header), or undefined when off. */
  requestIdHeader?: Uint8Array | undefined;
}

/** Longest request id kept from a client. */
export const MAX_REQUEST_ID = 200;

/** Requests that may be sent again to another node when the first one may have received them. */
export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** `keep` until the fields are read (never changed: a head's ranges are replaced, not edited). */
const NO_RANGES: number[] = [];

/**
 * Parses the request head buf[0, headEnd) where headEnd is just past its CRLFCRLF (see findHeadEnd).
 * Throws FramingError.
 */
export function parseRequestHead(buf: Buffer, headEnd: number, opts: RequestHeadOptions): RequestHead {
  const head = readRequestHead(buf, headEnd, opts);
  // Only a head cut short can come back null, and findHeadEnd's end is the end of a whole one.
  if (head === null) throw new FramingError(400, 'malformed request head');
  return head;
}

/**
 * Parses the request head at the start of buf, reading buf[0, limit) only, where buf[limit - 1] is an
 * LF (headLimit: byte loops stop there, so only whole lines and fixed-size parts are checked against
 * `limit`): the head, null when it does not end within `limit`, or FramingError. One pass over the
 * bytes, so a head that came whole in one read is parsed without looking for its end first. The error
 * thrown for a head that has not ended within `limit` need not be the whole head's answer (the framer
 * refuses a bare LF anywhere, and a head over the size limit, before parsing): a caller that cannot
 * tell takes the long way, findHeadEnd then parseRequestHead, which decides.
 */
export function readRequestHead(buf: Buffer, limit: number, opts: RequestHeadOptions): RequestHead | null {
  // --- request line: method SP request-target SP HTTP-version CRLF
  if (limit === 0) return null;
  let i = 0;
  // Local names: an imported table is loaded and checked again at every iteration of a loop.
  const tokenChars = TOKEN;
  const targetChars = TARGET;
  while (tokenChars[buf[i]!] === 1) i++;
  if (i === 0 || buf[i] !== Ch.SP) throw new FramingError(400, 'malformed request line');
  const method = methodName(buf, i);
  const targetStart = ++i;
  while (targetChars[buf[i]!] === 1) i++;
  if (i === targetStart || buf[i] !== Ch.SP) throw new FramingError(400, 'malformed request target');
  const targetEnd = i++;
  // HTTP-version (8 bytes) and CRLF
  if (i + 10 > limit) return null;
  const version = parseVersion(buf, i);
  i += 8;
  if (buf[i] !== Ch.CR || buf[i + 1] !== Ch.LF) throw new FramingError(400, 'malformed request line');
  const lineEnd = i + 2;

  if (method === 'CONNECT') throw new FramingError(501, 'CONNECT is not supported');
  let target = buf.toString('latin1', targetStart, targetEnd);
  let rewriteLine = version === 10;
  let authority: string | undefined;
  const first = buf[targetStart];
  if (first !== 0x2f /* / */) {
    if (first === 0x2a /* * */ && targetEnd - targetStart === 1 && method === 'OPTIONS') {
      // asterisk-form: forwarded as is
    } else {
      const span = absoluteFormAuthority(buf, targetStart, target);
      authority = target.slice(span.start, span.end);
      target = originFormOf(target, span.end);
      rewriteLine = true;
    }
  }

  // --- header fields
  const head: RequestHead = {
    method,
    target,
    rewriteLine,
    lineEnd,
    version,
    headEnd: 0,
    contentLength: -1,
    chunked: false,
    keepAlive: version === 11,
    expectContinue: false,
    hostStart: -1,
    hostEnd: -1,
    authority,
    hashValue: undefined,
    forwardedFor: undefined,
    idempotent: IDEMPOTENT.has(method),
    idempotencyKey: false,
    requestId: undefined,
    routingKey: undefined,
    keep: NO_RANGES,
  };
  const fields = REQUEST_FIELDS;
  fields.begin(head, authority, opts.hashHeader, opts.requestIdHeader);
  const keep = readFields(buf, lineEnd, limit, 400, fields);
  if (keep === null) return null;
  head.keep = keep;
  head.headEnd = lastHead.end;

  if (fields.sawTransferEncoding) {
    if (version === 10) throw new FramingError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (head.contentLength !== -1) throw new FramingError(400, 'both Content-Length and Transfer-Encoding');
  }
  if (version === 11 && !fields.sawHost) throw new FramingError(400, 'missing Host header');
  head.keepAlive = !fields.close && (version === 11 || fields.keepAliveToken);
  if (fields.connectionTokens !== undefined) head.keep = withoutListedHeaders(buf, head.keep, fields.connectionTokens);
  return head;
}

/** The request's field lines: framing fields decoded and checked, hop-by-hop ones and ours dropped. */
class RequestFields implements FieldVisitor {
  private head!: RequestHead;
  private authority: string | undefined;
  private hashHeader: Uint8Array | undefined;
  private idHeader: Uint8Array | undefined;
  private sawRequestId = false;
  sawTransferEncoding = false;
  sawHost = false;
  connectionTokens: string[] | undefined;
  close = false;
  keepAliveToken = false;

  /** One parser at a time (parsing is synchronous): a single instance, reset per head. */
  begin(head: RequestHead, authority: string | undefined, hashHeader: Uint8Array | undefined, idHeader: Uint8Array | undefined): void {
    this.head = head;
    this.idHeader = idHeader;
    this.sawRequestId = false;
    this.authority = authority;
    this.hashHeader = hashHeader;
    this.sawTransferEncoding = false;
    this.sawHost = false;
    this.connectionTokens = undefined;
    this.close = false;
    this.keepAliveToken = false;
  }

  field(buf: Buffer, known: Known, lineStart: number, nameEnd: number, valueStart: number, valueEnd: number): boolean {
    const head = this.head;
    let forward = true;
    switch (known) {
      case Known.ContentLength:
        if (head.contentLength !== -1) throw new FramingError(400, 'duplicate Content-Length');
        head.contentLength = parseLength(buf, valueStart, valueEnd);
        break;
      case Known.TransferEncoding:
        if (this.sawTransferEncoding) throw new FramingError(400, 'duplicate Transfer-Encoding');
        this.sawTransferEncoding = true;
        head.chunked = checkTransferEncoding(buf, valueStart, valueEnd);
        // Forwarded as "Transfer-Encoding: chunked" (rewrite.ts): the spellings RFC 9110 allows ("Chunked",
        // "chunked,", "chunked\t") are not framed alike by every node parser.
        forward = false;
        break;
      case Known.Connection:
        forward = false;
        // An index loop: for-of allocated an iterator per request here (heap profile).
        for (let i = 0, tokens = splitTokens(buf, valueStart, valueEnd); i < tokens.length; i++) {
          const token = tokens[i]!;
          if (token === 'close') this.close = true;
          else if (token === 'keep-alive') this.keepAliveToken = true;
          else (this.connectionTokens ??= []).push(token);
        }
        break;
      case Known.Host:
        if (this.sawHost) throw new FramingError(400, 'duplicate Host');
        this.sawHost = true;
        if (!isValidHost(buf, valueStart, valueEnd)) throw new FramingError(400, 'invalid Host');
        // RFC 9112 §3.2.2: with an absolute-form target, the target's authority replaces the Host.
        if (this.authority !== undefined) forward = false;
        else {
          head.hostStart = valueStart;
          head.hostEnd = valueEnd;
        }
        break;
      case Known.Expect:
        forward = false; // we answer 100 Continue ourselves and read the body
        if (buf.toString('latin1', valueStart, valueEnd).toLowerCase() !== '100-continue') {
          throw new FramingError(417, 'unsupported expectation');
        }
        head.expectContinue = true;
        break;
      case Known.Upgrade:
        forward = false;
        if (splitTokens(buf, valueStart, valueEnd).some((p) => p === 'websocket' || p.startsWith('websocket/'))) {
          throw new FramingError(501, 'WebSocket upgrade is not supported');
        }
        break;
      case Known.XForwardedFor: {
        forward = false;
        const v = buf.toString('latin1', valueStart, valueEnd);
        head.forwardedFor = head.forwardedFor === undefined ? v : `${head.forwardedFor}, ${v}`;
        break;
      }
      case Known.IdempotencyKey:
        // draft-ietf-httpapi-idempotency-key-header: the key identifies one operation; the node (or the
        // function) answers a second copy with the first result. Forwarded as it came.
        if (valueEnd > valueStart) head.idempotencyKey = true;
        break;
      case Known.KeepAlive:
      case Known.ProxyConnection:
      case Known.TE:
      case Known.Trailer:
      case Known.XForwardedProto:
      case Known.XForwardedHost:
        forward = false; // hop-by-hop, or set by us
        break;
    }
    const hashHeader = this.hashHeader;
    if (hashHeader !== undefined && head.hashValue === undefined && equalsLower(buf, lineStart, nameEnd, hashHeader)) {
      head.hashValue = buf.toString('latin1', valueStart, valueEnd);
    }
    const idHeader = this.idHeader;
    if (idHeader !== undefined && known === Known.Other && equalsLower(buf, lineStart, nameEnd, idHeader)) {
      // The first one, if valid, is kept and forwarded; any other is dropped (fnlb sends its own instead).
      if (!this.sawRequestId && validRequestId(buf, valueStart, valueEnd)) head.requestId = buf.toString('latin1', valueStart, valueEnd);
      else forward = false;
      this.sawRequestId = true;
    }
    return forward;
  }
}

const REQUEST_FIELDS = new RequestFields();

/** A request id worth keeping: 1 to 200 visible ASCII characters (no spaces, no controls). */
function validRequestId(buf: Buffer, start: number, end: number): boolean {
  if (end === start || end - start > MAX_REQUEST_ID) return false;
  for (let k = start; k < end; k++) if (buf[k] < 0x21 || buf[k] > 0x7e) return false;
  return true;
}

function methodName(buf: Buffer, end: number): string {
  // The common methods without allocating a new string.
  const c = buf[0];
  if (end === 3 && c === 0x47 && buf[1] === 0x45 && buf[2] === 0x54) return 'GET';
  if (end === 4 && c === 0x50 && buf[1] === 0x4f && buf[2] === 0x53 && buf[3] === 0x54) return 'POST';
  if (end === 4 && c === 0x48 && buf[1] === 0x45 && buf[2] === 0x41 && buf[3] === 0x44) return 'HEAD';
  if (end === 3 && c === 0x50 && buf[1] === 0x55 && buf[2] === 0x54) return 'PUT';
  return buf.toString('latin1', 0, end);
}

/** "HTTP/1.1" or "HTTP/1.0"; another well-formed version is 505, anything else 400. */
function parseVersion(buf: Buffer, i: number): number {
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f) {
    throw new FramingError(400, 'malformed HTTP version');
  }
  const major = buf[i + 5] - 0x30;
  const minor = buf[i + 7] - 0x30;
  if (major < 0 || major > 9 || buf[i + 6] !== 0x2e || minor < 0 || minor > 9) throw new FramingError(400, 'malformed HTTP version');
  if (major === 1 && minor === 1) return 11;
  if (major === 1 && minor === 0) return 10;
  throw new FramingError(505, 'HTTP version not supported');
}

/** Content-Length: 1*DIGIT, nothing else (no sign, no list, no spaces inside). */
export function parseLength(buf: Uint8Array, start: number, end: number): number {
  if (start === end || end - start > 15) throw new FramingError(400, 'invalid Content-Length');
  let n = 0;
  for (let k = start; k < end; k++) {
    const d = buf[k] - 0x30;
    if (d < 0 || d > 9) throw new FramingError(400, 'invalid Content-Length');
    n = n * 10 + d;
  }
  return n;
}

/** Requests: only "chunked" is accepted; other codings we cannot decode are 501, chunked-not-last is 400. */
function checkTransferEncoding(buf: Buffer, start: number, end: number): boolean {
  const codings = splitTokens(buf, start, end);
  if (codings.length === 1 && codings[0] === 'chunked') return true;
  if (codings.length > 1 && codings[codings.length - 1] === 'chunked' && codings.indexOf('chunked') === codings.length - 1) {
    throw new FramingError(501, 'unsupported transfer coding');
  }
  throw new FramingError(400, 'invalid Transfer-Encoding');
}

/**
 * Comma-separated tokens, lower-cased; empty elements skipped; a non-token element is a 400. A value that
 * is one common token (`Connection: keep-alive`, `chunked`: most values) is a shared frozen list, so
 * nothing is built for it; callers only read the list.
 */
export function splitTokens(buf: Uint8Array, start: number, end: number): readonly string[] {
  const sole = knownToken(buf, start, end);
  if (sole !== -1) return KNOWN_TOKENS[sole]!.alone;
  const out: string[] = [];
  let k = start;
  while (k < end) {
    while (k < end && (buf[k] === Ch.SP || buf[k] === Ch.HTAB || buf[k] === 0x2c)) k++;
    const s = k;
    while (k < end && TOKEN[buf[k]] === 1) k++;
    if (k > s) {
      const known = knownToken(buf, s, k);
      out.push(known !== -1 ? KNOWN_TOKENS[known]!.name : lowerToken(buf, s, k));
    }
    while (k < end && (buf[k] === Ch.SP || buf[k] === Ch.HTAB)) k++;
    if (k < end && buf[k] !== 0x2c) throw new FramingError(400, 'malformed token list');
  }
  return out;
}

/** The tokens most field values are made of (Connection, Transfer-Encoding): shared strings and one-token lists. */
const KNOWN_TOKENS: readonly { name: string; bytes: Uint8Array; alone: readonly string[] }[] = [
  'keep-alive',
  'close',
  'chunked',
  'upgrade',
  'te',
  'trailers',
].map((name) => ({ name, bytes: Buffer.from(name, 'latin1'), alone: Object.freeze([name]) }));

/** Index in KNOWN_TOKENS of buf[s, e) lower-cased, or -1. */
function knownToken(buf: Uint8Array, s: number, e: number): number {
  for (let i = 0; i < KNOWN_TOKENS.length; i++) if (equalsLower(buf, s, e, KNOWN_TOKENS[i]!.bytes)) return i;
  return -1;
}

function lowerToken(buf: Uint8Array, s: number, e: number): string {
  let t = '';
  for (let j = s; j < e; j++) t += String.fromCharCode(LOWER[buf[j]!]!);
  return t;
}

/**
 * Where the authority of an absolute-form target (buf from `start`) lies in `target`. A target that is
 * neither origin- nor http(s) absolute-form is a 400, and so is an authority that is not
 * uri-host [":" port] (RFC 9110 §4.2.4: userinfo is an error; a node's parser would refuse other bytes there).
 */
function absoluteFormAuthority(buf: Buffer, start: number, target: string): { start: number; end: number } {
  const lower = target.slice(0, 8).toLowerCase();
  let scheme: number;
  if (lower.startsWith('http://')) scheme = 7;
  else if (lower.startsWith('https://')) scheme = 8;
  else throw new FramingError(400, 'invalid request target');
  let k = scheme;
  while (k < target.length && target[k] !== '/' && target[k] !== '?') k++;
  if (k === scheme || !isValidHost(buf, start + scheme, start + k)) throw new FramingError(400, 'invalid request target');
  return { start: scheme, end: k };
}

/** The origin form of an absolute-form target whose authority ends at `authorityEnd`. */
function originFormOf(target: string, authorityEnd: number): string {
  const path = target.slice(authorityEnd);
  return path === '' ? '/' : path[0] === '?' ? `/${path}` : path;
}

/**
 * Host = uri-host [ ":" port ] (RFC 9112 §3.2): an IP literal in brackets or a reg-name
 * (unreserved, sub-delims, %HH), then optionally ":" and digits. Empty is allowed by the grammar.
 */
function isValidHost(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  if (i < end && buf[i] === 0x5b /* [ */) {
    i++;
    while (i < end && (HEX[buf[i]] !== 255 || buf[i] === 0x3a || buf[i] === 0x2e)) i++;
    if (i === start + 1 || i >= end || buf[i] !== 0x5d /* ] */) return false;
    i++;
  } else {
    while (i < end && buf[i] !== 0x3a) {
      const c = buf[i];
      if (c === 0x25 /* % */) {
        if (i + 2 >= end || HEX[buf[i + 1]] === 255 || HEX[buf[i + 2]] === 255) return false;
        i += 3;
      } else if (REG_NAME[c] === 1) i++;
      else return false;
    }
  }
  if (i === end) return true;
  if (buf[i] !== 0x3a) return false;
  for (i++; i < end; i++) if (buf[i] < 0x30 || buf[i] > 0x39) return false;
  return true;
}
