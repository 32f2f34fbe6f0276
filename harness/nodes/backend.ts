/**
 * The fake function node of the tests, the benchmarks and the demo: an IronFunctions-like node built on
 * node:http that says which node answered.
 *
 * Runnable:   node dist/harness/nodes/backend.js --name B1 --port 0 [--host 127.0.0.1] [--log FILE] [--demo]
 *             prints one line `{"ready":true,"name":"B1","port":12345,"pid":...}` on stdout when listening;
 *             exits with status 98 when the port is taken (EADDRINUSE) so a spawner can retry.
 * Importable: startBackendServer({ name, port }) runs the same server in-process.
 *
 * What it answers (special words match the last path segment or the query, so /base/... works too):
 *   GET  .../version          200 {"version":"0.2.72"}
 *   .../echo                  echoes the request body, streaming, chunked
 *   ?status=N                 answers N with the info JSON (no body for HEAD/204/304)
 *   ?delay=MS                 waits MS before answering (combines with the others)
 *   ?bytes=N                  N bytes of deterministic content (64 KiB pieces, Content-Length, X-Sha256)
 *   ?chunked=N&every=MS       N chunks "chunk i\n", chunked encoding, one every MS (default 100)
 *   ?redirect=URL             302 with Location: URL
 *   ?hang=1                   reads the request, never answers
 *   ?destroy=1                destroys the connection without answering
 *   anything else             200 info JSON
 *
 * With --demo (or demo: true) it answers like a small IronFunctions node instead, for `npm run demo`
 * (fault modes, request ids and X-Node as usual):
 *   GET  /version             200 {"version":"0.2.72"}
 *   GET|HEAD /                200 pong
 *   ANY  /r/{app}/{route}     200 {"node", "app", "route", "calls", "hot", "cold", "waitedMs"}: `calls` counts
 *                             the calls of this function (app + route; the query string is input, not
 *                             identity) on this node, `hot` is calls > 1, like a hot container that only
 *                             this node has. With --containers N and --cold-start MS the node models
 *                             containers (containers.ts): `cold` says the call started one, `waitedMs` how
 *                             long it queued for one (also sent as XXX-FXLB-WAIT); ?work=MS is the call's
 *                             run time
 *   anything else             404 {"error":{"message":"Not found"}}
 *
 * Fault mode (for fault-injection tests), switched at run time by a control request sent to the backend
 * directly (never through fnlb): `GET /__fault?mode=normal|503|slow|hang[&ms=N]` answers 200
 * {"mode":...,"ms":...} at once, whatever the current mode. Every other request, /version included, then:
 *   normal   as above
 *   503      answered 503 {"error":"fault mode 503","node":...} (body read first)
 *   slow     waits ms (default 1000) before being handled as usual
 *   hang     body read, never answered (the connection stays open)
 * The x-request-id is logged in every mode (the request did reach the node). `--backlog N` sets the
 * listen backlog (a small one lets a test fill the accept queue of a SIGSTOPped backend, so that further
 * connection attempts get no answer at all, as from a black-holed host).
 * Info JSON: {node, method, url, httpVersion, headers: [[name, value], ...] (raw, as received),
 *             bodyLength, bodySha256, remotePort, connRequests}
 * Every response carries `X-Node: <name>`.
 * With --log FILE (or logFile), the x-request-id header of each request that has one is appended to
 * FILE synchronously as soon as the request head arrives ("<id>\n").
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { sleep } from '../wait.js';
import { Containers } from './containers.js';

export const BACKEND_VERSION = '0.2.72';
export const PIECE_SIZE = 64 * 1024;

export interface BackendServerOptions {
  name: string;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** Append "<x-request-id>\n" here synchronously when a request head arrives. */
  logFile?: string;
  /** listen() backlog (default: Node's, 511). */
  backlog?: number;
  /** Answer like the demo's IronFunctions node (see the header). */
  demo?: boolean;
  /** --demo: containers per function at most (default: no limit); a call over it queues. */
  containers?: number;
  /** --demo: milliseconds a call that starts a container waits before it runs (default 0). */
  coldStartMs?: number;
}

