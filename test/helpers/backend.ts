/**
 * Test backend: a fake function node built on node:http.
 *
 * Runnable:   node dist/test/helpers/backend.js --name B1 --port 0 [--host 127.0.0.1] [--log FILE]
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

export const BACKEND_VERSION = '0.2.72';
export const PIECE_SIZE = 64 * 1024;

export interface BackendServerOptions {
  name: string;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** Append "<x-request-id>\n" here synchronously when a request head arrives. */
  logFile?: string;
}

export interface BackendServer {
  name: string;
  port: number;
  id: string;
  server: http.Server;
  /** Number of requests whose head arrived. */
  readonly requestCount: number;
  /** x-request-id values seen, in arrival order (in-process view of the log file). */
  readonly requestIds: string[];
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function startBackendServer(opts: BackendServerOptions): Promise<BackendServer> {
  const name = opts.name;
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const perSocket = new WeakMap<Socket, number>();
  const requestIds: string[] = [];
  let requestCount = 0;

  const server = http.createServer();

  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
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

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, connRequests: number): Promise<void> {
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
    server.listen(opts.port ?? 0, host, () => {
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

function parseArgs(argv: string[]): BackendServerOptions {
  const opts: BackendServerOptions = { name: 'backend', port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--name' && v !== undefined) (opts.name = v), i++;
    else if (a === '--port' && v !== undefined) (opts.port = Number(v)), i++;
    else if (a === '--host' && v !== undefined) (opts.host = v), i++;
    else if (a === '--log' && v !== undefined) (opts.logFile = v), i++;
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
