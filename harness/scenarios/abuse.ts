/**
 * Abusive clients and nodes for the resource-abuse tests (test/blackbox/resource-abuse.test.ts) and the
 * long form (bench/abuse.ts). Everything runs in the calling process, on 127.0.0.1.
 *
 * - slowloris: connections that dribble a request head one byte at a time and never finish it.
 * - latencyWhile: a well-behaved client timing GETs on fresh connections while something else runs.
 * - startSlowReadingNode: a node that stalls, then reads request bodies at a fixed rate.
 * - startBigResponseNode: a node that answers every request with a huge body, as fast as it may.
 * - startUpload: a client that streams a huge Content-Length body from one reused buffer.
 * - openStalledDownload: a client that sends a GET and does not read the response (or reads it slowly).
 * - RssSampler: peak RSS of a process while something runs.
 */
import net from 'node:net';
import { readRssBytes } from '../processes.js';
import { sleep } from '../wait.js';
import { httpRequest } from '../client/raw-client.js';
import { parseMessage, type ParsedResponse } from '../client/http1-reader.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Connections being opened at once: stays well under listen backlogs, so no SYN is dropped and retried. */
const OPEN_PARALLEL = 200;

/** Runs `task(i)` for i in 0..n-1, at most `parallel` at a time. */
export async function inWaves(n: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
}

/** The value at quantile q (0..1) of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/* ------------------------------------------------------------------ memory */

/** Samples a process's RSS every `everyMs` from construction until stop(). */
export class RssSampler {
  readonly baseline: number;
  peak: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 20,
  ) {
    this.baseline = readRssBytes(pid);
    this.peak = this.baseline;
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): number {
    try {
      const rss = readRssBytes(this.pid);
      if (rss > this.peak) this.peak = rss;
      return rss;
    } catch {
      return NaN; // the process is gone: whoever waits on it will say so
    }
  }

  /** Stops sampling; peak growth over the baseline in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak - this.baseline;
  }
}

/* ------------------------------------------------------------------ slowloris */

export interface SlowlorisOptions {
  connections: number;
  /** One byte every this many ms. */
  everyMs: number;
  /** Silence after connecting before the first byte (default 0: the first byte goes at once). */
  firstByteAfterMs?: number;
  /** Connections still open this long after connecting are recorded as open and destroyed. */
  giveUpMs: number;
  /** What is dribbled, cycled (default: a request head that never ends). */
  pattern?: string;
}

export interface SlowlorisConn {
  /** ms from connect until fnlb ended or reset the connection; null if it was still open at giveUpMs. */
  closedAfterMs: number | null;
  /** Status of the response received before the close, if any (408 expected). */
  status: number | null;
  bytesSent: number;
  /** Opening the connection failed. */
  connectError?: string;
}

const SLOW_HEAD = 'GET /r/app/slowloris HTTP/1.1\r\nHost: victim\r\nUser-Agent: slowloris\r\n' + 'X-a: b\r\n'.repeat(1000);

function slowConnection(port: number, o: SlowlorisOptions, opened: () => void): Promise<SlowlorisConn> {
  const pattern = o.pattern ?? SLOW_HEAD;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const result: SlowlorisConn = { closedAfterMs: null, status: null, bytesSent: 0 };
    let t0 = 0;
    let received = '';
    let drip: NodeJS.Timeout | undefined;
    let first: NodeJS.Timeout | undefined;
    let giveUp: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      clearInterval(drip);
      clearTimeout(first);
      clearTimeout(giveUp);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      if (m) result.status = Number(m[1]);
      socket.destroy();
      resolve(result);
    };
    const closedByServer = (): void => {
      if (settled) return; // our own destroy at giveUpMs
      if (t0 > 0 && result.closedAfterMs === null) result.closedAfterMs = performance.now() - t0;
      settle();
    };
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('end', closedByServer);
    socket.on('close', closedByServer);
    socket.on('error', (err) => {
      if (t0 === 0) {
        result.connectError = err.message;
        opened();
      }
      closedByServer();
    });
    socket.once('connect', () => {
      t0 = performance.now();
      opened();
      const write = (): void => {
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(pattern[result.bytesSent % pattern.length]!, 'latin1');
        result.bytesSent++;
      };
      const start = (): void => {
        write();
        drip = setInterval(write, o.everyMs);
      };
      if (o.firstByteAfterMs) first = setTimeout(start, o.firstByteAfterMs);
      else start();
      giveUp = setTimeout(settle, o.giveUpMs);
    });
  });
}

/**
 * Opens `connections` slowloris connections (at most 200 connecting at once) and resolves, once every
 * one is closed or given up, with what happened to each.
 */
export async function slowloris(port: number, o: SlowlorisOptions): Promise<SlowlorisConn[]> {
  const all: Promise<SlowlorisConn>[] = [];
  await inWaves(o.connections, OPEN_PARALLEL, () => new Promise<void>((opened) => void all.push(slowConnection(port, o, opened))));
  return Promise.all(all);
}

/* ------------------------------------------------------------------ a normal client */

