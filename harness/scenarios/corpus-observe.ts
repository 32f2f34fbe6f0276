/**
 * Sending one corpus vector (harness/scenarios/smuggling-corpus.ts) to a proxy whose only node is a recording
 * raw backend, and judging what happened:
 *   - observe(): what the client got (status, close) and what reached the node during this vector;
 *   - assertExpected(): fnlb's exact contract for the vector (malformed.test.ts, corpus-compare.test.ts);
 *   - verdictOf(): a proxy-neutral verdict (rejected / normalized / smuggled / ambiguous / ...) used to
 *     compare fnlb with nginx and HAProxy.
 */
import assert from 'node:assert/strict';

import type { RawBackend } from '../nodes/raw-backend.js';
import { RawConnection } from '../client/raw-client.js';
import { parseRequests, type ParsedRequest, type ParsedResponse } from '../client/http1-reader.js';
import { expectedRequests, originForm, requestLineOf, type Vector } from './smuggling-corpus.js';
import { sleep } from '../wait.js';

export interface ObserveOptions {
  /** Longest wait for the final response(s) or the close. */
  responseTimeoutMs: number;
  /**
   * After the responses: how long to wait for the proxy to close the connection, when `awaitClose` says so:
   * 'always', 'never', or 'on-error' (no final response, or the last one is 4xx/5xx).
   */
  closeWaitMs: number;
  awaitClose: 'always' | 'never' | 'on-error';
  /** Time for bytes still on their way to the node before they are counted. */
  settleMs: number;
  /** Afterwards, close every node connection (so that the next vector starts on fresh ones). */
  isolate?: boolean;
}

export interface Observation {
  /** Everything the client received. */
  raw: Buffer;
  /** Final (non-1xx) responses the client received. */
  responses: ParsedResponse[];
  /** Status of the first final response (parsed, or read from a response cut short). */
  status: number | undefined;
  /** The proxy closed the client connection. */
  closed: boolean;
  timedOut: boolean;
  /** Bytes that reached the node during this vector, per node connection that got any. */
  fresh: Buffer[];
  nodeBytes: number;
  /** The complete requests those bytes parse as. */
  nodeRequests: ParsedRequest[];
  /** Requests the node's own parser counted during this vector. */
  nodeCounted: number;
  /** The node's bytes did not parse as whole requests (a framing error, or bytes left over). */
  leftover: boolean;
  /** A node connection that got bytes in this vector is still open after it (the proxy may reuse it). */
  nodeConnOpen: boolean;
  /**
   * What is left over at the node is a clean request head announcing a Content-Length longer than all the
   * client sent: the proxy forwards a body the client has not finished (proxy and node agree on the framing).
   */
  nodeAwaitsClient: boolean;
  /** The proxy connected to the trap listener (a host named in the request). */
  trapContacted: boolean;
}

export type Verdict = 'rejected' | 'normalized' | 'smuggled' | 'ambiguous' | 'aborted' | 'stalled';

/** Where to send: the proxy's port, its node, and the trap it must never contact. */
export interface ProxyUnderTest {
  port: number;
  node: RawBackend;
  trap: RawBackend;
}

function statusOf(raw: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 32).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

/** Number of requests the vector stands for: the forwarded count, or 1 for a request to reject. */
export function intendedRequests(v: Vector): number {
  return v.expect === 'forward' ? (v.requests ?? 1) : 1;
}

