/**
 * Raw HTTP/1.x client helpers for black-box tests.
 *
 * - parseMessage / parseMessages: a small, strict HTTP/1.x framing parser of our own (requests and responses:
 *   Content-Length, chunked with trailers, close-delimited, HEAD/1xx/204/304 without body).
 * - RawConnection: a TCP connection to write exact bytes to and read parsed responses from, step by step.
 * - rawRequest: one-shot: send bytes (optionally in small pieces), collect until close/timeout/N responses.
 * - httpRequest: node:http convenience (no keep-alive agent) returning status, headers, body.
 */
import net from 'node:net';
import http from 'node:http';
import { Readable } from 'node:stream';
import { sleep } from '../wait.js';

export class HttpParseError extends Error {
  constructor(message: string, readonly offset: number) {
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
function parseChunked(
  buf: Buffer,
  pos: number,
): { body: Buffer; end: number; trailers: [string, string][]; sizes: number[] } | null {
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
  const codings = te.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
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
    const base = { method, target: m[2]!, httpVersion: m[3]!, headers, rawHeaders, rawHead, trailers: [] as [string, string][], start: offset };
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

export interface RawWriteOptions {
  /** Send in pieces of this many bytes... */
  splitEvery?: number;
  /** ...waiting this long between pieces (default 1 ms). */
  splitDelayMs?: number;
}

/** A raw TCP connection: write exact bytes, read back parsed responses. */
export class RawConnection {
  readonly socket: net.Socket;
  private readonly chunks: Buffer[] = [];
  private sent: Buffer[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly explicitMethods: string[] | undefined;
  /** The server ended or closed the connection (we did not destroy it first). */
  remoteClosed = false;
  /** The socket is fully closed (by either side). */
  closed = false;
  /** A socket error, if any (ECONNRESET...). */
  error: Error | undefined;
  /** Time (performance.now()) of each data event with its size. */
  readonly arrivals: { t: number; bytes: number }[] = [];

  private constructor(socket: net.Socket, methods?: string[]) {
    this.socket = socket;
    this.explicitMethods = methods;
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.arrivals.push({ t: performance.now(), bytes: c.length });
      this.notify();
    });
    socket.on('end', () => {
      this.remoteClosed = true;
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.remoteClosed = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(port: number, opts: { host?: string; timeoutMs?: number; methods?: string[] } = {}): Promise<RawConnection> {
    const host = opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`RawConnection: connect to ${host}:${port} timed out`));
      }, opts.timeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RawConnection(socket, opts.methods));
      });
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', onError);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Everything received so far. */
  get raw(): Buffer {
    if (this.chunks.length > 1) {
      const all = Buffer.concat(this.chunks);
      this.chunks.length = 0;
      this.chunks.push(all);
    }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Methods of the requests written so far (for HEAD framing), unless given explicitly. */
  get methods(): string[] {
    if (this.explicitMethods) return this.explicitMethods;
    const sent = Buffer.concat(this.sent);
    const r = parseRequests(sent);
    const methods = r.requests.map((q) => q.method);
    if (r.pendingMethod) methods.push(r.pendingMethod);
    return methods;
  }

  private parsed(): { responses: ParsedResponse[]; error?: string } {
    return parseResponses(this.raw, { methods: this.methods, eof: this.remoteClosed });
  }

  /** Responses parsed so far (including 1xx interim responses). */
  get responses(): ParsedResponse[] {
    return this.parsed().responses;
  }

  /** A framing error in what was received, if any. */
  get parseError(): string | undefined {
    return this.parsed().error;
  }

  async write(bytes: Buffer | string, opts: RawWriteOptions = {}): Promise<void> {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.sent.push(buf);
    const step = opts.splitEvery && opts.splitEvery > 0 ? opts.splitEvery : buf.length;
    for (let i = 0; i < buf.length; i += step) {
      if (this.socket.destroyed) throw new Error('RawConnection: socket closed while writing');
      const piece = buf.subarray(i, i + step);
      const ok = this.socket.write(piece);
      if (!ok) await new Promise<void>((r) => this.socket.once('drain', r));
      if (step < buf.length && i + step < buf.length) await sleep(opts.splitDelayMs ?? 1);
    }
  }

  /** Half-close: send FIN, keep reading. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until `pred()` holds; rejects after timeoutMs with a description of what was received. */
  waitFor(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let ok = false;
        try {
          ok = pred();
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (ok) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        const raw = this.raw;
        const shown = raw.subarray(0, 600).toString('latin1');
        reject(
          new Error(
            `RawConnection: timed out after ${timeoutMs} ms waiting for ${what}; received ${raw.length} bytes ` +
              `(remoteClosed=${this.remoteClosed}${this.error ? `, error=${this.error.message}` : ''}): ${JSON.stringify(shown)}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for at least n parsed responses (1xx included). */
  async waitForResponses(n: number, timeoutMs = 5000): Promise<ParsedResponse[]> {
    await this.waitFor(() => this.responses.length >= n || (this.remoteClosed && this.closed), timeoutMs, `${n} responses`);
    const p = this.parsed();
    if (p.responses.length < n) {
      throw new Error(
        `RawConnection: connection closed after ${p.responses.length} of ${n} responses` +
          `${p.error ? ` (parse error: ${p.error})` : ''}; received: ${JSON.stringify(this.raw.subarray(0, 600).toString('latin1'))}`,
      );
    }
    return p.responses;
  }

  /** Waits until the server closes the connection. Resolves true if it did within timeoutMs, else false. */
  async waitForClose(timeoutMs = 5000): Promise<boolean> {
    try {
      await this.waitFor(() => this.remoteClosed, timeoutMs, 'close');
      return true;
    } catch {
      return false;
    }
  }
}

export interface RawRequestOptions extends RawWriteOptions {
  /** Give up waiting after this long (default 5000 ms); the result then has timedOut = true. */
  timeoutMs?: number;
  host?: string;
  /** Return as soon as this many final (non-1xx) responses are complete, without waiting for close. */
  expectResponses?: number;
  /** Methods of the requests sent, when they cannot be parsed from the bytes. */
  methods?: string[];
  /** Half-close our side after writing. */
  endAfterWrite?: boolean;
}

export interface RawRequestResult {
  raw: Buffer;
  /** The server closed the connection (FIN or reset) before we gave up. */
  closed: boolean;
  timedOut: boolean;
  responses: ParsedResponse[];
  parseError?: string;
  error?: Error;
}

/**
 * Sends `bytes` on a new TCP connection and collects everything received until the server closes,
 * `expectResponses` final responses are complete, or the timeout passes. Never rejects on timeout.
 */
export async function rawRequest(port: number, bytes: Buffer | string, opts: RawRequestOptions = {}): Promise<RawRequestResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const conn = await RawConnection.open(port, { host: opts.host, timeoutMs, methods: opts.methods });
  const deadline = performance.now() + timeoutMs;
  const finals = (): number => conn.responses.filter((r) => r.status >= 200 || r.status === 101).length;
  let timedOut = false;
  try {
    await conn.write(bytes, opts);
    if (opts.endAfterWrite) conn.end();
    const left = Math.max(1, deadline - performance.now());
    await conn.waitFor(
      () => conn.remoteClosed || (opts.expectResponses !== undefined && finals() >= opts.expectResponses),
      left,
      'close or responses',
    );
  } catch (err) {
    if (/timed out/.test((err as Error).message)) timedOut = true;
    else if (!conn.remoteClosed) throw err;
  }
  if (conn.remoteClosed) await conn.waitFor(() => conn.closed, 1000, 'socket close').catch(() => undefined);
  const result: RawRequestResult = {
    raw: conn.raw,
    closed: conn.remoteClosed,
    timedOut,
    responses: conn.responses,
    parseError: conn.parseError,
    error: conn.error,
  };
  conn.destroy();
  return result;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: [string, string][];
  body: Buffer;
  httpVersion: string;
  text(): string;
  json<T = any>(): T;
}

export interface HttpRequestOptions {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer | string | Readable;
  timeoutMs?: number;
  host?: string;
}

/** One request with node:http, no connection reuse. Rejects on error or after timeoutMs (default 10 s). */
export function httpRequest(port: number, opts: HttpRequestOptions = {}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: opts.host ?? '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers: opts.headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`httpRequest ${opts.method ?? 'GET'} ${opts.path ?? '/'} on port ${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(parts);
        const raw: [string, string][] = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) raw.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: raw,
          body,
          httpVersion: res.httpVersion,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}
