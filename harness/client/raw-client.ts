/**
 * Raw HTTP/1.x client helpers for black-box tests (responses are framed by ./http1-reader.ts).
 *
 * - RawConnection: a TCP connection to write exact bytes to and read parsed responses from, step by step.
 * - rawRequest: one-shot: send bytes (optionally in small pieces), collect until close/timeout/N responses.
 * - httpRequest: node:http convenience (no keep-alive agent) returning status, headers, body.
 */
import net from 'node:net';
import http from 'node:http';
import { Readable } from 'node:stream';
import { sleep } from '../wait.js';
import { parseRequests, parseResponses, type ParsedResponse } from './http1-reader.js';

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
