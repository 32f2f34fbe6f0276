import type { RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';
import { Buffer } from 'node:buffer';

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
  let at = 0;
  // Ranges that touch (the line and the first kept field, kept fields with none dropped between) go as one copy.
  let from = 0;
  let to = 0;
  if (line === null) to = lineEnd;
  else at = out.write(line, 0, 'latin1');
  for (let p = 0; p < keep.length; p += 2) {
    if (keep[p] !== to) {
      at += copyRange(buf, from, to, out, at);
      from = keep[p];
    }
    to = keep[p + 1];
  }
  at += copyRange(buf, from, to, out, at);
  if (extraRange !== undefined) at += copyRange(buf, extraRange[0], extraRange[1], out, at);
  if (extra !== '') at += out.write(extra, at, 'latin1');
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return out;
}

/**
 * Copies src[from, to) to dst at `at`; returns the length. Short ranges byte by byte: Buffer#copy of a
 * part of a buffer allocates a view of it first, and costs more than the loop for a header line or two.
 */
export function copyRange(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from;
  if (n > 64) return src.copy(dst, at, from, to);
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
  /** "X-Forwarded-For: <clientIp>\r\nX-Forwarded-Proto: http\r\n", built once per client address. */
  forwardedFields?: string;
  /** "X-Request-Id: <id>\r\n" when fnlb adds the request id (the client sent none, or an invalid one), else "". */
  requestIdField?: string;
}

/**
 * The request head sent to a node: HTTP/1.1, base path prefixed, Host unchanged, hop-by-hop fields gone,
 * X-Forwarded-For appended, X-Forwarded-Proto and X-Forwarded-Host set, the request id added if fnlb made it, Transfer-Encoding normalized.
 */
export function upstreamRequestHead(buf: Buffer, head: RequestHead, ctx: ForwardContext): Buffer {
  let line: string | null = null;
  if (head.rewriteLine || ctx.basePath !== '') {
    const target = ctx.basePath === '' ? head.target : head.target === '*' ? ctx.basePath : ctx.basePath + head.target;
    line = `${head.method} ${target} HTTP/1.1\r\n`;
  }
  let extra =
    head.forwardedFor === undefined
      ? (ctx.forwardedFields ?? forwardedFields(ctx.clientIp))
      : forwardedFields(`${head.forwardedFor}, ${ctx.clientIp}`);
  if (head.host === undefined) extra += `Host: ${ctx.nodeAuthority}\r\n`;
  else extra += head.hostFromTarget ? `Host: ${head.host}\r\nX-Forwarded-Host: ${head.host}\r\n` : `X-Forwarded-Host: ${head.host}\r\n`;
  if (ctx.requestIdField) extra += ctx.requestIdField;
  if (head.chunked) extra += 'Transfer-Encoding: chunked\r\n'; // the client's line, in its one unambiguous spelling
  return assemble(buf, line, head.lineEnd, head.keep, undefined, extra);
}

/**
 * `upstream` (an upstreamRequestHead built without a base path) for a node whose base path is
 * `basePath`: the same head behind a new request line. The rest of the head is the same for every
 * node when the client sent a Host (nodeAuthority is used only without one).
 */
export function withBasePath(upstream: Buffer, head: RequestHead, basePath: string): Buffer {
  const target = head.target === '*' ? basePath : basePath + head.target;
  const line = `${head.method} ${target} HTTP/1.1\r\n`;
  const rest = upstream.indexOf(0x0a) + 1;
  const out = Buffer.allocUnsafe(line.length + upstream.length - rest);
  const at = out.write(line, 0, 'latin1');
  upstream.copy(out, at, rest);
  return out;
}

/**
 * The node's response head can go to the client as it is: HTTP/1.1, no hop-by-hop field, nothing to
 * add. The common case then costs no copy.
 */
export function responseHeadUnchanged(res: ResponseHead, extra: string): boolean {
  const keep = res.keep;
  return (
    extra === '' &&
    res.version === 11 &&
    res.transferEncoding === undefined &&
    (res.headEnd - 2 === res.lineEnd ? keep.length === 0 : keep.length === 2 && keep[0] === res.lineEnd && keep[1] === res.headEnd - 2)
  );
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
