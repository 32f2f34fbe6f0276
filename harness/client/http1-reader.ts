/**
 * The test side's own HTTP/1.x reader, used by the raw client, the raw backend, the corpus and the
 * benchmark's load generators. It is deliberately independent of fnlb's parser (src/engine/http1): a
 * test oracle must not share the code it checks.
 *
 * - parseMessage / parseResponses / parseRequests: small and strict, for assertions: requests and
 *   responses, Content-Length, chunked with trailers, close-delimited, HEAD/1xx/204/304 without body,
 *   every header kept as received.
 * - ResponseReader: incremental and lean, for the load generators' hot loop: finds response boundaries
 *   by Content-Length only (the nginx backends always send it and nginx, HAProxy and fnlb pass it
 *   through; chunked is refused loudly rather than miscounted).
 */

export class HttpParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'HttpParseError';
  }
}

interface ParsedMessageBase {
  httpVersion: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Headers as received, in order. */
  rawHeaders: [string, string][];
  /** The head text (start line + header lines), without the blank line. */
  rawHead: string;
  body: Buffer;
  /** Body was chunked on the wire. */
  chunked: boolean;
  /** Chunk sizes as seen on the wire (chunked bodies only, without the final 0). */
  chunkSizes: number[];
  trailers: [string, string][];
  /** Byte offsets of the message in the parsed buffer [start, end). */
  start: number;
  end: number;
  text(): string;
  json<T = any>(): T;
}

export interface ParsedResponse extends ParsedMessageBase {
  status: number;
  statusText: string;
  /** Body framed by connection close (no Content-Length, not chunked). */
  closeDelimited: boolean;
}

export interface ParsedRequest extends ParsedMessageBase {
  method: string;
  target: string;
}

export type ParseOutcome<T> =
  | { kind: 'message'; message: T }
  /** Not enough bytes yet. `head` is set when the head is complete (only the body is missing). */
  | { kind: 'incomplete'; head?: { method?: string; status?: number } };

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

function finish<T extends ParsedMessageBase>(m: Omit<T, 'text' | 'json'>): T {
  const msg = m as T;
  msg.text = function (this: ParsedMessageBase) {
    return this.body.toString('utf8');
  };
  msg.json = function (this: ParsedMessageBase) {
    return JSON.parse(this.body.toString('utf8'));
  };
  return msg;
}

function parseHeaderLines(lines: string[], offset: number): [string, string][] {
  const out: [string, string][] = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) throw new HttpParseError(`obsolete line folding: ${JSON.stringify(line)}`, offset);
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpParseError(`bad header line: ${JSON.stringify(line)}`, offset);
    const name = line.slice(0, colon);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new HttpParseError(`bad header name: ${JSON.stringify(name)}`, offset);
    out.push([name, line.slice(colon + 1).trim()]);
  }
  return out;
}

function headerMap(raw: [string, string][]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [k, v] of raw) {
    const key = k.toLowerCase();
    map[key] = key in map ? `${map[key]}, ${v}` : v;
  }
  return map;
}

/** Parses a chunked body starting at `pos`. Returns null when incomplete. */
function parseChunked(buf: Buffer, pos: number): { body: Buffer; end: number; trailers: [string, string][]; sizes: number[] } | null {
  const parts: Buffer[] = [];
  const sizes: number[] = [];
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, pos);
    if (lineEnd < 0) {
      if (buf.length - pos > 1024) throw new HttpParseError('chunk size line too long', pos);
      return null;
    }
    const line = buf.subarray(pos, lineEnd).toString('latin1');
    const sizeText = line.split(';')[0]!.trim();
    if (!/^[0-9A-Fa-f]{1,16}$/.test(sizeText)) throw new HttpParseError(`bad chunk size line ${JSON.stringify(line)}`, pos);
    const size = parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      // trailers until an empty line
      const trailerLines: string[] = [];
      for (;;) {
        const e = buf.indexOf(CRLF, pos);
        if (e < 0) return null;
        const t = buf.subarray(pos, e).toString('latin1');
        pos = e + 2;
        if (t === '') break;
        trailerLines.push(t);
      }
      return { body: Buffer.concat(parts), end: pos, trailers: parseHeaderLines(trailerLines, pos), sizes };
    }
    if (buf.length < pos + size + 2) return null;
    parts.push(buf.subarray(pos, pos + size));
    sizes.push(size);
    if (buf[pos + size] !== 13 || buf[pos + size + 1] !== 10) throw new HttpParseError('chunk data not followed by CRLF', pos + size);
    pos += size + 2;
  }
}

