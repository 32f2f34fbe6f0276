/**
 * A steady mixed load for fault tests and soaks: `concurrency` keep-alive clients loop without pause over
 * GETs of many function paths and POSTs with bodies (1-64 KiB, and now and then exactly 1 MiB, the
 * default --max-replay-body), each request with its own x-request-id (`g<n>` / `p<n>`), a share of them
 * asking the test backend for a 1-20 ms delay so that requests are in flight when a fault hits.
 *
 * Optionally also an open-loop part: `openRate` more requests per second of the same mix, whatever the
 * answers (at most `openMax` outstanding). A node that holds requests (hangs, is slow) soon holds every
 * closed-loop client; the open-loop requests still arrive, so one can see what fnlb does with them.
 *
 * Every request is recorded (start/end on performance.now(), status, X-Node of the answer) and checked:
 * ok = 200 and the backend's info JSON echoes the method, the path and (POST) the body's length and sha256.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import type { BackendInfo } from '../nodes/backend.js';

export interface Answer {
  status: number;
  /** X-Node of the answer (absent on fnlb's own error answers). */
  node: string | undefined;
  body: Buffer;
}

/** One HTTP request through `agent`; rejects on connection errors and after timeoutMs without an answer. */
export function send(
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  id: string,
  body?: Buffer,
  timeoutMs = 30_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'x-request-id': id };
    if (body) headers['content-type'] = 'application/octet-stream';
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, node: res.headers['x-node'] as string | undefined, body: Buffer.concat(parts) }),
      );
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.end(body);
  });
}

export interface Body {
  data: Buffer;
  sha: string;
}

/** `count` random bodies of minBytes..maxBytes, hashed once (hashing per request would eat the CPU the proxy needs). */
export function randomBodies(count: number, minBytes: number, maxBytes: number): Body[] {
  return Array.from({ length: count }, () => {
    const data = randomBytes(randomInt(minBytes, maxBytes + 1));
    return { data, sha: createHash('sha256').update(data).digest('hex') };
  });
}

export type Method = 'GET' | 'POST';

export interface RequestRecord {
  id: string;
  method: Method;
  /** Function path (the routing key), without the query. */
  fn: string;
  /** performance.now() when sent and when answered (or failed). */
  start: number;
  end: number;
  /** 0 = no HTTP answer (connection error). */
  status: number;
  node: string | undefined;
  ok: boolean;
  /** Why it is not ok: the status, 'conn-error' or 'bad-body', with a detail. */
  cause?: string;
  detail?: string;
}

export interface MixedLoadOptions {
  /** fnlb's port on 127.0.0.1. */
  port: number;
  concurrency: number;
  functions: readonly string[];
  /** Share of POSTs (default 0.4). */
  postShare?: number;
  /** Share of requests asking for ?delay=1..20 (default 0.25). */
  delayShare?: number;
  /** Share of POSTs with the 1 MiB body (default 0.02). */
  bigBodyShare?: number;
  /** Client-side limit per request (default 30 s). */
  timeoutMs?: number;
  /** A closed-loop client waits this long after a failed request (default 0), so that an instant error (all nodes down) is not a busy loop. */
  failurePauseMs?: number;
  /** Open-loop requests per second (default 0: none). */
  openRate?: number;
  /** Most open-loop requests outstanding at once (default 32); none is sent while at the limit. */
  openMax?: number;
}

export const ONE_MIB = 1024 * 1024;

/** `/r/app<i mod 20>/fn<i>` for i < n. */
export function functionPaths(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `/r/app${i % 20}/fn${i}`);
}

export class MixedLoad {
  readonly records: RequestRecord[] = [];
  private readonly agent: http.Agent;
  private readonly small = randomBodies(32, 1024, 64 * 1024);
  private readonly big = randomBodies(1, ONE_MIB, ONE_MIB)[0]!;
  private running = false;
  private clients: Promise<void>[] = [];
  private seq = 0;

  constructor(private readonly opts: MixedLoadOptions) {
    const open = (opts.openRate ?? 0) > 0 ? (opts.openMax ?? 32) : 0;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency + open });
  }

  start(): void {
    this.running = true;
    this.clients = Array.from({ length: this.opts.concurrency }, async () => {
      while (this.running) {
        if (!(await this.one()) && this.opts.failurePauseMs) await new Promise((r) => setTimeout(r, this.opts.failurePauseMs));
      }
    });
    if ((this.opts.openRate ?? 0) > 0) this.clients.push(this.openLoop(this.opts.openRate!, this.opts.openMax ?? 32));
  }

  /** Stops the clients after their current request and waits for them (and for open-loop requests outstanding). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.clients);
    this.agent.destroy();
  }

  private async openLoop(rate: number, max: number): Promise<void> {
    const every = 1000 / rate;
    const outstanding = new Set<Promise<void>>();
    let next = performance.now();
    while (this.running) {
      if (outstanding.size < max) {
        const p: Promise<void> = this.one().then(() => void outstanding.delete(p));
        outstanding.add(p);
      }
      next += every;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    await Promise.all(outstanding);
  }

  /** Sends one request of the mix and records it; resolves with its ok. */
  private async one(): Promise<boolean> {
    const o = this.opts;
    const n = this.seq++;
    const method: Method = Math.random() < (o.postShare ?? 0.4) ? 'POST' : 'GET';
    const fn = o.functions[randomInt(o.functions.length)]!;
    const path = Math.random() < (o.delayShare ?? 0.25) ? `${fn}?delay=${randomInt(1, 21)}` : fn;
    const body =
      method === 'POST' ? (Math.random() < (o.bigBodyShare ?? 0.02) ? this.big : this.small[randomInt(this.small.length)]!) : undefined;
    const rec: RequestRecord = {
      id: (method === 'POST' ? 'p' : 'g') + n,
      method,
      fn,
      start: performance.now(),
      end: 0,
      status: 0,
      node: undefined,
      ok: false,
    };
    try {
      const a = await send(this.agent, o.port, method, path, rec.id, body?.data, o.timeoutMs);
      rec.status = a.status;
      rec.node = a.node;
      if (a.status !== 200) {
        rec.cause = String(a.status);
        rec.detail = a.body.toString('utf8', 0, Math.min(a.body.length, 200));
      } else if (!echoes(a.body, method, path, body)) {
        rec.cause = 'bad-body';
        rec.detail = a.body.toString('utf8', 0, Math.min(a.body.length, 200));
      } else rec.ok = true;
    } catch (err) {
      rec.cause = 'conn-error';
      rec.detail = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`;
    }
    rec.end = performance.now();
    this.records.push(rec);
    return rec.ok;
  }
}

/** The backend's info JSON says it got exactly this request. */
function echoes(answer: Buffer, method: Method, path: string, body: Body | undefined): boolean {
  let info: Partial<BackendInfo> | undefined;
  try {
    info = JSON.parse(answer.toString('utf8')) as Partial<BackendInfo>;
  } catch {
    return false;
  }
  if (info.method !== method || info.url !== path) return false;
  return body ? info.bodySha256 === body.sha && info.bodyLength === body.data.length : info.bodyLength === 0;
}