export interface LatencyResult<T> {
  result: T;
  /** Round trip of each GET (fresh connection each), ms. */
  latenciesMs: number[];
  /** Failed GETs (error or non-200). */
  errors: string[];
}

/** GETs `path` on a fresh connection, one after the other `gapMs` apart, until `work` settles. */
export async function latencyWhile<T>(port: number, path: string, work: Promise<T>, gapMs = 10): Promise<LatencyResult<T>> {
  let done = false;
  const settled = work.finally(() => (done = true));
  const latenciesMs: number[] = [];
  const errors: string[] = [];
  const probe = async (): Promise<void> => {
    while (!done) {
      const t0 = performance.now();
      try {
        const r = await httpRequest(port, { path, timeoutMs: 5000 });
        if (r.status === 200) latenciesMs.push(performance.now() - t0);
        else errors.push(`status ${r.status}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
      await sleep(gapMs);
    }
  };
  const [result] = await Promise.all([settled, probe()]);
  return { result, latenciesMs, errors };
}

/* ------------------------------------------------------------------ nodes */

interface HeadInfo {
  contentLength: number;
  /** Bytes after the head in the buffer it was found in. */
  rest: Buffer;
}

/** Collects bytes until a request head is complete (our own tests' requests: Content-Length only). */
class HeadCollector {
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): HeadInfo | null {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = this.buf.toString('latin1', 0, end);
    const rest = this.buf.subarray(end + 4);
    this.buf = Buffer.alloc(0);
    return { contentLength: Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0), rest };
  }
}

export interface NodeConnStats {
  openedAt: number;
  /** When the node saw the connection closed (performance.now()), null while open. */
  closedAt: number | null;
  /** Request heads received. */
  requests: number;
  /** Request body bytes read. */
  bodyRead: number;
  /** Response bytes written (accepted by socket.write). */
  written: number;
}

export interface AbuseNode {
  port: number;
  id: string;
  /** Connections that carried at least one request (TCP health probes left out). */
  readonly conns: NodeConnStats[];
  close(): Promise<void>;
}

function startNode(onConnection: (socket: net.Socket, stats: NodeConnStats) => void): Promise<AbuseNode> {
  const conns: NodeConnStats[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const stats: NodeConnStats = { openedAt: performance.now(), closedAt: null, requests: 0, bodyRead: 0, written: 0 };
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      stats.closedAt = performance.now();
    });
    onConnection(socket, stats);
    // Listed once it carries a request: health probes only connect.
    const list = (): void => {
      if (stats.requests > 0) conns.push(stats);
      else socket.once('data', list);
    };
    socket.once('data', () => setImmediate(list));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        id: `127.0.0.1:${port}`,
        conns,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface SlowReadingNodeOptions {
  /** Reads nothing of a request body for this long after its head arrived. */
  stallMs: number;
  /** Then reads at most this many body bytes per second. */
  bytesPerSecond: number;
}

/**
 * A node that reads request bodies slowly: after a head, it stops reading for `stallMs`, then reads at
 * `bytesPerSecond` (in 50 ms quanta); when the body is complete it answers 200 `{"bodyLength":N}`.
 */
export function startSlowReadingNode(o: SlowReadingNodeOptions): Promise<AbuseNode> {
  const TICK_MS = 50;
  const quota = Math.max(1, Math.round((o.bytesPerSecond * TICK_MS) / 1000));
  return startNode((socket, stats) => {
    const heads = new HeadCollector();
    let left = -1; // body bytes still expected; -1 = waiting for a head
    let inTick = 0;
    let throttled = false;
    const answer = (): void => {
      const body = JSON.stringify({ bodyLength: stats.bodyRead });
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      left = -1;
    };
    const consume = (chunk: Buffer): void => {
      const n = Math.min(chunk.length, left);
      stats.bodyRead += n;
      left -= n;
      inTick += n;
      if (left === 0) answer();
      if (inTick >= quota && !throttled) {
        throttled = true;
        socket.pause();
        setTimeout(() => {
          throttled = false;
          inTick = 0;
          socket.resume();
        }, TICK_MS);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (left >= 0) {
        consume(chunk);
        return;
      }
      const head = heads.feed(chunk);
      if (head === null) return;
      stats.requests++;
      left = head.contentLength;
      if (left === 0) {
        answer();
        return;
      }
      socket.pause();
      throttled = true;
      setTimeout(() => {
        throttled = false;
        if (head.rest.length > 0) consume(head.rest);
        if (!throttled) socket.resume();
      }, o.stallMs);
    });
  });
}

/** A node that answers every request with `size` bytes (Content-Length), as fast as the connection takes them. */
export function startBigResponseNode(size: number): Promise<AbuseNode> {
  const piece = Buffer.alloc(64 * KiB, 'z');
  return startNode((socket, stats) => {
    const heads = new HeadCollector();
    let left = 0;
    const pump = (): void => {
      while (left > 0 && !socket.destroyed) {
        const n = Math.min(piece.length, left);
        left -= n;
        stats.written += n;
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) return; // 'drain' calls again
      }
    };
    socket.on('drain', pump);
    socket.on('data', (chunk: Buffer) => {
      if (heads.feed(chunk) === null) return;
      stats.requests++;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`);
      left = size;
      pump();
    });
  });
}