function contentLength(headers: Record<string, string>, offset: number): number | undefined {
  const v = headers['content-length'];
  if (v === undefined) return undefined;
  const values = v.split(',').map((s) => s.trim());
  if (!values.every((x) => /^[0-9]+$/.test(x)) || new Set(values).size !== 1) {
    throw new HttpParseError(`bad Content-Length ${JSON.stringify(v)}`, offset);
  }
  return Number(values[0]);
}

function isChunked(headers: Record<string, string>): boolean | undefined {
  const te = headers['transfer-encoding'];
  if (te === undefined) return undefined;
  const codings = te
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  return codings[codings.length - 1] === 'chunked';
}

/**
 * Parses one HTTP/1.x message from `buf` at `offset`.
 * For responses, `requestMethod` decides whether a body is expected (HEAD: none) and `eof` tells that the
 * connection is closed (needed to end a close-delimited body).
 */
export function parseMessage(
  buf: Buffer,
  offset: number,
  kind: 'response',
  opts?: { requestMethod?: string; eof?: boolean },
): ParseOutcome<ParsedResponse>;
export function parseMessage(buf: Buffer, offset: number, kind: 'request'): ParseOutcome<ParsedRequest>;
export function parseMessage(
  buf: Buffer,
  offset: number,
  kind: 'request' | 'response',
  opts: { requestMethod?: string; eof?: boolean } = {},
): ParseOutcome<ParsedResponse> | ParseOutcome<ParsedRequest> {
  const headEnd = buf.indexOf(CRLFCRLF, offset);
  if (headEnd < 0) {
    if (buf.length - offset > 1024 * 1024) throw new HttpParseError('head larger than 1 MiB', offset);
    return { kind: 'incomplete' };
  }
  const rawHead = buf.subarray(offset, headEnd).toString('latin1');
  const lines = rawHead.split('\r\n');
  const startLine = lines.shift()!;
  const rawHeaders = parseHeaderLines(lines, offset);
  const headers = headerMap(rawHeaders);
  let pos = headEnd + 4;

  if (kind === 'request') {
    const m = /^([A-Za-z]+) (\S+) HTTP\/(\d\.\d)$/.exec(startLine);
    if (!m) throw new HttpParseError(`bad request line ${JSON.stringify(startLine)}`, offset);
    const method = m[1]!;
    const base = {
      method,
      target: m[2]!,
      httpVersion: m[3]!,
      headers,
      rawHeaders,
      rawHead,
      trailers: [] as [string, string][],
      start: offset,
    };
    const chunked = isChunked(headers);
    if (chunked) {
      const c = parseChunked(buf, pos);
      if (!c) return { kind: 'incomplete', head: { method } };
      return {
        kind: 'message',
        message: finish<ParsedRequest>({ ...base, body: c.body, chunked: true, chunkSizes: c.sizes, trailers: c.trailers, end: c.end }),
      };
    }
    if (chunked === false) throw new HttpParseError('request Transfer-Encoding without chunked last', offset);
    const len = contentLength(headers, offset) ?? 0;
    if (buf.length < pos + len) return { kind: 'incomplete', head: { method } };
    return {
      kind: 'message',
      message: finish<ParsedRequest>({ ...base, body: buf.subarray(pos, pos + len), chunked: false, chunkSizes: [], end: pos + len }),
    };
  }

  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(startLine);
  if (!m) throw new HttpParseError(`bad status line ${JSON.stringify(startLine)}`, offset);
  const status = Number(m[2]);
  const base = {
    status,
    statusText: m[3] ?? '',
    httpVersion: m[1]!,
    headers,
    rawHeaders,
    rawHead,
    trailers: [] as [string, string][],
    start: offset,
    closeDelimited: false,
    chunked: false,
    chunkSizes: [] as number[],
  };
  const method = (opts.requestMethod ?? 'GET').toUpperCase();
  if (status === 101) {
    // switched protocols: everything after the head belongs to the new protocol
    return { kind: 'message', message: finish<ParsedResponse>({ ...base, body: buf.subarray(pos), end: buf.length }) };
  }
  if ((status >= 100 && status < 200) || status === 204 || status === 304 || method === 'HEAD') {
    return { kind: 'message', message: finish<ParsedResponse>({ ...base, body: Buffer.alloc(0), end: pos }) };
  }
  const chunked = isChunked(headers);
  if (chunked) {
    const c = parseChunked(buf, pos);
    if (!c) return { kind: 'incomplete', head: { status } };
    return {
      kind: 'message',
      message: finish<ParsedResponse>({ ...base, body: c.body, chunked: true, chunkSizes: c.sizes, trailers: c.trailers, end: c.end }),
    };
  }
  const len = chunked === false ? undefined : contentLength(headers, offset);
  if (len !== undefined) {
    if (buf.length < pos + len) return { kind: 'incomplete', head: { status } };
    return { kind: 'message', message: finish<ParsedResponse>({ ...base, body: buf.subarray(pos, pos + len), end: pos + len }) };
  }
  if (!opts.eof) return { kind: 'incomplete', head: { status } };
  return { kind: 'message', message: finish<ParsedResponse>({ ...base, body: buf.subarray(pos), closeDelimited: true, end: buf.length }) };
}

