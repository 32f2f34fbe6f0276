import { performance } from 'node:perf_hooks';
import type { Deadlines } from './deadlines.js';
import { FramingError } from './http1/framing-error.js';
import type { RequestHead } from './http1/request-head.js';
import { ResponseFramer, type ResponseSink } from './http1/response-framer.js';
import { BodyKind, type NotExecutedMatch, type ResponseHead } from './http1/response-head.js';
import {
  clientResponseHead,
  copyRange,
  rebuiltResponseHead,
  responseHeadUnchanged,
  upstreamRequestHead,
  withBasePath,
  type ForwardContext,
} from './http1/rewrite.js';
import { CONTINUE_100, errorResponse } from './responses.js';
import type { Dispatcher, EngineOptions, RequestOutcome } from './types.js';
import { nextRequestNumber, requestIdText } from './request-id.js';
import { owned } from './read-arena.js';
import type { RetryBudget } from './retry-budget.js';
import { decideNoNodeLeft, decideRetry, nothingReachedNode, type Failure } from './retry-policy.js';
import { pickWithRoom, type NodeLoads } from './node-loads.js';
import type { NodePool, UpstreamConn, UpstreamOwner } from './upstream.js';
import { Buffer } from 'node:buffer';

/** Shared by every exchange of one engine. */
export interface EngineContext {
  readonly options: EngineOptions;
  readonly dispatcher: Dispatcher;
  readonly deadlines: Deadlines;
  /** Indexed like the dispatcher's node indices. */
  pools: NodePool[];
  /** Requests in flight per node, when bounded loads are on (--balance-factor); null when off. */
  readonly loads: NodeLoads | null;
  /** Every request counts; every re-send of a request that may have reached a node asks it first. */
  readonly budget: RetryBudget;
  /** --not-executed-header, as the response parser compares it (undefined: off). */
  readonly marker: NotExecutedMatch | undefined;
  /** Nodes' XXX-FXLB-WAIT is read, stripped and reported to routing (wait-aware spill is on). */
  readonly readWait: boolean;
  /** Requests in flight per node, always counted (metrics, admin API); grown when nodes join. */
  inFlight: Int32Array;
  /** "<--request-id-header>: " as sent to nodes, in bytes; null when off. */
  readonly requestIdName: Uint8Array | null;
}

/** The client connection as an exchange sees it: the exchange asks, the connection owns the socket. */
export interface ClientSide {
  readonly clientIp: string;
  /** forwardedFields(clientIp) in bytes, built once per client address. */
  readonly forwardedBytes: Uint8Array;
  /** The connection closes after this exchange (shutdown): the response must say Connection: close. */
  readonly closesAfterExchange: boolean;
  /**
   * Sends bytes to the client. They may be a view of the read arena: what the kernel does not take at
   * once is copied. False when its buffer is full (the exchange then hears onClientDrain).
   */
  send(data: Buffer): boolean;
  /** As send, for bytes the exchange made (never the read arena): skips the check. */
  sendOwned(data: Buffer): boolean;
  /** Two buffers in one writev; as send. */
  sendPair(first: Buffer, second: Buffer): boolean;
  /** Stop reading the client (its body waits for the node) until resumeForNode. */
  pauseForNode(): void;
  resumeForNode(): void;
  /** Close the client connection at once: it sees a response cut short. */
  cut(): void;
  /** The exchange is over; the client connection may read the next request (or must close). */
  exchangeDone(closeAfter: boolean): void;
}

/** A failure as the reason of fnlb's own answer (access log, metrics). */
const FAILURE_REASON: Readonly<Record<Failure, string>> = {
  'connect-refused': 'connect refused',
  'connect-timeout': 'connect timeout',
  'closed-before-send': 'closed before send',
  'reset-after-send': 'reset by node',
  'closed-after-send': 'closed by node',
  'node-down-before-send': 'node taken out',
  'node-down-after-send': 'node taken out',
  'node-silent-after-send': 'node taken out',
  'response-timeout': 'response timeout',
  'bad-response': 'bad response',
  'not-executed': 'not executed',
};

