/**
 * The admin listener: the API (ours under /v1, fnproject fnlb's under /1/lb), /metrics, the dashboard
 * and the probes. node:http is plenty here: this is operator traffic, not the request path.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { AdminApi, ApiError } from './api.js';
import { dashboardPage } from './dashboard-page.js';
import { loginPage } from './login-page.js';

/** Largest request body read; anything bigger is answered 413 unread. */
export const MAX_ADMIN_BODY = 64 * 1024;
const COOKIE = 'fnlb_admin';

export interface AdminServerOptions {
  readonly token: string | null;
  readonly log: Logger;
}

export class AdminServer {
  readonly server: http.Server;
  /** The cookie value that stands for the token: an HMAC under a key that lives as long as this process. */
  private readonly session: string | null;

  constructor(
    private readonly api: AdminApi,
    private readonly options: AdminServerOptions,
  ) {
    this.session = options.token === null ? null : createHmac('sha256', randomBytes(32)).update(options.token).digest('hex');
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        options.log.error({ err: err.message, method: req.method, url: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const method = req.method ?? 'GET';

    // Probes are open: a kubelet has no token.
    if (path === '/healthz' || path === '/readyz') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD']);
      const { status, body } = path === '/healthz' ? { status: 200, body: { status: 'ok' } } : this.api.ready();
      return send(res, status, body);
    }
    if (path === '/login') return this.login(req, res, method);

    if (path === '/' && this.session !== null) {
      // `/?token=...` once: the cookie keeps the session, and the token leaves the address bar.
      const token = url.searchParams.get('token');
      if (token !== null) {
        if (!this.tokenMatches(token)) return sendHtml(res, 401, loginPage('wrong token'));
        return this.startSession(res);
      }
      if (!this.authorized(req)) return redirect(res, '/login');
    } else if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="fnlb"');
      return send(res, 401, { error: 'missing or wrong token (send Authorization: Bearer <token>)' });
    }

    if (path === '/') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD']);
      return sendHtml(res, 200, dashboardPage());
    }
    if (path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD']);
      const { contentType, body } = await this.api.metrics();
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }

    const route = this.api.route(method, path);
    if (route.kind === 'not-found') return send(res, 404, { error: `no such endpoint: ${path}` });
    if (route.kind === 'method') return methodNotAllowed(res, route.allow);
    let body: unknown = undefined;
    if (route.takesBody) {
      const read = await readBody(req);
      if (read === 'too-large') {
        res.setHeader('Connection', 'close');
        return send(res, 413, { error: `request body over ${MAX_ADMIN_BODY} bytes` });
      }
      body = read;
    }
    try {
      const out = await route.run(url.searchParams, body);
      send(res, out.status, out.body);
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status, { error: err.message });
      throw err;
    }
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse, method: string): Promise<void> {
    if (method === 'GET' || method === 'HEAD') {
      if (this.session === null || this.authorized(req)) return redirect(res, '/');
      return sendHtml(res, 200, loginPage());
    }
    if (method !== 'POST') return methodNotAllowed(res, ['GET', 'HEAD', 'POST']);
    const read = await readBody(req);
    if (read === 'too-large') return send(res, 413, { error: `request body over ${MAX_ADMIN_BODY} bytes` });
    if (this.session === null) return redirect(res, '/');
    const token = new URLSearchParams(read.toString('utf8')).get('token') ?? '';
    if (!this.tokenMatches(token)) return sendHtml(res, 401, loginPage('wrong token'));
    return this.startSession(res);
  }

  private startSession(res: http.ServerResponse): void {
    res.setHeader('Set-Cookie', `${COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict`);
    redirect(res, '/');
  }

  /** With no token configured (loopback only) everything is open; else the bearer token or the session cookie. */
  private authorized(req: http.IncomingMessage): boolean {
    if (this.session === null) return true;
    const auth = req.headers.authorization;
    if (auth !== undefined && auth.startsWith('Bearer ')) return this.tokenMatches(auth.slice(7).trim());
    const cookie = cookieValue(req.headers.cookie, COOKIE);
    return cookie !== undefined && sameSecret(cookie, this.session);
  }

  private tokenMatches(token: string): boolean {
    return this.options.token !== null && sameSecret(token, this.options.token);
  }
}

/** Constant time whatever the lengths: both sides hashed first, so the comparison never stops early. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_ADMIN_BODY) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    // Self-contained page: nothing may load from elsewhere.
    'Content-Security-Policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
    'X-Frame-Options': 'DENY',
  });
  res.end(html);
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(303, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
}

function methodNotAllowed(res: http.ServerResponse, allow: readonly string[]): void {
  res.setHeader('Allow', allow.join(', '));
  send(res, 405, { error: `method not allowed (allowed: ${allow.join(', ')})` });
}