/**
 * Parses all complete responses in `buf`. `methods` are the methods of the requests in order (for HEAD);
 * 1xx interim responses do not use up a method. `eof`: the connection was closed (ends a close-delimited body).
 */
export function parseResponses(
  buf: Buffer,
  opts: { methods?: string[]; eof?: boolean } = {},
): { responses: ParsedResponse[]; rest: number; error?: string } {
  const responses: ParsedResponse[] = [];
  let pos = 0;
  let finals = 0;
  try {
    while (pos < buf.length) {
      const r = parseMessage(buf, pos, 'response', { requestMethod: opts.methods?.[finals], eof: opts.eof });
      if (r.kind === 'incomplete') break;
      responses.push(r.message);
      pos = r.message.end;
      if (r.message.status >= 200 || r.message.status === 101) finals++;
      if (r.message.status === 101) break;
    }
  } catch (err) {
    return { responses, rest: pos, error: (err as Error).message };
  }
  return { responses, rest: pos };
}

/** Parses all complete requests in `buf` (used by the raw backend and to learn the methods we sent). */
export function parseRequests(buf: Buffer): { requests: ParsedRequest[]; rest: number; pendingMethod?: string; error?: string } {
  const requests: ParsedRequest[] = [];
  let pos = 0;
  try {
    while (pos < buf.length) {
      const r = parseMessage(buf, pos, 'request');
      if (r.kind === 'incomplete') return { requests, rest: pos, pendingMethod: r.head?.method };
      requests.push(r.message);
      pos = r.message.end;
    }
  } catch (err) {
    return { requests, rest: pos, error: (err as Error).message };
  }
  return { requests, rest: pos };
}

/* ------------------------------------------------------------------ load generators */

/** Calls onResponse(status, close) at the end of each response of a byte stream fed in pieces; Content-Length framing only. */
export class ResponseReader {
  private pending: Buffer | null = null;
  private bodyLeft = 0;
  private status = 0;
  private close = false;

  constructor(private readonly onResponse: (status: number, close: boolean) => void) {}

  feed(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    while (off < data.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, data.length - off);
        this.bodyLeft -= n;
        off += n;
        if (this.bodyLeft === 0) this.onResponse(this.status, this.close);
        continue;
      }
      const end = data.indexOf('\r\n\r\n', off, 'latin1');
      if (end < 0) {
        this.pending = Buffer.from(data.subarray(off));
        return;
      }
      const head = data.toString('latin1', off, end);
      off = end + 4;
      if (/\r\ntransfer-encoding:/i.test(head)) throw new Error('chunked responses are not supported');
      this.status = Number(head.slice(9, 12));
      this.close = /\r\nconnection:[ \t]*close/i.test(head);
      this.bodyLeft = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.bodyLeft === 0) this.onResponse(this.status, this.close);
    }
  }
}

export function getRequest(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`;
}