/** buf[start, end): `buf` itself when that is all of it (a view is a typed array to build, and a `.buffer` read). */
function part(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
}

/** What upstreamRequestHead needs besides the head: one object, filled for each send (read during the call only). */
const FORWARD: ForwardContext = {
  basePath: '',
  nodeAuthority: '',
  clientIp: '',
  forwardedBytes: undefined,
  requestIdName: undefined,
  requestNumber: 0,
};

/**
 * A body up to this size is copied behind its head and sent with one write (one syscall); a larger
 * one goes out with the head in one writev: copying 16 KiB cost more than the second iovec (bench).
 */
const COPY_WITH_HEAD = 2048;

/**
 * One request and its response: reads (and, when small enough, keeps) the request body, walks the
 * function's node ranking until a node takes the request, streams the response back. What is safe to
 * retry is the retry policy's decision (retry-policy.ts); the exchange records the facts it needs and
 * carries its decisions out.
 */
export class Exchange implements UpstreamOwner, ResponseSink, RequestOutcome {
  // State. Invariants:
  // - `conn` and `framer` belong to the current attempt: both set by dispatch, both null between
  //   attempts and after the end; `res` is the current attempt's final head (null until it came).
  // - while `conn` is set, `requestSent` ⇒ it is connected; `responseStarted` ⇒ a head went (or is queued in `headOut`) to
  //   the client, so no error of our own and no retry can follow (only a cut).
  // - `streaming` ⇒ !`replayable` and `body` holds only bytes not yet sent; otherwise `body` holds the
  //   whole body received so far (`bodyBytes`), kept for a replay.
  // - `finished` is final: exchangeDone was called once, nothing of this exchange touches the client after.
  status = 0;
  // The outcome record the dispatcher reads in finished() (RequestOutcome): fields of the exchange itself.
  /** Request bytes from the client (head and body). */
  bytesIn: number;
  /** Response bytes queued for the client (head and body). */
  bytesOut = 0;
  ms = 0;
  cut = false;
  /** The number of the request id fnlb made for this request (request-id.ts); -1 when the client sent a valid one or ids are off. */
  private readonly requestNumber: number;
  /** Why fnlb answered itself, '' when the node answered. */
  reason = '';
  private readonly startedAt: number;
  /**
   * The head for the nodes, built once from the client's bytes while they are at hand (without a base
   * path: withBasePath adds a node's), or null when it depends on the node (no Host: the node's
   * authority goes in); `headBuf` then keeps the client's head, copied out of the read arena, to build
   * it for each attempt.
   */
  private readonly nodeHead: Buffer | null;
  private readonly headBuf: Buffer | null;

  // Request body.
  /** Null until the first body bytes (most requests have none). */
  private body: Buffer[] | null = null;
  private bodyBytes = 0;
  private bodyComplete = false;
  private replayable = true;
  /** The body goes to the node as it arrives (too big to keep for a replay). */
  private streaming = false;

  // Routing.
  private readonly ranking: readonly number[];
  /** Positions of the ranking before this one were tried (or were down when passed). */
  private rankPos = 0;
  /** Positions at or after rankPos tried out of order (bounded loads passed over a full node); rarely set. */
  private takenAhead: number[] | null = null;
  node = -1;
  /** The node whose in-flight count holds this exchange's current attempt, -1 if none. */
  private loadedNode = -1;
  attempts = 0;
  private dispatched = false;
  private lastFailure = '';
  /** The last attempt's failure, short ("connect refused"): the reason of our own answer. */
  private lastFailureKind = '';
  private timedOutOnce = false;
  /** The last attempt's node answered 503 or 429 "not executed": that status, else 0. */
  private refusedStatus = 0;

  // Current attempt.
  private conn: UpstreamConn | null = null;
  private requestSent = false;
  private responseBytes = false;