/** Sends the vector on a fresh connection and records what the client and the node saw. */
export async function observe(p: ProxyUnderTest, v: Vector, o: ObserveOptions): Promise<Observation> {
  const { node, trap } = p;
  const connsBefore = node.connections.length;
  const bytesBefore = node.connections.map((c) => c.received().length);
  const reqsBefore = node.requests.length;
  const trapBefore = trap.connections.length;

  const conn = await RawConnection.open(p.port);
  const finals = (): ParsedResponse[] => conn.responses.filter((x) => x.status >= 200);
  let timedOut = false;
  try {
    await conn.write(v.bytes);
  } catch {
    // the proxy may close while a huge head is still being written; what it answered is still readable
  }
  const want = intendedRequests(v);
  try {
    await conn.waitFor(() => finals().length >= want || conn.remoteClosed, o.responseTimeoutMs, `${want} responses`);
  } catch (err) {
    timedOut = /timed out/.test((err as Error).message);
  }
  const got = finals();
  const failed = got.length === 0 || got[got.length - 1]!.status >= 400;
  const waitClose = o.awaitClose === 'always' || (o.awaitClose === 'on-error' && failed);
  const closed = conn.remoteClosed || (waitClose && (await conn.waitForClose(o.closeWaitMs)));
  const raw = conn.raw;
  const responses = finals();
  conn.destroy();
  await sleep(o.settleMs); // anything still on its way to the node

  const fresh: Buffer[] = [];
  let nodeConnOpen = false;
  node.connections.forEach((c, i) => {
    const b = c.received().subarray(i < connsBefore ? bytesBefore[i]! : 0);
    if (b.length === 0) return;
    fresh.push(b);
    if (!c.closed && !c.ended) nodeConnOpen = true;
  });
  const parsed = fresh.map((b) => parseRequests(b));
  const sent = Buffer.byteLength(v.bytes, 'latin1');
  const obs: Observation = {
    raw,
    responses,
    status: responses[0]?.status ?? statusOf(raw),
    closed,
    timedOut,
    fresh,
    nodeBytes: fresh.reduce((n, b) => n + b.length, 0),
    nodeRequests: parsed.flatMap((x) => x.requests),
    nodeCounted: node.requests.length - reqsBefore,
    leftover: parsed.some((x, i) => x.error !== undefined || x.rest !== fresh[i]!.length),
    nodeConnOpen,
    nodeAwaitsClient: parsed.some((x, i) => awaitsClient(fresh[i]!, x, sent)),
    trapContacted: trap.connections.length !== trapBefore,
  };
  if (o.isolate) {
    for (const c of node.connections) if (!c.closed) c.socket.destroy();
    await sleep(20); // let the proxy see its pooled connections close before the next vector
  }
  return obs;
}

/** The unparsed rest of `b` is a complete, clean head whose Content-Length exceeds the `sent` bytes of the whole vector. */
function awaitsClient(b: Buffer, p: ReturnType<typeof parseRequests>, sent: number): boolean {
  if (p.error !== undefined || p.pendingMethod === undefined) return false;
  const rest = b.subarray(p.rest).toString('latin1');
  const head = rest.slice(0, rest.indexOf('\r\n\r\n') + 2);
  const m = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i.exec(head);
  return m !== null && Number(m[1]) > sent;
}

/** The client's status column: a status, or what happened instead. */
export function statusText(o: Observation): string {
  if (o.status !== undefined) return String(o.status);
  return o.timedOut ? 'timeout' : o.closed ? 'closed' : 'none';
}

const show = (b: Buffer | Buffer[], n = 300): string =>
  JSON.stringify((Array.isArray(b) ? Buffer.concat(b) : b).toString('latin1').slice(0, n));

/** The requests match what the vector says the node must see (method, origin-form target, body). */
function sameRequests(v: Vector, reqs: ParsedRequest[]): string | undefined {
  const want = expectedRequests(v);
  if (reqs.length !== want.length) return `node saw ${reqs.length} requests: ${reqs.map((q) => `${q.method} ${q.target}`).join(', ')}`;
  for (const [i, w] of want.entries()) {
    const r = reqs[i]!;
    const got = { method: r.method, target: originForm(r.target), body: r.body.toString('latin1') };
    if (got.method !== w.method || got.target !== w.target || got.body !== w.body) {
      return `request ${i + 1} at the node is ${JSON.stringify(got)}, expected ${JSON.stringify(w)}`;
    }
  }
  return undefined;
}

/**
 * fnlb's contract for one vector. Rejected: the exact status, one response with Connection: close, the
 * connection closed, and not one byte at the node. Forwarded: the node's 200 for each request, and the
 * node's bytes parse as exactly the expected requests with nothing left over. Never the trap.
 */