export type FaultModeKind = 'normal' | '503' | 'slow' | 'hang';
export const FAULT_MODES: readonly FaultModeKind[] = ['normal', '503', 'slow', 'hang'];
export interface FaultMode {
  kind: FaultModeKind;
  /** For slow: the wait before each response. */
  ms?: number;
}
/** Path of the control request that switches the fault mode. */
export const FAULT_CONTROL_PATH = '/__fault';

export interface BackendServer {
  name: string;
  port: number;
  id: string;
  server: http.Server;
  /** Number of requests whose head arrived. */
  readonly requestCount: number;
  /** x-request-id values seen, in arrival order (in-process view of the log file). */
  readonly requestIds: string[];
  /** Current fault mode (also switched by the control request). */
  mode: FaultMode;
  /** Stop accepting, end idle connections, destroy the rest after graceMs. */
  close(graceMs?: number): Promise<void>;
}

/** Info JSON answered by the backend for ordinary requests. */
export interface BackendInfo {
  node: string;
  method: string;
  url: string;
  httpVersion: string;
  headers: [string, string][];
  bodyLength: number;
  bodySha256: string;
  remotePort: number;
  connRequests: number;
}

let basePiece: Buffer | undefined;
function base(): Buffer {
  if (!basePiece) {
    basePiece = Buffer.allocUnsafe(PIECE_SIZE);
    for (let i = 0; i < PIECE_SIZE; i++) basePiece[i] = (i * 31 + (i >>> 8) * 7 + 11) & 0xff;
  }
  return basePiece;
}

/**
 * Piece `index` of the deterministic content: a fixed 64 KiB byte pattern whose first 8 bytes are
 * replaced by the piece index (so lost, repeated or reordered pieces change the hash).
 */
export function deterministicPiece(index: number, size: number = PIECE_SIZE): Buffer {
  const buf = Buffer.allocUnsafe(size);
  base().copy(buf, 0, 0, size);
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(index));
  head.copy(buf, 0, 0, Math.min(8, size));
  return buf;
}

/** Yields the first `total` bytes of the deterministic content in pieces of at most PIECE_SIZE. */
export function* deterministicPieces(total: number): Generator<Buffer> {
  let index = 0;
  let left = total;
  while (left > 0) {
    const n = Math.min(PIECE_SIZE, left);
    yield deterministicPiece(index, n);
    index++;
    left -= n;
  }
}