  // Response (of the current attempt).
  private framer: ResponseFramer | null = null;
  /** The final response head, once received. */
  private res: ResponseHead | null = null;
  /**
   * The response head, held back to go out in one write with the first body bytes: its first
   * `headLength` bytes. Either the buffer the node's head was read from (`headIsNodes`: sent
   * unchanged, valid during that read only), or a rebuilt head with free room behind it.
   */
  private headOut: Buffer | null = null;
  private headLength = 0;
  private headIsNodes = false;
  private responseStarted = false;
  private closeAfter = false;
  private finished = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly side: ClientSide,
    readonly head: RequestHead,
    headBuf: Buffer,
  ) {
    this.startedAt = ctx.dispatcher.timesRequests ? performance.now() : 0;
    this.ranking = ctx.dispatcher.ranking(head);
    ctx.budget.request(ctx.deadlines.now);
    this.bytesIn = head.headEnd;
    this.requestNumber = head.requestId !== undefined || ctx.requestIdName === null ? -1 : nextRequestNumber();
    if (head.hostStart !== -1 || head.authority !== undefined) {
      this.nodeHead = upstreamRequestHead(headBuf, head, this.forwardContext('', ''));
      this.headBuf = null;
    } else {
      this.nodeHead = null;
      // Kept for every attempt: a view of the read arena is copied.
      this.headBuf = owned(part(headBuf, 0, head.headEnd));
    }
  }

  /** What upstreamRequestHead needs besides the head (FORWARD, filled for this call). */
  private forwardContext(basePath: string, nodeAuthority: string): ForwardContext {
    const forward = FORWARD;
    forward.basePath = basePath;
    forward.nodeAuthority = nodeAuthority;
    forward.clientIp = this.side.clientIp;
    forward.forwardedBytes = this.side.forwardedBytes;
    forward.requestIdName = this.requestNumber === -1 ? undefined : this.ctx.requestIdName!;
    forward.requestNumber = this.requestNumber;
    return forward;
  }

  /** The client's valid request id, or the one fnlb made; '' when request ids are off. Text only when read (logs). */
  get requestId(): string {
    return this.head.requestId ?? (this.requestNumber === -1 ? '' : requestIdText(this.requestNumber));
  }

  // --- RequestOutcome: what finished() reads besides the fields above.

  get client(): string {
    return this.side.clientIp;
  }

  get method(): string {
    return this.head.method;
  }

  get target(): string {
    return this.head.target;
  }

  get owner(): number {
    return this.ranking.length === 0 ? -1 : this.ranking[0];
  }

  /** Begins the exchange; its body (if any) then arrives through onClientBody. */
  start(): void {
    const head = this.head;
    const hasBody = head.chunked || head.contentLength > 0;
    if (!hasBody) {
      this.bodyComplete = true;
      this.dispatch();
      return;
    }
    if (head.expectContinue && head.version === 11) {
      this.bytesOut += CONTINUE_100.length;
      this.side.send(CONTINUE_100);
    }
    if (!head.chunked && head.contentLength > this.ctx.options.maxReplayBody) this.startStreaming();
  }

  /** Request body bytes, as framed (a view of the read arena); `complete`: the body's last bytes. */
  onClientBody(piece: Buffer, complete: boolean): void {
    if (complete) this.bodyComplete = true;
    this.bytesIn += piece.length;
    const conn = this.conn;
    if (this.streaming && this.requestSent && conn !== null) {
      if (this.res === null) conn.expectBy(this.waitDeadline());
      if (!conn.send(piece)) this.side.pauseForNode();
    } else {
      (this.body ??= []).push(owned(piece));
      this.bodyBytes += piece.length;
      if (!this.streaming && this.bodyBytes > this.ctx.options.maxReplayBody) this.startStreaming();
    }
    if (this.bodyComplete && !this.dispatched) this.dispatch();
  }

  /** The body is too big to keep: send it through as it comes; no replay once bytes went out. */
  private startStreaming(): void {
    this.streaming = true;
    this.replayable = false;
    this.side.pauseForNode(); // until a node is connected
    this.dispatch();
  }

  /** `sameNodeFresh`: the retry policy sends the request to the same node again, on a new connection. */
  private dispatch(sameNodeFresh = false): void {
    this.dispatched = true;
    const index = sameNodeFresh ? this.node : this.ctx.loads === null ? this.nextNode() : this.nextNodeWithRoom(this.ctx.loads);
    if (index === -1) {
      this.noNodeLeft();
      return;
    }
    this.ctx.inFlight[index]++;
    this.ctx.loads?.start(index);
    this.loadedNode = index;
    this.node = index;
    this.attempts++;
    this.requestSent = false;
    this.responseBytes = false;
    const conn = this.ctx.pools[index].acquire(this, sameNodeFresh);
    const framer = (conn.responseFramer ??= new ResponseFramer(this.ctx.marker, this.ctx.readWait));
    framer.begin(this, this.head.method === 'HEAD', this.head.version === 10);
    this.framer = framer;
    this.conn = conn;
    if (conn.connected) this.send(conn);
  }

  /** The next node of the ranking that is up. */
  private nextNode(): number {
    const ranking = this.ranking;
    const dispatcher = this.ctx.dispatcher;
    while (this.rankPos < ranking.length) {
      const candidate = ranking[this.rankPos++];
      if (dispatcher.isUp(candidate)) return candidate;
    }
    return -1;
  }

  /**
   * Bounded loads: the next node of the ranking that is up and has room. A full node is passed over but
   * stays in the walk (a retry may still go there); when every node left is full, the first of them is
   * taken, as without bounds: load alone never refuses a request.
   */
  private nextNodeWithRoom(loads: NodeLoads): number {
    const dispatcher = this.ctx.dispatcher;
    const p = pickWithRoom(this.ranking, this.rankPos, this.takenAhead, dispatcher, loads, dispatcher.upCount());
    if (p === -1) return -1;
    // Position p is tried now; the walk's start moves past it only when it is the start.
    if (p === this.rankPos) this.rankPos++;
    else (this.takenAhead ??= []).push(p);
    return this.ranking[p];
  }

  /** The current attempt no longer counts toward its node's load (in flight, and bounded loads). */
  private unload(): void {
    const node = this.loadedNode;
    if (node !== -1) {
      this.ctx.inFlight[node]--;
      this.ctx.loads?.end(node);
      this.loadedNode = -1;
    }
  }

  /** `budgetSpent`: a retry was refused by the retry budget (nodes may be left, but none is tried). */
  private noNodeLeft(budgetSpent = false): void {
    const dispatcher = this.ctx.dispatcher;
    let anyNodeUp = false;
    for (let i = 0; i < this.ranking.length && !anyNodeUp; i++) anyNodeUp = dispatcher.isUp(this.ranking[i]);
    const answer = decideNoNodeLeft({
      anyNodeUp,
      timedOutBefore: this.timedOutOnce,
      lastFailure: this.lastFailure,
      refusedStatus: this.refusedStatus,
      budgetSpent,
    });
    this.reason = budgetSpent
      ? 'retry budget exhausted'
      : !anyNodeUp
        ? 'no node up'
        : this.refusedStatus !== 0
          ? 'not executed'
          : this.lastFailureKind || 'no node left';
    this.respond(answer.status, answer.message);
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    if (conn === this.conn) this.send(conn);
  }

  private send(conn: UpstreamConn): void {
    const pool = this.ctx.pools[this.node];
    const basePath = pool.endpoint.basePath;
    const nodeHead = this.nodeHead;
    const head =
      nodeHead === null
        ? upstreamRequestHead(this.headBuf!, this.head, this.forwardContext(basePath, pool.authority))
        : basePath === ''
          ? nodeHead
          : withBasePath(nodeHead, this.head, basePath);
    conn.expectBy(this.waitDeadline());
    this.requestSent = true;
    const body = this.body;
    if (body === null || body.length === 0) {
      conn.sendOwned(head);
    } else if (this.bodyBytes <= COPY_WITH_HEAD) {
      body.unshift(head);
      conn.sendOwned(Buffer.concat(body, head.length + this.bodyBytes));
      body.shift();
    } else {
      body.unshift(head);
      conn.sendAll(body);
      body.shift();
    }
    if (this.streaming) {
      this.body = null;
      this.side.resumeForNode();
    }
  }

  /** While the body still streams in, the node may stay silent as long as the client keeps sending. */
  private waitDeadline(): number {
    const o = this.ctx.options;
    return this.ctx.deadlines.now + (this.bodyComplete ? o.responseTimeout : o.idleTimeout);
  }

  onUpstreamDrain(): void {
    if (this.requestSent) this.side.resumeForNode();
  }

  onUpstreamData(chunk: Buffer): void {
    this.responseBytes = true;
    this.conn!.expectBy(this.ctx.deadlines.now + this.ctx.options.idleTimeout);
    try {
      this.framer!.push(chunk);
    } catch (err) {
      this.nodeBroke(err instanceof FramingError ? err.message : 'bad response from node');
      return;
    }
    this.flushHead(); // a head whose body bytes have not come yet goes out alone
  }

  // --- ResponseSink: what the response framer found in the node's bytes.

  onInterimHead(res: ResponseHead, buf: Buffer): void {
    // 100 is ours to send (we answered Expect already); others (103) pass to 1.1 clients. Hop-by-hop
    // fields go, as in a final response.
    if (res.status !== 100 && this.head.version === 11) {
      const interim = clientResponseHead(buf, res, false, '');
      this.bytesOut += interim.length;
      this.side.send(interim);
    }
  }

  onResponseHead(res: ResponseHead, buf: Buffer): void {
    if (res.waitMs >= 0) this.ctx.dispatcher.reportWait(this.head, this.node, res.waitMs);
    if (res.notExecuted) {
      // The node says it did not run the request: the policy may send it on. Then this response is
      // dropped (the framer reports nothing more of it) with its connection: destroyed rather than
      // drained, since its body may still be coming while the request moves on.
      const framer = this.framer!;
      if (this.attemptFailed('not-executed', `node did not run it (${res.status})`, res.status)) {
        framer.stop();
        return;
      }
    }
    this.res = res;
    this.status = res.status;
    const head = this.head;
    let closeAfter = !head.keepAlive || !this.bodyComplete || this.side.closesAfterExchange;
    // RFC 9112 §6.1: never send Transfer-Encoding to an HTTP/1.0 client (the framer de-chunks for it).
    if (res.bodyKind === BodyKind.Close || (res.bodyKind === BodyKind.Chunked && head.version === 10)) closeAfter = true;
    this.closeAfter = closeAfter;
    const extra = closeAfter ? 'Connection: close\r\n' : head.version === 10 ? 'Connection: keep-alive\r\n' : '';
    this.responseStarted = true;
    // The head goes out with the first body bytes (see sendWithHead), so a small response is one syscall.
    const end = res.headEnd;
    if (responseHeadUnchanged(res, extra)) {
      this.headOut = buf;
      this.headLength = end;
      this.headIsNodes = true;
    } else {
      // Room for the body bytes of this read, so that head and body leave in one buffer.
      const room = buf.length - end < COPY_WITH_HEAD ? buf.length - end : COPY_WITH_HEAD;
      const out = rebuiltResponseHead(buf, res, head.version === 11, extra, room);
      this.headOut = out;
      this.headLength = out.length - room;
      this.headIsNodes = false;
    }
  }

  onResponseBody(buf: Buffer, start: number, end: number): void {
    const head = this.headOut;
    if (head !== null) {
      this.sendWithHead(head, buf, start, end);
      return;
    }
    this.bytesOut += end - start;
    this.sendToClient(part(buf, start, end));
  }

  onResponseEnd(overran: boolean): void {
    this.complete(overran);
  }

  private flushHead(): void {
    const head = this.headOut;
    if (head !== null) {
      this.headOut = null;
      this.bytesOut += this.headLength;
      const bytes = part(head, 0, this.headLength);
      if (this.headIsNodes) this.sendToClient(bytes);
      else this.sendOwnedToClient(bytes);
    }
  }

  /** The first body bytes, buf[start, end): the held head goes out with them, in one buffer when it can. */
  private sendWithHead(head: Buffer, buf: Buffer, start: number, end: number): void {
    this.headOut = null;
    const headLength = this.headLength;
    const total = headLength + end - start;
    this.bytesOut += total;
    if (this.headIsNodes) {
      if (buf === head && start === headLength) {
        // The node's head, unchanged, and the body right behind it in the same read: one slice.
        this.sendToClient(part(buf, 0, total));
        return;
      }
    } else if (end - start <= head.length - headLength) {
      // A rebuilt head has room behind it for the body: one copy.
      copyRange(buf, start, end, head, headLength);
      this.sendOwnedToClient(part(head, 0, total));
      return;
    }
    const headOnly = part(head, 0, headLength);
    const body = part(buf, start, end);
    if (end - start <= COPY_WITH_HEAD) this.sendOwnedToClient(Buffer.concat([headOnly, body], total));
    // Larger bodies: two buffers in one writev rather than copying the body behind the head.
    else if (!this.side.sendPair(headOnly, body) && this.conn !== null) this.conn.pauseForClient();
  }

  private sendToClient(data: Buffer): void {
    if (!this.side.send(data) && this.conn !== null) this.conn.pauseForClient();
  }

  /** As sendToClient, for bytes made here (a rebuilt head, a copy): never the read arena. */
  private sendOwnedToClient(data: Buffer): void {
    if (!this.side.sendOwned(data) && this.conn !== null) this.conn.pauseForClient();
  }

  /** The client drained its write buffer: let the node's bytes flow again. */
  onClientDrain(): void {
    this.conn?.resumeForClient();
  }

  /** The response is complete: the node connection goes back to the pool if it can carry another. */
  private complete(overran: boolean): void {
    this.flushHead();
    const conn = this.conn;
    this.conn = null;
    this.framer = null;
    this.unload();
    if (conn !== null) {
      const reusable = this.res!.reusable && this.bodyComplete && !overran;
      if (reusable) this.ctx.pools[this.node].release(conn);
      else conn.destroy();
    }
    this.finish(this.closeAfter);
  }

  onUpstreamGone(conn: UpstreamConn, reason: string, ended: boolean): void {
    if (conn !== this.conn) return;
    if (ended && this.framer !== null && this.framer.endOfStream()) return; // a close-delimited body ended
    const failure: Failure = !conn.connected
      ? 'connect-refused'
      : !this.requestSent
        ? 'closed-before-send'
        : conn.resetByNode
          ? 'reset-after-send'
          : 'closed-after-send';
    this.attemptFailed(failure, reason);
  }

  onUpstreamDeadline(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    if (!conn.connected) this.attemptFailed('connect-timeout', 'connect timeout');
    else if (this.res === null) this.attemptFailed('response-timeout', 'response timeout');
    else this.nodeBroke('node stalled mid-response');
  }

  onNodeDown(conn: UpstreamConn, silent: boolean): void {
    if (conn !== this.conn) return;
    const failure = !(conn.connected && this.requestSent)
      ? 'node-down-before-send'
      : silent
        ? 'node-silent-after-send'
        : 'node-down-after-send';
    this.attemptFailed(failure, 'node taken out while waiting');
  }

  /** The node's response cannot be trusted or finished. */
  private nodeBroke(reason: string): void {
    this.attemptFailed('bad-response', reason);
  }

  /**
   * Asks the retry policy what to do about the current attempt, records what it must remember, and does
   * it. A re-send of a request that may have reached a node asks the retry budget first; refused, the
   * client gets the answer for no node left. `refusedStatus`: the status of a "not executed" answer.
   * False when the attempt goes on as it is (wait, or a response passed through).
   */
  private attemptFailed(failure: Failure, reason: string, refusedStatus = 0): boolean {
    const decision = decideRetry({
      failure,
      reason,
      idempotent: this.head.idempotent,
      bodyKept: this.replayable && this.bodyComplete,
      reusedConn: this.conn!.reused,
      retryOnReset: this.ctx.options.retryOnReset,
      timedOutBefore: this.timedOutOnce,
      responseBytes: this.responseBytes,
      responseStarted: this.responseStarted,
      idempotencyKey: this.head.idempotencyKey,
    });
    const kind = decision.kind;
    if (kind === 'wait' || kind === 'pass-through') return false;
    if (failure === 'response-timeout') this.timedOutOnce = true;
    this.lastFailure = reason;
    this.lastFailureKind = FAILURE_REASON[failure];
    this.refusedStatus = refusedStatus;
    // Silent: a connect that timed out, or failed without the host answering (unreachable).
    const silent = failure === 'connect-timeout' || (failure === 'connect-refused' && this.conn!.unanswered);
    this.dropConn();
    if (decision.markNodeDown) {
      this.ctx.dispatcher.nodeFailed(this.node, reason, silent);
      this.ctx.pools[this.node].closeIdle();
    }
    // Nothing reached the node: the retry costs the cluster nothing, the budget is not asked.
    if ((kind === 'same-node-fresh' || kind === 'next-node') && !nothingReachedNode(failure)) {
      const ctx = this.ctx;
      if (!ctx.budget.tryRetry(ctx.deadlines.now)) {
        this.noNodeLeft(true);
        return true;
      }
    }
    if (kind === 'same-node-fresh' || kind === 'next-node') this.ctx.dispatcher.retried(failure);
    switch (decision.kind) {
      case 'same-node-fresh':
        this.dispatch(true);
        return true;
      case 'next-node':
        this.dispatch();
        return true;
      case 'fail':
        this.reason = this.lastFailureKind;
        this.respond(decision.status, decision.message);
        return true;
      case 'cut-client':
        this.abortClient();
        return true;
    }
    return true;
  }

  private dropConn(): UpstreamConn {
    const conn = this.conn!;
    this.conn = null;
    this.unload();
    conn.destroy();
    this.res = null;
    this.framer = null;
    return conn;
  }

  /** An answer of our own (error or 503): the request never got a usable response from a node. */
  private respond(status: number, message: string): void {
    if (this.conn !== null) this.dropConn();
    this.status = status;
    const close = !this.head.keepAlive || !this.bodyComplete || this.side.closesAfterExchange;
    this.side.resumeForNode();
    const answer = errorResponse(status, message, close);
    this.bytesOut += answer.length;
    this.side.send(answer);
    this.finish(close);
  }

  /** The request body itself is malformed (chunked framing). */
  rejectBody(err: FramingError): void {
    this.lastFailure = err.message;
    this.reason = err.message;
    this.bodyComplete = false;
    if (this.responseStarted) {
      this.dropConn();
      this.abortClient();
    } else {
      this.respond(err.status, err.message);
    }
  }

  /** Too late for a clean error: cut the client connection so it sees the response was incomplete. */
  private abortClient(): void {
    this.cut = true;
    this.side.cut();
    this.finish(true);
  }

  /** The client went away mid-exchange. */
  clientGone(): void {
    if (this.finished) return;
    if (this.conn !== null) this.dropConn();
    if (this.status === 0 || !this.responseStarted) this.status = 499;
    else this.cut = true;
    this.finish(true);
  }

  private finish(closeAfter: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.unload();
    this.side.resumeForNode();
    if (this.startedAt !== 0) this.ms = performance.now() - this.startedAt;
    this.ctx.dispatcher.finished(this);
    this.side.exchangeDone(closeAfter);
  }
}
