import type net from 'node:net';
import type { Deadlines } from './deadlines.js';
import { ChunkedDecoder } from './http1/chunked.js';
import { FramingError } from './http1/framing-error.js';
import { findHeadEnd } from './http1/head-scan.js';
import type { RequestHead } from './http1/request-head.js';
import { BodyKind, parseResponseHead, type ResponseHead } from './http1/response-head.js';
import { clientResponseHead, upstreamRequestHead } from './http1/rewrite.js';
import { CONTINUE_100, errorResponse } from './responses.js';
import type { Dispatcher, EngineOptions } from './types.js';
import { owned } from './read-arena.js';
import { decideNoNodeLeft, decideRetry, type Failure } from './retry-policy.js';
import type { NodePool, UpstreamConn, UpstreamOwner } from './upstream.js';

/** Shared by every exchange of one engine. */
export interface EngineContext {
  readonly options: EngineOptions;
  readonly dispatcher: Dispatcher;
  readonly deadlines: Deadlines;
  /** Indexed like the dispatcher's node indices. */
  pools: NodePool[];
}

/** The client connection as an exchange sees it. */
export interface ClientSide {
  readonly socket: net.Socket;
  readonly clientIp: string;
  /** forwardedFields(clientIp), built once per client address. */
  readonly forwardedFields: string;
  /** The connection closes after this exchange (shutdown): the response must say Connection: close. */
  readonly closesAfterExchange: boolean;
  /** The exchange is over; the client connection may read the next request (or must close). */
  exchangeDone(closeAfter: boolean): void;
}

/**
 * A body up to this size is copied behind its head and sent with one write (one syscall); a larger
 * one goes out with the head in one writev: copying 16 KiB cost more than the second iovec (bench).
 */
const COPY_WITH_HEAD = 2048;

/** A response head from a node larger than this is refused (502). */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** 1xx responses accepted before the final one. */
const MAX_INTERIM = 16;

/**
 * One request and its response: reads (and, when small enough, keeps) the request body, walks the
 * function's node ranking until a node takes the request, streams the response back. What is safe to
 * retry is the retry policy's decision (retry-policy.ts); the exchange records the facts it needs and
 * carries its decisions out.
 */
export class Exchange implements UpstreamOwner {
  /** The client connection routes its bytes here while this is true. */
  wantsBody = false;
  status = 0;
  private readonly startedAt: number;
  private readonly headBuf: Buffer;

  // Request body.
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private bodyComplete = false;
  private replayable = true;
  /** The body goes to the node as it arrives (too big to keep for a replay). */
  private streaming = false;
  private lengthLeft = 0;
  private requestDecoder: ChunkedDecoder | null = null;
  private clientPausedForNode = false;

  // Routing.
  private readonly ranking: readonly number[];
  private rankPos = 0;
  private node = -1;
  private attempts = 0;
  private dispatched = false;
  private lastFailure = '';
  private timedOutOnce = false;

  // Current attempt.
  private conn: UpstreamConn | null = null;
  private requestSent = false;
  private responseBytes = false;