export function assertExpected(v: Vector, o: Observation): void {
  assert.equal(o.trapContacted, false, 'the proxy contacted a host named in the request');
  if (v.expect === 'forward') {
    const n = intendedRequests(v);
    assert.equal(o.status, 200, `expected the node's 200, got ${statusText(o)}: ${show(o.raw)}`);
    assert.equal(o.responses.length, n, 'responses');
    assert.ok(!o.leftover, `node got bytes that are not whole requests: ${show(o.fresh, 400)}`);
    assert.equal(
      o.nodeRequests.length,
      n,
      `node saw ${o.nodeRequests.length} requests: ${o.nodeRequests.map((q) => `${q.method} ${q.target}`).join(', ')}`,
    );
    assert.equal(o.nodeCounted, n);
    const diff = sameRequests(v, o.nodeRequests);
    assert.equal(diff, undefined, diff);
    v.check?.(o.nodeRequests);
  } else {
    const allowed: readonly number[] = typeof v.expect === 'number' ? [v.expect] : v.expect;
    const expected = allowed.join('|');
    assert.ok(o.status !== undefined && allowed.includes(o.status), `expected ${expected}, got ${statusText(o)}: ${show(o.raw)}`);
    assert.equal(o.responses.length, 1, 'exactly one response');
    assert.equal(o.responses[0]!.headers.connection?.toLowerCase(), 'close', 'Connection: close on a rejection');
    assert.ok(o.closed, 'the proxy closed the connection after rejecting');
    assert.equal(o.nodeBytes, 0, `node received ${o.nodeBytes} bytes for a rejected request: ${show(o.fresh)}`);
  }
}

/**
 * A forwarded request whose own framing another parser could read differently: Content-Length together with
 * Transfer-Encoding (RFC 9112 §6.1: the intermediary MUST remove the Content-Length), or either field twice.
 */
function framedTwice(r: ParsedRequest): boolean {
  const count = (name: string): number => r.rawHeaders.filter(([k]) => k.toLowerCase() === name).length;
  const cl = count('content-length');
  const te = count('transfer-encoding');
  return cl > 1 || te > 1 || (cl > 0 && te > 0);
}

/**
 * A proxy-neutral verdict:
 *  - rejected:   nothing reached the node, and the client got a 4xx/5xx or a close;
 *  - normalized: the node got exactly the requests the client sent, each one clean (whole, nothing left over)
 *                and equivalent (method, origin-form target, and for valid vectors the body); for a vector
 *                the RFC lets a proxy either reject or repair (e.g. CL+TE), the body the proxy chose counts;
 *  - smuggled:   the node got more requests than the client sent;
 *  - ambiguous:  anything else at the node: bytes that do not parse as whole requests on a connection the
 *                proxy keeps, fewer requests, a request that differs from the client's, or one framed both by
 *                Content-Length and Transfer-Encoding (or by either field twice);
 *  - aborted:    the node got part of a request, then the proxy closed that connection and answered 4xx/5xx;
 *  - stalled:    the client got no answer because the proxy waits for more of the client's bytes: nothing
 *                reached the node, or only a clean head announcing a body longer than the client sent.
 */
export function verdictOf(v: Vector, o: Observation): Verdict {
  const failed = o.status === undefined ? o.closed : o.status >= 400;
  if (o.nodeBytes === 0) return failed ? 'rejected' : 'stalled';
  const n = intendedRequests(v);
  if (o.nodeRequests.length > n) return 'smuggled';
  if (o.leftover) {
    if (o.nodeRequests.length === 0 && !o.nodeConnOpen && failed) return 'aborted';
    return o.nodeAwaitsClient && o.status === undefined ? 'stalled' : 'ambiguous';
  }
  if (o.nodeRequests.length < n || o.nodeRequests.some(framedTwice)) return 'ambiguous';
  if (v.expect === 'forward') return sameRequests(v, o.nodeRequests) === undefined ? 'normalized' : 'ambiguous';
  const line = requestLineOf(v);
  const r = o.nodeRequests[0]!;
  return r.method === line.method && originForm(r.target) === originForm(line.target) ? 'normalized' : 'ambiguous';
}
