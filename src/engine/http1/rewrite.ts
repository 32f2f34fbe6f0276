import type { RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';
import { Buffer } from 'node:buffer';
import { REQUEST_ID_LENGTH, writeRequestId } from '../request-id.js';

/**
 * Builds an outgoing head from a received one: a first line (copied, or given as a string), the kept
 * header ranges copied byte for byte, optional extra ranges, then `extra` header text and the final CRLF.
 * One allocation, one write. `reserve` bytes of room stay free behind the head, at the end of the
 * returned buffer, for a caller that sends the first body bytes with it.
 */
function assemble(
  buf: Buffer,
  line: string | null,
  lineEnd: number,
  keep: number[],
  extraRange: readonly number[] | undefined,
  extra: string,
  reserve = 0,
): Buffer {
  let size = (line === null ? lineEnd : line.length) + extra.length + 2;
  for (let p = 0; p < keep.length; p += 2) size += keep[p + 1] - keep[p];
  if (extraRange !== undefined) size += extraRange[1] - extraRange[0];
  const out = Buffer.allocUnsafe(size + reserve);
  let at = copyLineAndKept(buf, line, lineEnd, keep, out);
  if (extraRange !== undefined) at += copyRange(buf, extraRange[0], extraRange[1], out, at);
  if (extra !== '') at += out.write(extra, at, 'latin1');
  crlf(out, at);
  return out;
}

/**
 * Writes the first line (`line`, or buf's own [0, lineEnd) when null) and the kept ranges at the start
 * of `out`; returns where they end. Ranges that touch (the line and the first kept field, kept fields
 * with none dropped between) go as one copy.
 */
function copyLineAndKept(buf: Buffer, line: string | null, lineEnd: number, keep: number[], out: Buffer): number {
  let at = 0;
  let from = 0;
  let to = 0;
  if (line === null) to = lineEnd;
  else at = out.write(line, 0, 'latin1');
  for (let p = 0; p < keep.length; p += 2) {
    if (keep[p] !== to) {
      at += copyRange(buf, from, to, out, at);
      from = keep[p]!;
    }
    to = keep[p + 1]!;
  }
  return at + copyRange(buf, from, to, out, at);
}

/** Copies all of `bytes` to dst at `at` (TypedArray#set: one memmove, no view to make); returns the length. */
function copyBytes(bytes: Uint8Array, dst: Buffer, at: number): number {
  dst.set(bytes, at);
  return bytes.length;
}

/**
 * Copies src[from, to) to dst at `at`; returns the length. Short ranges byte by byte; longer ones through
 * a subarray and TypedArray#set (Buffer#copy makes the same view, behind checks and generic property
 * loads; a view made from `src.buffer` pays for that accessor, a call V8 does not inline).
 */
export function copyRange(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from;
  if (n > 64) {
    dst.set(src.subarray(from, to), at);
    return n;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  return n;
}

/** X-Forwarded-For (the given chain) and X-Forwarded-Proto lines. */
export function forwardedFields(forwardedFor: string): string {
  return `X-Forwarded-For: ${forwardedFor}\r\nX-Forwarded-Proto: http\r\n`;
}

/** What a node needs to hear besides the client's own headers. */
export interface ForwardContext {
  /** "/base" or "". */
  basePath: string;
  /** "host:port" of the node, for HTTP/1.0 requests that came without Host. */
  nodeAuthority: string;
  clientIp: string;
  /** forwardedFields(clientIp) as bytes, built once per client address. */
  forwardedBytes?: Uint8Array;
  /** "<request id header>: " as bytes when fnlb adds the request id (the client sent none, or an invalid one). */
  requestIdName?: Uint8Array;
  /** The number of the request id fnlb adds (see request-id.ts). */
  requestNumber?: number;
}

const X_FORWARDED_HOST = Buffer.from('X-Forwarded-Host: ', 'latin1');
/** The client's Transfer-Encoding line, in its one unambiguous spelling. */
const TE_CHUNKED = Buffer.from('Transfer-Encoding: chunked\r\n', 'latin1');

/**
 * The request head sent to a node: HTTP/1.1, base path prefixed, Host unchanged, hop-by-hop fields gone,
 * X-Forwarded-For appended, X-Forwarded-Proto and X-Forwarded-Host set, the request id added if fnlb made it, Transfer-Encoding normalized.
 */
export function upstreamRequestHead(buf: Buffer, head: RequestHead, ctx: ForwardContext): Buffer {
  let line: string | null = null;
  if (head.rewriteLine || ctx.basePath !== '') {
    line = requestLine(head, ctx.basePath);
  }
  // The usual lines go as bytes (the client's own Host value copied, the request id written digit by
  // digit): strings built per request, then flattened and encoded, cost about twice as much. The rare
  // ones (an X-Forwarded-For chain to extend, a Host of our own) as text.
  const forwarded = head.forwardedFor === undefined ? (ctx.forwardedBytes ?? null) : null;
  let text = '';
  if (forwarded === null) {
    text = forwardedFields(head.forwardedFor === undefined ? ctx.clientIp : `${head.forwardedFor}, ${ctx.clientIp}`);
  }
  if (head.authority !== undefined) text += `Host: ${head.authority}\r\nX-Forwarded-Host: ${head.authority}\r\n`;
  else if (head.hostStart === -1) text += `Host: ${ctx.nodeAuthority}\r\n`;
  const idName = ctx.requestIdName;
  let size = (line === null ? head.lineEnd : line.length) + text.length + 2;
  const keep = head.keep;
  for (let p = 0; p < keep.length; p += 2) size += keep[p + 1]! - keep[p]!;
  if (forwarded !== null) size += forwarded.length;
  if (head.hostStart !== -1) size += X_FORWARDED_HOST.length + head.hostEnd - head.hostStart + 2;
  if (idName !== undefined) size += idName.length + REQUEST_ID_LENGTH + 2;
  if (head.chunked) size += TE_CHUNKED.length;

  const out = Buffer.allocUnsafe(size);
  let at = copyLineAndKept(buf, line, head.lineEnd, keep, out);
  if (forwarded !== null) at += copyBytes(forwarded, out, at);
  if (text !== '') at += out.write(text, at, 'latin1');
  if (head.hostStart !== -1) {
    at += copyBytes(X_FORWARDED_HOST, out, at);
    at += copyRange(buf, head.hostStart, head.hostEnd, out, at);
    at = crlf(out, at);
  }
  if (idName !== undefined) {
    at += copyBytes(idName, out, at);
    writeRequestId(out, at, ctx.requestNumber ?? 0);
    at = crlf(out, at + REQUEST_ID_LENGTH);
  }
  if (head.chunked) at += copyBytes(TE_CHUNKED, out, at);
  crlf(out, at);
  return out;
}

/** Writes CRLF at `at`; returns where it ends. */
function crlf(out: Buffer, at: number): number {
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return at + 2;
}

/** The request line a node gets: HTTP/1.1, the origin-form target behind the base path (OPTIONS * becomes the base path). */
function requestLine(head: RequestHead, basePath: string): string {
  const target = basePath === '' ? head.target : head.target === '*' ? basePath : basePath + head.target;
  return `${head.method} ${target} HTTP/1.1\r\n`;
}

/**
 * `upstream` (an upstreamRequestHead built without a base path) for a node whose base path is
 * `basePath`: the same head behind a new request line. The rest of the head is the same for every
 * node when the client sent a Host (nodeAuthority is used only without one).
 */
export function withBasePath(upstream: Buffer, head: RequestHead, basePath: string): Buffer {
  const line = requestLine(head, basePath);
  const rest = upstream.indexOf(0x0a) + 1;
  const out = Buffer.allocUnsafe(line.length + upstream.length - rest);
  copyRange(upstream, rest, upstream.length, out, out.write(line, 0, 'latin1'));
  return out;
}

/**
 * The node's response head can go to the client as it is: HTTP/1.1, nothing to add, and no hop-by-hop
 * field but possibly a lone `Connection: keep-alive`. That line is the node's word for its own
 * connection, but with nothing to add (`extra` is empty: an HTTP/1.1 client kept alive) it is also
 * exactly what fnlb may say of the client's (RFC 9110 §7.6.1 lets an intermediary replace Connection
 * with its own options; nginx says this to every client it keeps), so it goes out as it came. The
 * common case then costs no copy: Go nodes send no Connection line, nginx-like nodes that one.
 */
export function responseHeadUnchanged(res: ResponseHead, extra: string): boolean {
  if (extra !== '' || res.version !== 11 || res.transferEncoding !== undefined) return false;
  // The kept lines and the keep-alive line are disjoint lines of the head: every line is one of them
  // exactly when their lengths add up to the whole field section.
  const keep = res.keep;
  let length = res.keepAliveLine;
  for (let p = 0; p < keep.length; p += 2) length += keep[p + 1]! - keep[p]!;
  return length === res.headEnd - 2 - res.lineEnd;
}

/**
 * The response head rebuilt for the client (hop-by-hop fields gone, `extra` added) in a fresh buffer
 * with `reserve` free bytes behind it: the head is the buffer's first `length - reserve` bytes. The
 * status line always says HTTP/1.1: a proxy sends its own version (RFC 9110 §6.2), so an HTTP/1.0 node
 * does not make 1.1 clients close.
 */
export function rebuiltResponseHead(buf: Buffer, res: ResponseHead, keepTransferEncoding: boolean, extra: string, reserve: number): Buffer {
  const line = res.version === 11 ? null : `HTTP/1.1${buf.toString('latin1', 8, res.lineEnd)}`;
  return assemble(buf, line, res.lineEnd, res.keep, keepTransferEncoding ? res.transferEncoding : undefined, extra, reserve);
}

/** The response head sent to the client: the node's bytes when unchanged, else rebuilt (no room behind it). */
export function clientResponseHead(buf: Buffer, res: ResponseHead, keepTransferEncoding: boolean, extra: string): Buffer {
  if (responseHeadUnchanged(res, extra)) return buf.subarray(0, res.headEnd);
  return rebuiltResponseHead(buf, res, keepTransferEncoding, extra, 0);
}