const shaCache = new Map<number, string>();
/** sha256 (hex) of the first `total` bytes of the deterministic content. Cached. */
export function deterministicSha256(total: number): string {
  const cached = shaCache.get(total);
  if (cached !== undefined) return cached;
  const h = createHash('sha256');
  for (const piece of deterministicPieces(total)) h.update(piece);
  const hex = h.digest('hex');
  shaCache.set(total, hex);
  return hex;
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export function startBackendServer(opts: BackendServerOptions): Promise<BackendServer> {
  const name = opts.name;
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const perSocket = new WeakMap<Socket, number>();
  const requestIds: string[] = [];
  let requestCount = 0;
  let mode: FaultMode = { kind: 'normal' };
  /** Calls per function ("app route"), for --demo. */
  const calls = new Map<string, number>();
  const containers = new Containers({ limit: opts.containers ?? Infinity, coldStartMs: opts.coldStartMs ?? 0 });

  const server = http.createServer();

  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url?.startsWith(FAULT_CONTROL_PATH + '?')) {
      control(req, res);
      return;
    }
    requestCount++;
    const sock = req.socket;
    const connRequests = (perSocket.get(sock) ?? 0) + 1;
    perSocket.set(sock, connRequests);
    const rid = req.headers['x-request-id'];
    if (typeof rid === 'string' && rid !== '') {
      requestIds.push(rid);
      if (opts.logFile) appendFileSync(opts.logFile, rid + '\n');
    }
    res.setHeader('X-Node', name);
    handle(req, res, connRequests).catch((err: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end(String(err));
      } else {
        res.destroy();
      }
    });
  });

  function control(req: http.IncomingMessage, res: http.ServerResponse): void {
    const q = new URL(req.url ?? '/', 'http://backend.invalid').searchParams;
    const kind = q.get('mode') as FaultModeKind | null;
    const ms = Number(q.get('ms') ?? 1000);
    req.resume();
    if (kind === null || !FAULT_MODES.includes(kind) || !(ms >= 0)) {
      sendJson(req, res, 400, { error: `mode must be one of ${FAULT_MODES.join(', ')}; ms >= 0` });
      return;
    }
    mode = kind === 'slow' ? { kind, ms } : { kind };
    sendJson(req, res, 200, { mode: kind, ms: mode.ms });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, connRequests: number): Promise<void> {
    const current = mode;
    if (current.kind === 'hang') {
      req.resume(); // read the body, never answer
      return;
    }
    if (current.kind === '503') {
      req.resume();
      await new Promise<void>((resolve) => req.on('end', resolve).on('error', resolve).on('close', resolve));
      sendJson(req, res, 503, { error: 'fault mode 503', node: name });
      return;
    }
    if (current.kind === 'slow') await sleep(current.ms ?? 1000);
    if (opts.demo) {
      await demoAnswer(req, res);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://backend.invalid');
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const last = segments[segments.length - 1] ?? '';
    const q = url.searchParams;

    if (q.get('destroy') === '1') {
      req.socket.destroy();
      return;
    }
    if (q.get('hang') === '1') {
      req.resume(); // read the body, never answer
      return;
    }
    const delay = Number(q.get('delay') ?? 0);

    if (last === 'echo') {
      if (delay > 0) await sleep(delay);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/octet-stream');
      res.flushHeaders();
      req.pipe(res);
      return;
    }

    // Consume the request body, counting and hashing it.
    const hash = createHash('sha256');
    let bodyLength = 0;
    await new Promise<void>((resolve, reject) => {
      req.on('data', (c: Buffer) => {
        bodyLength += c.length;
        hash.update(c);
      });
      req.on('end', resolve);
      req.on('error', reject);
      req.on('aborted', () => reject(new Error('request aborted')));
    });
    if (delay > 0) await sleep(delay);

    if (req.method === 'GET' && last === 'version' && !q.has('status')) {
      sendJson(req, res, 200, { version: BACKEND_VERSION });
      return;
    }

    const redirect = q.get('redirect');
    if (redirect !== null) {
      res.statusCode = 302;
      res.setHeader('Location', redirect);
      res.setHeader('Content-Length', '0');
      res.end();
      return;
    }

    const bytes = q.get('bytes');
    if (bytes !== null) {
      const total = Number(bytes);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('Content-Length', String(total));
      res.setHeader('X-Sha256', deterministicSha256(total));
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      for (const piece of deterministicPieces(total)) {
        if (res.destroyed) return;
        if (!res.write(piece)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      res.end();
      return;
    }

    const chunked = q.get('chunked');
    if (chunked !== null) {
      const n = Number(chunked);
      const every = Number(q.get('every') ?? 100);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/plain');
      res.flushHeaders();
      for (let i = 0; i < n; i++) {
        if (i > 0) await sleep(every);
        if (res.destroyed) return;
        res.write(`chunk ${i}\n`);
      }
      res.end();
      return;
    }

    const status = Number(q.get('status') ?? 200);
    const info: BackendInfo = {
      node: name,
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: pairs(req.rawHeaders),
      bodyLength,
      bodySha256: hash.digest('hex'),
      remotePort: req.socket.remotePort ?? 0,
      connRequests,
    };
    sendJson(req, res, status, info);
  }

  async function demoAnswer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.resume();
    await new Promise<void>((resolve) => req.on('end', resolve).on('error', resolve).on('close', resolve));
    const path = new URL(req.url ?? '/', 'http://node.invalid').pathname;
    const json = (status: number, value: unknown): void => {
      const body = JSON.stringify(value) + '\n';
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === '/version' && req.method === 'GET') return json(200, { version: BACKEND_VERSION });
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 5 });
      res.end('pong\n');
      return;
    }
    const m = /^\/r\/([^/]+)(\/.*)$/.exec(path);
    if (m) {
      const app = decodeURIComponent(m[1]!);
      const route = m[2]!;
      const key = `${app} ${route}`;
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      const placement = await containers.acquire(key);
      const work = Number(new URL(req.url ?? '/', 'http://node.invalid').searchParams.get('work') ?? 0);
      if (work > 0) await sleep(work);
      placement.release();
      // As fnproject nodes do: how long the call waited for a container, as a Go duration.
      res.setHeader('XXX-FXLB-WAIT', `${Math.round(placement.waitedMs * 1000)}µs`);
      return json(200, { node: name, app, route, calls: n, hot: n > 1, cold: placement.cold, waitedMs: Math.round(placement.waitedMs) });
    }
    json(404, { error: { message: 'Not found' } });
  }

  function sendJson(_req: http.IncomingMessage, res: http.ServerResponse, status: number, value: unknown): void {
    const body = Buffer.from(JSON.stringify(value));
    res.statusCode = status;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', String(body.length));
    res.end(body); // node:http drops the body of a HEAD response, keeps Content-Length
  }

  return new Promise<BackendServer>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port: opts.port ?? 0, host, backlog: opts.backlog }, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        name,
        port,
        id: `${host}:${port}`,
        server,
        get requestCount() {
          return requestCount;
        },
        requestIds,
        get mode() {
          return mode;
        },
        set mode(m: FaultMode) {
          mode = m;
        },
        close(graceMs = 2000): Promise<void> {
          if (closing) return closing;
          closing = new Promise<void>((done) => {
            const timer = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, graceMs);
            timer.unref();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}

/** Switches the fault mode of the backend listening on host:port (a control request sent to it directly). */
export function setFaultMode(port: number, mode: FaultMode, host = '127.0.0.1'): Promise<void> {
  const query = `mode=${mode.kind}` + (mode.ms === undefined ? '' : `&ms=${mode.ms}`);
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: `${FAULT_CONTROL_PATH}?${query}`, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`backend ${host}:${port}: fault mode ${query}: status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`backend ${host}:${port}: fault mode ${query}: no answer`)));
  });
}

function parseArgs(argv: string[]): BackendServerOptions {
  const opts: BackendServerOptions = { name: 'backend', port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--name' && v !== undefined) ((opts.name = v), i++);
    else if (a === '--port' && v !== undefined) ((opts.port = Number(v)), i++);
    else if (a === '--host' && v !== undefined) ((opts.host = v), i++);
    else if (a === '--log' && v !== undefined) ((opts.logFile = v), i++);
    else if (a === '--backlog' && v !== undefined) ((opts.backlog = Number(v)), i++);
    else if (a === '--demo') opts.demo = true;
    else if (a === '--containers' && v !== undefined) ((opts.containers = Number(v)), i++);
    else if (a === '--cold-start' && v !== undefined) ((opts.coldStartMs = Number(v)), i++);
    else {
      process.stderr.write(`backend: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let b: BackendServer;
  try {
    b = await startBackendServer(opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(`backend ${opts.name}: cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port}: ${String(err)}\n`);
    process.exit(code === 'EADDRINUSE' ? 98 : 1);
  }
  process.stdout.write(JSON.stringify({ ready: true, name: b.name, port: b.port, pid: process.pid }) + '\n');
  const stop = (): void => {
    void b.close(2000).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) void main();