  // Response.
  private res: ResponseHead | null = null;
  private resPending: Buffer | null = null;
  private resScan = 0;
  private resLeft = 0;
  private resDecoder: ChunkedDecoder | null = null;
  private dechunk = false;
  /** The response head, held back to go out in one write with the first body bytes. */
  private headOut: Buffer | null = null;
  /** Free bytes reserved behind a rebuilt headOut. */
  private headRoom = 0;
  private interimCount = 0;
  private responseStarted = false;
  private closeAfter = false;
  private nodeOverran = false;
  private nodePausedForClient = false;
  private finished = false;
  private cut = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly client: ClientSide,
    readonly head: RequestHead,
    headBuf: Buffer,
  ) {
    this.startedAt = ctx.dispatcher.timesRequests ? performance.now() : 0;
    // Kept for every attempt (a retry rebuilds the node's head from it): a view of the read arena is copied.
    this.headBuf = owned(headBuf.subarray(0, head.headEnd));
    this.ranking = ctx.dispatcher.ranking(head);
  }

  /** Begins the exchange. The caller then feeds any bytes that followed the head to onClientBody. */
  start(): void {
    const head = this.head;
    const hasBody = head.chunked || head.contentLength > 0;
    if (!hasBody) {
      this.bodyComplete = true;
      this.dispatch();
      return;
    }
    this.wantsBody = true;
    if (head.expectContinue && head.version === 11) this.client.socket.write(CONTINUE_100);
    if (head.chunked) this.requestDecoder = new ChunkedDecoder(this.ctx.options.maxHeaderSize);
    else this.lengthLeft = head.contentLength;
    if (!head.chunked && head.contentLength > this.ctx.options.maxReplayBody) this.startStreaming();
  }

  /** Request body bytes from the client; returns how many belonged to this request. */
  onClientBody(chunk: Buffer): number {
    let used: number;
    if (this.requestDecoder !== null) {
      try {
        used = this.requestDecoder.feed(chunk, 0, chunk.length);
      } catch (err) {
        this.rejectBody(err as FramingError);
        return chunk.length;
      }
      if (this.requestDecoder.done) this.bodyComplete = true;
    } else {
      used = chunk.length < this.lengthLeft ? chunk.length : this.lengthLeft;
      this.lengthLeft -= used;
      if (this.lengthLeft === 0) this.bodyComplete = true;
    }
    if (this.bodyComplete) this.wantsBody = false;
    const piece = used === chunk.length ? chunk : chunk.subarray(0, used);
    if (this.streaming && this.requestSent && this.conn !== null) {
      if (this.res === null) this.conn.deadline = this.waitDeadline();
      if (used > 0 && !this.conn.socket.write(owned(piece))) {
        this.client.socket.pause();
        this.clientPausedForNode = true;
      }
    } else if (used > 0) {
      this.body.push(owned(piece));
      this.bodyBytes += used;
      if (!this.streaming && this.bodyBytes > this.ctx.options.maxReplayBody) this.startStreaming();
    }
    if (this.bodyComplete && !this.dispatched) this.dispatch();
    return used;
  }

  /** The body is too big to keep: send it through as it comes; no replay once bytes went out. */
  private startStreaming(): void {
    this.streaming = true;
    this.replayable = false;
    this.client.socket.pause(); // until a node is connected
    this.clientPausedForNode = true;
    this.dispatch();
  }

  /** `sameNodeFresh`: the retry policy sends the request to the same node again, on a new connection. */
  private dispatch(sameNodeFresh = false): void {
    this.dispatched = true;
    const dispatcher = this.ctx.dispatcher;
    let index = -1;
    if (sameNodeFresh) {
      index = this.node;
    } else {
      while (this.rankPos < this.ranking.length) {
        const candidate = this.ranking[this.rankPos++];
        if (dispatcher.isUp(candidate)) {
          index = candidate;
          break;
        }
      }
    }
    if (index === -1) {
      this.noNodeLeft();
      return;
    }
    this.node = index;
    this.attempts++;
    this.requestSent = false;
    this.responseBytes = false;
    const conn = this.ctx.pools[index].acquire(this, sameNodeFresh);
    this.conn = conn;
    if (conn.connected) this.send(conn);
  }

  private noNodeLeft(): void {
    const dispatcher = this.ctx.dispatcher;
    let anyNodeUp = false;
    for (let i = 0; i < this.ranking.length && !anyNodeUp; i++) anyNodeUp = dispatcher.isUp(this.ranking[i]);
    const answer = decideNoNodeLeft({ anyNodeUp, timedOutBefore: this.timedOutOnce, lastFailure: this.lastFailure });
    this.respond(answer.status, answer.message);
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    if (conn === this.conn) this.send(conn);
  }

  private send(conn: UpstreamConn): void {
    const pool = this.ctx.pools[this.node];
    const ep = pool.endpoint;
    const head = upstreamRequestHead(this.headBuf, this.head, {
      basePath: ep.basePath,
      nodeAuthority: pool.authority,
      clientIp: this.client.clientIp,
      forwardedFields: this.client.forwardedFields,
    });
    conn.deadline = this.waitDeadline();
    const socket = conn.socket;
    this.requestSent = true;
    const body = this.body;
    if (body.length === 0) {
      socket.write(head);
    } else if (this.bodyBytes <= COPY_WITH_HEAD) {
      body.unshift(head);
      socket.write(Buffer.concat(body, head.length + this.bodyBytes));
      body.shift();
    } else {
      socket.cork();
      socket.write(head);
      for (let i = 0; i < body.length; i++) socket.write(body[i]);
      socket.uncork();
    }
    if (this.streaming) {
      this.body = [];
      this.resumeClient();
    }
  }

  /** While the body still streams in, the node may stay silent as long as the client keeps sending. */
  private waitDeadline(): number {
    const o = this.ctx.options;
    return this.ctx.deadlines.now + (this.bodyComplete ? o.responseTimeout : o.idleTimeout);
  }

  onUpstreamDrain(): void {
    if (this.requestSent) this.resumeClient();
  }

  /** Lets the client's bytes flow again after we paused it for the node (connecting, or backpressure). */
  private resumeClient(): void {
    if (this.clientPausedForNode) {
      this.clientPausedForNode = false;
      this.client.socket.resume();
    }
  }

  onUpstreamData(chunk: Buffer): void {
    this.responseBytes = true;
    const conn = this.conn!;
    conn.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
    if (this.res === null) this.readResponseHead(chunk);
    else this.forwardBody(chunk, 0);
  }

  private readResponseHead(chunk: Buffer): void {
    let buf = this.resPending === null ? chunk : Buffer.concat([this.resPending, chunk]);
    let res: ResponseHead;
    let end: number;
    try {
      for (;;) {
        end = findHeadEnd(buf, this.resScan);
        if (end === -1) {
          if (buf.length > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
          this.resPending = owned(buf);
          this.resScan = buf.length;
          return;
        }
        if (end > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
        res = parseResponseHead(buf, end, this.head.method === 'HEAD');
        this.resScan = 0;
        if (res.status >= 200) break;
        if (++this.interimCount > MAX_INTERIM) throw new FramingError(502, 'too many interim responses from node');
        // Interim response: 100 is ours to send (we answered Expect already); others (103) pass to 1.1 clients.
        // Hop-by-hop fields go, as in a final response.
        if (res.status !== 100 && this.head.version === 11) this.client.socket.write(owned(clientResponseHead(buf, res, false, '')));
        buf = buf.subarray(end);
        this.resPending = null;
        if (buf.length === 0) return;
      }
    } catch (err) {
      this.resPending = null;
      this.nodeBroke(err instanceof FramingError ? err.message : 'bad response from node');
      return;
    }
    this.resPending = null;
    this.res = res;
    this.status = res.status;

    const head = this.head;
    let closeAfter = !head.keepAlive || !this.bodyComplete || this.client.closesAfterExchange;
    switch (res.bodyKind) {
      case BodyKind.Length:
        this.resLeft = res.contentLength;
        break;
      case BodyKind.Chunked:
        if (head.version === 10) {
          this.dechunk = true;
          closeAfter = true;
        }
        this.resDecoder = new ChunkedDecoder(MAX_RESPONSE_HEAD, this.dechunk);
        break;
      case BodyKind.Close:
        closeAfter = true;
        break;
    }
    this.closeAfter = closeAfter;
    const extra = closeAfter ? 'Connection: close\r\n' : head.version === 10 ? 'Connection: keep-alive\r\n' : '';
    this.responseStarted = true;
    // The head goes out with the first body bytes (see write), so a small response is one syscall.
    // RFC 9112 §6.1: never send Transfer-Encoding to an HTTP/1.0 client (bodies are de-chunked for it).
    const room = buf.length - end < COPY_WITH_HEAD ? buf.length - end : COPY_WITH_HEAD;
    const out = clientResponseHead(buf, res, head.version === 11, extra, room);
    this.headOut = out;
    this.headRoom = out.buffer === buf.buffer ? 0 : room; // the node's own bytes have no room of ours
    this.forwardBody(buf, end);
    this.flushHead();
  }

  private flushHead(): void {
    const head = this.headOut;
    if (head !== null) {
      this.headOut = null;
      this.write(head);
    }
  }

  private write(data: Buffer): void {
    const head = this.headOut;
    const socket = this.client.socket;
    if (head !== null) {
      this.headOut = null;
      if (head.buffer === data.buffer && head.byteOffset + head.length === data.byteOffset) {
        // The node's head was forwarded untouched and the body follows it in the same read: one slice.
        data = Buffer.from(data.buffer, head.byteOffset, head.length + data.length);
      } else if (data.length <= this.headRoom) {
        // A rebuilt head has room reserved behind it: the body joins it with one copy.
        const joined = Buffer.from(head.buffer, head.byteOffset, head.length + data.length);
        data.copy(joined, head.length);
        data = joined;
      } else if (data.length <= COPY_WITH_HEAD) {
        data = Buffer.concat([head, data], head.length + data.length);
      } else {
        // Larger bodies: two buffers in one writev rather than copying the body behind the head.
        socket.cork();
        socket.write(owned(head));
        const ok = socket.write(owned(data));
        socket.uncork();
        if (!ok && !this.nodePausedForClient && this.conn !== null) {
          this.nodePausedForClient = true;
          this.conn.socket.pause();
        }
        return;
      }
    }
    // Node bytes are views of the shared read buffer: copied unless a join above already made our own.
    if (!socket.write(owned(data)) && !this.nodePausedForClient && this.conn !== null) {
      this.nodePausedForClient = true;
      this.conn.socket.pause();
    }
  }

  /** The client drained its write buffer: let the node's bytes flow again. */
  onClientDrain(): void {
    if (this.nodePausedForClient) {
      this.nodePausedForClient = false;
      this.conn?.socket.resume();
    }
  }

  private forwardBody(buf: Buffer, start: number): void {
    const res = this.res!;
    const n = buf.length - start;
    switch (res.bodyKind) {
      case BodyKind.None:
        if (n > 0) this.nodeOverran = true;
        this.complete();
        return;
      case BodyKind.Length: {
        const take = n < this.resLeft ? n : this.resLeft;
        if (take > 0) this.write(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
        this.resLeft -= take;
        if (take < n) this.nodeOverran = true;
        if (this.resLeft === 0) this.complete();
        return;
      }
      case BodyKind.Chunked: {
        const decoder = this.resDecoder!;
        let used: number;
        try {
          used = decoder.feed(buf, start, buf.length);
        } catch (err) {
          this.nodeBroke((err as Error).message);
          return;
        }
        if (this.dechunk) {
          const spans = decoder.spans;
          for (let i = 0; i < spans.length; i += 2) this.write(buf.subarray(spans[i], spans[i + 1]));
        } else if (used > start) {
          this.write(start === 0 && used === buf.length ? buf : buf.subarray(start, used));
        }
        if (decoder.done) {
          if (used < buf.length) this.nodeOverran = true;
          this.complete();
        }
        return;
      }
      case BodyKind.Close:
        if (n > 0) this.write(start === 0 ? buf : buf.subarray(start));
        return;
    }
  }

  /** The response is complete: the node connection goes back to the pool if it can carry another. */
  private complete(): void {
    this.flushHead();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.owner = null;
      if (this.nodePausedForClient) conn.socket.resume();
      const reusable = this.res!.reusable && this.bodyComplete && !this.nodeOverran;
      if (reusable) this.ctx.pools[this.node].release(conn);
      else conn.destroy();
    }
    this.finish(this.closeAfter);
  }

  onUpstreamGone(conn: UpstreamConn, reason: string, ended: boolean): void {
    if (conn !== this.conn) return;
    if (ended && this.res !== null && this.res.bodyKind === BodyKind.Close) {
      this.complete(); // a close-delimited body ends here
      return;
    }
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

  onNodeDown(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    const failure = conn.connected && this.requestSent ? 'node-down-after-send' : 'node-down-before-send';
    this.attemptFailed(failure, 'node taken out while waiting');
  }

  /** The node's response cannot be trusted or finished. */
  private nodeBroke(reason: string): void {
    this.attemptFailed('bad-response', reason);
  }

  /** Asks the retry policy what to do about the current attempt, records what it must remember, and does it. */
  private attemptFailed(failure: Failure, reason: string): void {
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
    });
    if (decision.kind === 'wait') return;
    if (failure === 'response-timeout') this.timedOutOnce = true;
    this.lastFailure = reason;
    this.dropConn();
    if (decision.markNodeDown) {
      this.ctx.dispatcher.nodeFailed(this.node, reason);
      this.ctx.pools[this.node].closeIdle();
    }
    switch (decision.kind) {
      case 'same-node-fresh':
        this.dispatch(true);
        return;
      case 'next-node':
        this.dispatch();
        return;
      case 'fail':
        this.respond(decision.status, decision.message);
        return;
      case 'cut-client':
        this.abortClient();
        return;
    }
  }

  private dropConn(): UpstreamConn {
    const conn = this.conn!;
    this.conn = null;
    conn.destroy();
    this.res = null;
    this.resPending = null;
    this.resScan = 0;
    this.nodePausedForClient = false;
    return conn;
  }

  /** An answer of our own (error or 503): the request never got a usable response from a node. */
  private respond(status: number, message: string): void {
    if (this.conn !== null) this.dropConn();
    this.status = status;
    const close = !this.head.keepAlive || !this.bodyComplete || this.client.closesAfterExchange;
    this.resumeClient();
    this.wantsBody = false;
    this.client.socket.write(errorResponse(status, message, close));
    this.finish(close);
  }

  /** The request body itself is malformed (chunked framing). */
  private rejectBody(err: FramingError): void {
    this.lastFailure = err.message;
    this.wantsBody = false;
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
    this.client.socket.destroy();
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
    this.wantsBody = false;
    this.resumeClient();
    this.ctx.dispatcher.finished(this.head, this.node, this.status, this.attempts, this.startedAt === 0 ? 0 : performance.now() - this.startedAt, this.cut);
    this.client.exchangeDone(closeAfter);
  }
}