/* ------------------------------------------------------------------ clients */

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface UploadResult {
  /** Status of the response, 0 if none came. */
  status: number;
  /** Body bytes accepted by our socket. */
  sent: number;
  ms: number;
  /** The response body (small JSON from the nodes above). */
  body: string;
  error?: string;
}

export interface Upload {
  /** Body bytes accepted by our socket so far. */
  readonly sent: number;
  readonly result: Promise<UploadResult>;
}

/** POSTs `size` bytes (Content-Length) from one reused 64 KiB buffer, with backpressure. */
export async function startUpload(port: number, path: string, size: number, timeoutMs = 60_000): Promise<Upload> {
  const t0 = performance.now();
  const socket = await connect(port);
  const piece = Buffer.alloc(64 * KiB, 'u');
  const r: UploadResult = { status: 0, sent: 0, ms: 0, body: '' };
  const result = new Promise<UploadResult>((resolve) => {
    const done = (error?: string): void => {
      clearTimeout(timer);
      if (error !== undefined && r.error === undefined && r.status === 0) r.error = error;
      r.ms = performance.now() - t0;
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(`upload timed out after ${timeoutMs} ms (${r.sent} bytes sent)`), timeoutMs);
    readResponse(socket, 'POST').then(
      (res) => {
        r.status = res.status;
        r.body = res.text();
        done();
      },
      (err: Error) => done(err.message),
    );
    const pump = (): void => {
      while (r.sent < size && !socket.destroyed) {
        const n = Math.min(piece.length, size - r.sent);
        r.sent += n;
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) return;
      }
    };
    socket.on('drain', pump);
    socket.write(`POST ${path} HTTP/1.1\r\nHost: abuse\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`);
    pump();
  });
  return {
    get sent() {
      return r.sent;
    },
    result,
  };
}

/** Resolves with the next complete response on `socket` (rejects if it closes first). */
export function readResponse(socket: net.Socket, method = 'GET'): Promise<ParsedResponse> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      received = Buffer.concat([received, d]);
      const r = parseMessage(received, 0, 'response', { requestMethod: method });
      if (r.kind === 'message') {
        off();
        resolve(r.message);
      }
    };
    const onGone = (err?: Error): void => {
      off();
      reject(new Error(`connection closed before a response${err ? `: ${err.message}` : ''}`));
    };
    const off = (): void => {
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('close', onGone);
    };
    socket.on('data', onData);
    socket.on('error', onGone);
    socket.on('close', onGone);
  });
}

/** One more GET on an open keep-alive connection; resolves with the status. */
export async function getOn(socket: net.Socket, path: string): Promise<number> {
  const response = readResponse(socket);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: abuse\r\n\r\n`);
  return (await response).status;
}

export interface StalledDownload {
  socket: net.Socket;
  /** Bytes read so far (none until read()/readSlowly()). */
  readonly received: number;
  /** When the server closed the connection (performance.now()), null while open. */
  readonly closedAt: number | null;
  /** Reads at most `bytesPerSecond` for `ms`, then stops reading again. */
  readSlowly(bytesPerSecond: number, ms: number): Promise<void>;
  /** Reads everything that is left at full speed until the connection closes (or timeoutMs). */
  drain(timeoutMs: number): Promise<{ received: number; closed: boolean }>;
}

/** Sends `GET path` and does not read the response: after a few KiB, the kernel buffers fill up. */
export async function openStalledDownload(port: number, path: string): Promise<StalledDownload> {
  const socket = await connect(port);
  socket.pause();
  let received = 0;
  let closedAt: number | null = null;
  /** Bytes we may still take before pausing again (readSlowly); Infinity once draining. */
  let budget = 0;
  socket.on('data', (d: Buffer) => {
    received += d.length;
    budget -= d.length;
    if (budget <= 0) socket.pause();
  });
  socket.on('error', () => {});
  socket.on('close', () => (closedAt ??= performance.now()));
  socket.on('end', () => (closedAt ??= performance.now()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: abuse\r\n\r\n`);
  return {
    socket,
    get received() {
      return received;
    },
    get closedAt() {
      return closedAt;
    },
    async readSlowly(bytesPerSecond, ms) {
      const TICK_MS = 50;
      const until = performance.now() + ms;
      while (performance.now() < until && closedAt === null) {
        budget = Math.min(budget, 0) + (bytesPerSecond * TICK_MS) / 1000; // an overshoot is paid back
        if (budget > 0) socket.resume();
        await sleep(TICK_MS);
      }
      budget = 0;
      socket.pause();
    },
    async drain(timeoutMs) {
      budget = Infinity;
      socket.resume();
      const until = performance.now() + timeoutMs;
      while (closedAt === null && performance.now() < until) await sleep(20);
      return { received, closed: closedAt !== null };
    },
  };
}
