import { Ch, equalsLower, fieldContentEnd } from './chars.js';
import { FramingError } from './framing-error.js';
import { withoutListedHeaders } from './listed-headers.js';
import { type FieldVisitor, lastHead, readFields } from './field-line.js';
import { parseGoDuration } from './go-duration.js';
import { Known } from './known-fields.js';
import { parseLength, splitTokens } from './request-head.js';
import { Buffer } from 'node:buffer';

/** How the body of a response is delimited (RFC 9112 §6.3). */
export const enum BodyKind {
  None,
  Length,
  Chunked,
  /** Until the node closes the connection. */
  Close,
}

export interface ResponseHead {
  status: number;
  /** 10 or 11. */
  version: number;
  headEnd: number;
  bodyKind: BodyKind;
  contentLength: number;
  /** The node keeps the connection open after this response. */
  reusable: boolean;
  /** Header lines to forward, [start, end) pairs; the status line is [0, lineEnd). */
  lineEnd: number;
  keep: number[];
  /** Range of the Transfer-Encoding line, kept out of `keep` so the caller chooses. */
  transferEncoding: [number, number] | undefined;
  /**
   * The length of the head's one Connection line when all it says is `keep-alive` (0 otherwise): dropped
   * from `keep` like every hop-by-hop field, but a head whose only other change it would be may go to a
   * client kept alive as it came (see responseHeadUnchanged).
   */
  keepAliveLine: number;
  /** A 503 or 429 carrying the "not executed" marker: the node says it never ran the request. */
  notExecuted: boolean;
  /** The node's XXX-FXLB-WAIT in ms when read (readWait) and readable, else NaN. */
  waitMs: number;
}

/** The --not-executed-header marker as the parser compares it: bytes, built once per engine. */
export interface NotExecutedMatch {
  /** The field name, lower case. */
  readonly name: Buffer;
  /** The exact value (after trimming surrounding whitespace), or undefined for any value. */
  readonly value: Buffer | undefined;
}

/** The parser's form of a marker; undefined when it is off. */
export function notExecutedMatch(marker: { kind: 'off' } | { kind: 'header'; name: string; value?: string }): NotExecutedMatch | undefined {
  if (marker.kind === 'off') return undefined;
  return {
    name: Buffer.from(marker.name.toLowerCase(), 'latin1'),
    value: marker.value === undefined ? undefined : Buffer.from(marker.value, 'latin1'),
  };
}

/**
 * Parses a response head from a node: buf[0, headEnd), where headEnd is just past its CRLFCRLF (see
 * findHeadEnd). `isHeadRequest` decides HEAD semantics. A node's response we cannot frame safely is a
 * FramingError (the caller answers 502). `marker`: the "not executed" header, never forwarded (whatever
 * its value or the status); it sets `notExecuted` on a 503 or 429 whose value matches.
 */
export function parseResponseHead(
  buf: Buffer,
  headEnd: number,
  isHeadRequest: boolean,
  marker?: NotExecutedMatch,
  /** Read and strip XXX-FXLB-WAIT (wait-aware spill is on); otherwise it is an ordinary header. */
  readWait = false,
): ResponseHead {
  const res = readResponseHead(buf, headEnd, isHeadRequest, marker, readWait);
  // Only a head cut short can come back null, and findHeadEnd's end is the end of a whole one.
  if (res === null) throw new FramingError(502, 'malformed status line from node');
  return res;
}

/**
 * As parseResponseHead, for the head at the start of buf, reading buf[0, limit) only, where
 * buf[limit - 1] is an LF (see readRequestHead): the head, null when it does not end within `limit`, or
 * FramingError. One pass, so a head that came whole in one read
 * is parsed without looking for its end first; an error thrown for a head that has not ended within
 * `limit` need not be the whole head's answer (see readRequestHead).
 */
