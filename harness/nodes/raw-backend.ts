/**
 * Raw backend: an in-process `net` server on 127.0.0.1 that records every byte it receives, per connection,
 * so tests can assert exactly what reached a node.
 *
 * By default it answers every complete request (head + body by Content-Length or chunked) with
 * `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`. With `script`, the test decides the exact bytes:
 * a list of steps (write bytes, wait, half-close, close, reset) run for each request, or a function
 * returning the steps for a given request. With `onConnect`, steps run as soon as a connection is accepted
 * (e.g. answer garbage before any request, or close at once). Steps of one connection run in order.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseMessage, type ParsedRequest } from '../client/http1-reader.js';
import { sleep } from '../wait.js';

export const RAW_OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

export type RawStep =
  /** Write these exact bytes (strings are sent as latin1). */
  | { write: Buffer | string }
  /** Wait this many ms. */
  | { delay: number }
  /** Half-close (FIN) after what was written; keep reading. */
  | { end: true }
  /** Write what is pending, then close (FIN) and stop. */
  | { close: true }
  /** Destroy the socket at once. */
  | { destroy: true }
  /** Send a TCP RST. */
  | { reset: true };

export interface RawSeenRequest extends ParsedRequest {
  connIndex: number;
  /** Index of the request on its connection. */
  reqIndex: number;
  /** Time the request was complete (performance.now()). */
  at: number;
}

export interface RawConn {
  index: number;
  socket: net.Socket;
  /** Data events as received. */
  chunks: Buffer[];
  /** All bytes received on this connection. */
  received(): Buffer;
  /** received() as latin1 text. */
  text(): string;
  requests: RawSeenRequest[];
  /** The peer half-closed or the socket closed. */
  ended: boolean;
  closed: boolean;
  /** A framing error in what was received (then no further request is parsed). */
  parseError?: string;
}

export type RawScript = RawStep[] | ((req: RawSeenRequest, conn: RawConn) => RawStep[]);

export interface RawBackendOptions {
  /** Steps per request (default: answer RAW_OK). */
  script?: RawScript;
  /** Steps run when a connection is accepted, before any request. */
  onConnect?: RawStep[] | ((conn: RawConn) => RawStep[]);
  /** Do not parse requests / run per-request scripts (only record bytes). */
  recordOnly?: boolean;
}

export interface RawBackend {
  port: number;
  id: string;
  connections: RawConn[];
  /** Every complete request, in arrival order across connections. */
  readonly requests: RawSeenRequest[];
  /** All bytes received, connections concatenated in accept order. */
  allReceived(): Buffer;
  /** Replace the script for requests arriving from now on. */
  setScript(script: RawScript | undefined): void;
  /** Waits until pred() holds (checked on every event); rejects with what was received after timeoutMs. */
  waitFor(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  waitForRequests(n: number, timeoutMs?: number): Promise<RawSeenRequest[]>;
  /** Closes the listener and destroys every connection. */
  close(): Promise<void>;
}

export function startRawBackend(opts: RawBackendOptions = {}): Promise<RawBackend> {
  const connections: RawConn[] = [];
  const requests: RawSeenRequest[] = [];
  const waiters = new Set<() => void>();
  let script: RawScript | undefined = opts.script;
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = net.createServer((socket) => {
    const chunks: Buffer[] = [];
    let buffer: Buffer = Buffer.alloc(0); // not yet parsed
    const conn: RawConn = {
      index: connections.length,
      socket,
      chunks,
      received: () => Buffer.concat(chunks),
      text: () => Buffer.concat(chunks).toString('latin1'),
      requests: [],
      ended: false,
      closed: false,
    };
    connections.push(conn);
    socket.setNoDelay(true);

    // Steps of this connection run one after the other.
    let queue: Promise<void> = Promise.resolve();
    let stopped = false;
    const run = (steps: RawStep[]): void => {
      queue = queue.then(async () => {
        for (const step of steps) {
          if (stopped || socket.destroyed) return;
          if ('write' in step) socket.write(typeof step.write === 'string' ? Buffer.from(step.write, 'latin1') : step.write);
          else if ('delay' in step) await sleep(step.delay);
          else if ('end' in step) socket.end();
          else if ('close' in step) {
            stopped = true;
            socket.end();
            return;
          } else if ('destroy' in step) {
            stopped = true;
            socket.destroy();
            return;
          } else if ('reset' in step) {
            stopped = true;
            socket.resetAndDestroy();
            return;
          }
        }
      });
    };

    if (opts.onConnect) run(typeof opts.onConnect === 'function' ? opts.onConnect(conn) : opts.onConnect);

    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!opts.recordOnly && conn.parseError === undefined) {
        buffer = buffer.length === 0 ? c : Buffer.concat([buffer, c]);
        try {
          for (;;) {
            const r = parseMessage(buffer, 0, 'request');
            if (r.kind === 'incomplete') break;
            const req: RawSeenRequest = Object.assign(r.message, {
              connIndex: conn.index,
              reqIndex: conn.requests.length,
              at: performance.now(),
            });
            // detach the body from the shared buffer
            req.body = Buffer.from(req.body);
            buffer = buffer.subarray(r.message.end);
            req.end -= req.start;
            req.start = 0;
            conn.requests.push(req);
            requests.push(req);
            const s = script;
            const steps = s === undefined ? [{ write: RAW_OK }] : typeof s === 'function' ? s(req, conn) : s;
            run(steps);
          }
        } catch (err) {
          conn.parseError = (err as Error).message;
        }
      }
      notify();
    });
    socket.on('end', () => {
      conn.ended = true;
      notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.ended = true;
      conn.closed = true;
      notify();
    });
    notify();
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const backend: RawBackend = {
        port,
        id: `127.0.0.1:${port}`,
        connections,
        requests,
        allReceived: () => Buffer.concat(connections.flatMap((c) => c.chunks)),
        setScript(s) {
          script = s;
        },
        waitFor(pred, timeoutMs = 5000, what = 'condition') {
          if (pred()) return Promise.resolve();
          return new Promise((res, rej) => {
            const check = (): void => {
              if (pred()) {
                clearTimeout(timer);
                waiters.delete(check);
                res();
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              const got = backend.allReceived();
              rej(
                new Error(
                  `raw backend ${port}: timed out after ${timeoutMs} ms waiting for ${what}; ` +
                    `${connections.length} connections, ${requests.length} requests, ${got.length} bytes: ` +
                    JSON.stringify(got.subarray(0, 600).toString('latin1')),
                ),
              );
            }, timeoutMs);
            waiters.add(check);
          });
        },
        async waitForRequests(n, timeoutMs = 5000) {
          await backend.waitFor(() => requests.length >= n, timeoutMs, `${n} requests`);
          return requests;
        },
        close() {
          return new Promise<void>((res) => {
            for (const c of connections) c.socket.destroy();
            server.close(() => res());
          });
        },
      };
      resolve(backend);
    });
  });
}