export function readResponseHead(
  buf: Buffer,
  limit: number,
  isHeadRequest: boolean,
  marker: NotExecutedMatch | undefined,
  readWait: boolean,
): ResponseHead | null {
  // status-line = HTTP-version SP 3DIGIT SP [reason] CRLF (a missing SP before an empty reason is tolerated)
  if (limit < 14) return null; // shorter than "HTTP/1.1 200\r\n"
  if (buf[0] !== 0x48 || buf[1] !== 0x54 || buf[2] !== 0x54 || buf[3] !== 0x50 || buf[4] !== 0x2f || buf[5] !== 0x31 || buf[6] !== 0x2e) {
    throw new FramingError(502, 'malformed status line from node');
  }
  const minor = buf[7];
  if ((minor !== 0x30 && minor !== 0x31) || buf[8] !== Ch.SP) throw new FramingError(502, 'unsupported HTTP version from node');
  const d0 = buf[9]! - 0x30;
  const d1 = buf[10]! - 0x30;
  const d2 = buf[11]! - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw new FramingError(502, 'malformed status code from node');
  const status = d0 * 100 + d1 * 10 + d2;
  let i = 12;
  if (buf[i] === Ch.SP) i = fieldContentEnd(buf, i + 1);
  if (i + 1 >= limit) return null;
  if (buf[i] !== Ch.CR || buf[i + 1] !== Ch.LF) throw new FramingError(502, 'malformed status line from node');
  const lineEnd = i + 2;
  const version = minor === 0x31 ? 11 : 10;

  const fields = RESPONSE_FIELDS;
  fields.begin(marker, readWait);
  const keep = readFields(buf, lineEnd, limit, 502, fields);
  if (keep === null) return null;
  const headEnd = lastHead.end;
  const { contentLength, sawTransferEncoding, chunkedLast, closeToken, keepAliveToken, listed, transferEncoding } = fields;
  // RFC 9112 §9.3: "close" always wins; HTTP/1.0 persists only with "keep-alive".
  const close = closeToken || (version === 10 && !keepAliveToken);
  if (sawTransferEncoding && contentLength !== -1) throw new FramingError(502, 'both Content-Length and Transfer-Encoding from node');
  if (status === 101) throw new FramingError(502, 'unexpected protocol switch from node');
  // An interim response is followed by the final one on the same connection: one that ends the connection
  // (HTTP/1.0, which has no 1xx, or "close") leaves the final response unframed for the client.
  if (status < 200 && (close || version === 10)) throw new FramingError(502, 'interim response that closes the connection from node');
  // RFC 9110 §15.2: a 1xx response cannot contain content, but llhttp reads one (104-199 with a length or
  // chunked): the client would take the start of the final response for it.
  if (status < 200 && (contentLength > 0 || sawTransferEncoding))
    throw new FramingError(502, 'interim response with a body length from node');

  let bodyKind: BodyKind;
  if (isHeadRequest || status < 200 || status === 204 || status === 304) bodyKind = BodyKind.None;
  else if (sawTransferEncoding) bodyKind = chunkedLast ? BodyKind.Chunked : BodyKind.Close;
  else if (contentLength !== -1) bodyKind = BodyKind.Length;
  else bodyKind = BodyKind.Close;

  const head: ResponseHead = {
    status,
    version,
    headEnd,
    bodyKind,
    contentLength,
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing; never reuse that connection.
    reusable: !close && bodyKind !== BodyKind.Close && !(version === 10 && sawTransferEncoding),
    lineEnd,
    keep,
    transferEncoding,
    keepAliveLine: fields.connectionLines === 1 ? fields.keepAliveLine : 0,
    notExecuted: fields.markerMatched && (status === 503 || status === 429),
    waitMs: fields.waitMs,
  };
  if (listed !== undefined) head.keep = withoutListedHeaders(buf, head.keep, listed);
  return head;
}

/** The response's field lines: framing fields decoded and checked, hop-by-hop ones dropped. */
class ResponseFields implements FieldVisitor {
  contentLength = -1;
  sawTransferEncoding = false;
  chunkedLast = false;
  closeToken = false;
  keepAliveToken = false;
  /** Connection lines seen, and the length of a line that held the one token keep-alive (read when there is one line). */
  connectionLines = 0;
  keepAliveLine = 0;
  listed: string[] | undefined;
  /** Range of the Transfer-Encoding line, kept out of `keep` so the caller chooses. */
  transferEncoding: [number, number] | undefined;

  private marker: NotExecutedMatch | undefined;
  /** The marker header came with its value. */
  markerMatched = false;
  private readWait = false;
  /** XXX-FXLB-WAIT in ms, NaN if absent or unreadable. */
  waitMs = NaN;

  /** One parser at a time (parsing is synchronous): a single instance, reset per head. */
  begin(marker: NotExecutedMatch | undefined, readWait: boolean): void {
    this.marker = marker;
    this.readWait = readWait;
    this.waitMs = NaN;
    this.markerMatched = false;
    this.contentLength = -1;
    this.sawTransferEncoding = false;
    this.chunkedLast = false;
    this.closeToken = false;
    this.keepAliveToken = false;
    this.connectionLines = 0;
    this.keepAliveLine = 0;
    this.listed = undefined;
    this.transferEncoding = undefined;
  }

  field(buf: Buffer, known: Known, lineStart: number, nameEnd: number, valueStart: number, valueEnd: number, lineEnd: number): boolean {
    switch (known) {
      case Known.ContentLength: {
        const n = parseLengthFromNode(buf, valueStart, valueEnd);
        const seen = this.contentLength;
        if (seen !== -1 && seen !== n) throw new FramingError(502, 'conflicting Content-Length from node');
        this.contentLength = n;
        return seen === -1; // an identical duplicate is folded into one
      }
      case Known.TransferEncoding: {
        if (this.sawTransferEncoding) throw new FramingError(502, 'duplicate Transfer-Encoding from node');
        this.sawTransferEncoding = true;
        // Spellings RFC 9110 §5.6.1 allows but common parsers (llhttp) frame differently: the client would not
        // see the body end where we do.
        if (hasTabOrEmptyElement(buf, valueStart, lineEnd - 2)) throw new FramingError(502, 'ambiguous Transfer-Encoding from node');
        const codings = splitTokensFromNode(buf, valueStart, valueEnd);
        // RFC 9112 §6.1: chunked is never applied twice; llhttp frames "chunked, chunked" as chunked, we would not.
        if (codings.indexOf('chunked') !== codings.lastIndexOf('chunked')) throw new FramingError(502, 'chunked applied twice by node');
        this.chunkedLast =
          codings.length > 0 && codings[codings.length - 1] === 'chunked' && codings.indexOf('chunked') === codings.length - 1;
        this.transferEncoding = [lineStart, lineEnd];
        return false;
      }
      case Known.Connection: {
        this.connectionLines++;
        if (equalsLower(buf, valueStart, valueEnd, KEEP_ALIVE)) {
          // The usual value, without a token list.
          this.keepAliveToken = true;
          this.keepAliveLine = lineEnd - lineStart;
          return false;
        }
        const tokens = splitTokensFromNode(buf, valueStart, valueEnd);
        // An index loop: for-of allocated an iterator per response here (heap profile).
        for (let i = 0; i < tokens.length; i++) {
          const token = tokens[i]!;
          if (token === 'close') this.closeToken = true;
          else if (token === 'keep-alive') this.keepAliveToken = true;
          else (this.listed ??= []).push(token);
        }
        return false;
      }
      case Known.KeepAlive:
      case Known.ProxyConnection:
      case Known.Upgrade:
      case Known.Trailer:
      case Known.TE:
        return false; // hop-by-hop
      case Known.FxlbWait:
        if (!this.readWait) return true; // wait-aware spill is off: not ours
        this.waitMs = parseGoDuration(buf.toString('latin1', valueStart, valueEnd));
        return false; // ours: never forwarded
      default: {
        // The marker: a length compare per other line when configured (equalsLower), the bytes only when it fits.
        const marker = this.marker;
        if (marker === undefined || !equalsLower(buf, lineStart, nameEnd, marker.name)) return true;
        const value = marker.value;
        if (
          value === undefined ||
          (valueEnd - valueStart === value.length && buf.compare(value, 0, value.length, valueStart, valueEnd) === 0)
        )
          this.markerMatched = true;
        return false; // ours: never forwarded
      }
    }
  }
}

const RESPONSE_FIELDS = new ResponseFields();
const KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');

/** An HTAB anywhere in the value, or an empty list element (leading, trailing or between commas). */
function hasTabOrEmptyElement(buf: Buffer, start: number, end: number): boolean {
  let empty = true;
  for (let k = start; k < end; k++) {
    const c = buf[k];
    if (c === Ch.HTAB) return true;
    if (c === 0x2c) {
      if (empty) return true;
      empty = true;
    } else if (c !== Ch.SP) empty = false;
  }
  return empty;
}

function parseLengthFromNode(buf: Buffer, start: number, end: number): number {
  try {
    return parseLength(buf, start, end);
  } catch {
    throw new FramingError(502, 'invalid Content-Length from node');
  }
}

function splitTokensFromNode(buf: Buffer, start: number, end: number): readonly string[] {
  try {
    return splitTokens(buf, start, end);
  } catch {
    throw new FramingError(502, 'malformed header from node');
  }
}
