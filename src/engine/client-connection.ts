import type { Timed } from './deadlines.js';
import { type ClientSide, type EngineContext, Exchange } from './exchange.js';
import type { FramingError } from './http1/framing-error.js';
import { RequestFramer, type RequestSink } from './http1/request-framer.js';
import type { RequestHead, RequestHeadOptions } from './http1/request-head.js';
import type { TcpSocket, TcpSocketEvents } from './tcp-socket.js';
import { forwardedFields } from './http1/rewrite.js';
import { errorResponse } from './responses.js';
import { Buffer } from 'node:buffer';

/** Bytes of a pipelined next request we hold while the current one is served, before pausing the client. */
const MAX_PIPELINE_BUFFER = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** sendPair's parts, shared by every connection (sends are synchronous and keep no reference to it). */
const PAIR: Buffer[] = [EMPTY, EMPTY];
/** How long a connection we are closing may linger for the client to read our last answer. */
const CLOSE_LINGER_MS = 2000;

/**
 * One client connection: owns the client socket (only it reads, writes, pauses and closes it), feeds
 * its bytes to a request framer, runs one exchange at a time (so pipelined requests are answered in
 * order), enforces the header and idle timeouts.
 */
export class ClientConnection implements ClientSide, TcpSocketEvents, RequestSink, Timed {
  // State. Invariants: `exchange` is null between requests; `closing` is final (the socket is ending or
  // gone, the framer is stopped); the socket is paused exactly when `pausedForNode || pausedForPipeline`
  // (and not closing); `headClock` is true only while no exchange runs.
  deadline = 0;
  private exchange: Exchange | null = null;
  private closing = false;
  /** Graceful shutdown: close after the current exchange. */
  private shuttingDown = false;
  /** The exchange's node cannot take more body bytes yet (connecting, or its socket is full). */
  private pausedForNode = false;
  /** Requests pipelined behind the current one fill MAX_PIPELINE_BUFFER. */
  private pausedForPipeline = false;
  /**
   * The header deadline runs: a request head is awaited since its first byte (or since the connection
   * opened). Bytes arriving later never restart it, and empty lines do not stop it (slowloris).
   */
  private headClock = true;
  /** The client half-closed: answer what it sent, then close (curl -T, nc -q and friends do this). */
  private clientEnded = false;
  private client: ClientAddress | undefined = undefined;
  private readonly framer: RequestFramer;

  constructor(
    private readonly socket: TcpSocket,
    private readonly ctx: EngineContext,
    headOptions: RequestHeadOptions,
    private readonly onClosed: ConnectionSet,
  ) {
    this.framer = new RequestFramer(this, ctx.options.maxHeaderSize, headOptions);
    // A new connection must send its first request head within the header timeout (slowloris).
    this.deadline = ctx.deadlines.now + ctx.options.headerTimeout;
    ctx.deadlines.add(this);
    socket.start(this);
  }

  // --- ClientSide: what the exchange asks of the client connection.

  /** The client's address for X-Forwarded-For, looked up at the first request that needs it. */
  get clientIp(): string {
    return (this.client ??= clientAddress(this.socket.remoteIp)).ip;
  }

  get forwardedBytes(): Uint8Array {
    return (this.client ??= clientAddress(this.socket.remoteIp)).forwardedBytes;
  }

  get closesAfterExchange(): boolean {
    // After a FIN, the last response closes the connection unless pipelined requests are still buffered.
    return this.shuttingDown || (this.clientEnded && this.framer.pendingBytes === 0);
  }

  /** Sends bytes to the client (see ClientSide.send); false when it must drain first (onClientDrain follows). */
  send(data: Buffer): boolean {
    return this.socket.send(data);
  }

  sendOwned(data: Buffer): boolean {
    return this.socket.sendOwned(data);
  }

  /** Two buffers in one writev (a head and a large body: cheaper than copying the body behind the head). */
  sendPair(first: Buffer, second: Buffer): boolean {
    PAIR[0] = first;
    PAIR[1] = second;
    const ok = this.socket.sendAll(PAIR);
    PAIR[0] = PAIR[1] = EMPTY; // holds no response after the call
    return ok;
  }

  pauseForNode(): void {
    if (this.pausedForNode) return;
    this.pausedForNode = true;
    this.updateReading();
  }

  resumeForNode(): void {
    if (!this.pausedForNode) return;
    this.pausedForNode = false;
    this.updateReading();
  }

  /** Too late for a clean answer: the client must see that the response was cut short. */
  cut(): void {
    this.socket.destroy();
  }

  exchangeDone(closeAfter: boolean): void {
    this.exchange = null;
    const paused = this.pausedForNode || this.pausedForPipeline;
    this.pausedForNode = false;
    this.pausedForPipeline = false;
    if (closeAfter || this.closing || this.shuttingDown) {
      this.closeGracefully();
      return;
    }
    if (paused) this.socket.resume();
    if (this.framer.pendingBytes === 0) this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
    else this.startHeadClock(); // a pipelined request: its head clock starts now
    this.framer.next();
    this.afterFraming();
  }

  // --- RequestSink: what the framer found in the client's bytes.

  onRequestHead(head: RequestHead, buf: Buffer): void {
    this.deadline = 0;
    this.headClock = false;
    const exchange = new Exchange(this.ctx, this, head, buf);
    this.exchange = exchange;
    exchange.start();
    // The body is read under the idle timeout; once complete, the exchange's own deadlines govern.
    if (this.exchange === exchange && this.framer.inBody) this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
  }

  onRequestBody(chunk: Buffer, complete: boolean): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    this.deadline = complete ? 0 : this.ctx.deadlines.now + this.ctx.options.idleTimeout;
    exchange.onClientBody(chunk, complete);
  }

  /** A request we will not frame: answer, close, and never look at the rest of the stream. */
  onRequestError(err: FramingError, inBody: boolean, head?: Buffer): void {
    const exchange = this.exchange;
    if (inBody && exchange !== null) exchange.rejectBody(err);
    else {
      this.socket.send(errorResponse(err.status, err.message, true));
      this.rejected(err.status, err.message, head);
      this.closeGracefully();
    }
  }

  /** Tells the dispatcher about a request answered here; its method and target when its request line reads. */
  private rejected(status: number, reason: string, head: Buffer | undefined): void {
    const line = head === undefined ? null : requestLine(head);
    this.ctx.dispatcher.rejected({ client: this.clientIp, status, reason, method: line?.method ?? '', target: line?.target ?? '' });
  }

  // --- TcpSocketEvents: what the socket reports.

  /** `chunk` may be a view of the read arena: the framer copies whatever it keeps. */
  onData(chunk: Buffer): void {
    if (this.closing) return;
    const idle = this.exchange === null;
    // The first byte of a head starts its clock (unless it runs already); a pipelined request waiting
    // behind a busy exchange is not a slow client: its clock starts when its turn comes.
    if (idle && !this.headClock && this.framer.pendingBytes === 0) this.startHeadClock();
    this.framer.push(chunk);
    if (this.exchange === null) {
      // An exchange that ended during this read leaves the start of the next head: its clock starts now.
      if (!idle && !this.headClock && this.framer.pendingBytes > 0 && !this.closing) this.startHeadClock();
      this.afterFraming();
    } else if (!this.framer.inBody && this.framer.pendingBytes > MAX_PIPELINE_BUFFER && !this.pausedForPipeline) {
      this.pausedForPipeline = true;
      this.updateReading();
    }
  }

  /** No exchange runs after framing what was there: wait for the next head, or close if none can come. */
  private afterFraming(): void {
    if (this.exchange !== null || this.closing) return;
    if (this.clientEnded)
      this.closeGracefully(); // a head cut short by FIN will never complete
    else if (this.framer.pendingBytes === 0 && !this.headClock) this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
  }

  onDrain(): void {
    this.exchange?.onClientDrain();
  }

  onEnd(): void {
    this.clientEnded = true;
    if (this.exchange !== null) {
      // A body cut short can never complete: give up on the exchange. Otherwise answer, then close.
      if (this.framer.inBody) this.socket.destroy();
      return;
    }
    this.afterFraming();
  }

  onClose(): void {
    this.ctx.deadlines.delete(this);
    this.closing = true;
    this.framer.stop();
    const exchange = this.exchange;
    this.exchange = null;
    exchange?.clientGone();
    this.onClosed.delete(this);
  }

  onDeadline(): void {
    if (this.closing || this.exchange !== null) {
      // Lingered long enough; or stalled mid-request (client stopped sending its body) or mid-response
      // (client stopped reading).
      this.socket.destroy();
      return;
    }
    if (this.framer.pendingBytes > 0) {
      this.socket.send(errorResponse(408, 'request head not received in time', true));
      this.rejected(408, 'request head not received in time', this.framer.pendingHead);
      this.closeGracefully();
      return;
    }
    this.socket.destroy(); // idle keep-alive connection
  }

  // --- Engine: shutdown.

  /** Graceful shutdown: close now if idle, else after the current exchange. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.exchange === null) this.closeGracefully();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private startHeadClock(): void {
    this.headClock = true;
    this.deadline = this.ctx.deadlines.now + this.ctx.options.headerTimeout;
  }

  private updateReading(): void {
    if (this.closing) return;
    if (this.pausedForNode || this.pausedForPipeline) this.socket.pause();
    else this.socket.resume();
  }

  /** Ends our side after the last answer is flushed; a client that never closes is cut after a linger. */
  private closeGracefully(): void {
    if (this.closing) return;
    this.closing = true;
    this.framer.stop();
    this.socket.end();
    this.socket.resume(); // read and drop whatever the client still sends until it closes
    this.deadline = this.ctx.deadlines.now + CLOSE_LINGER_MS;
  }
}

/** Method and target of a head's request line, when it reads as one (for the log of a rejected request). */
function requestLine(buf: Buffer): { method: string; target: string } | null {
  const end = Math.min(buf.length, 8192);
  const sp1 = buf.indexOf(0x20);
  if (sp1 <= 0 || sp1 > 32 || sp1 >= end) return null;
  let sp2 = sp1 + 1;
  while (sp2 < end && buf[sp2] > 0x20 && buf[sp2] < 0x7f) sp2++;
  if (sp2 === sp1 + 1) return null;
  const method = buf.toString('latin1', 0, sp1);
  if (!/^[A-Za-z]+$/.test(method)) return null;
  return { method, target: buf.toString('latin1', sp1 + 1, sp2) };
}

/** Whoever tracks open connections (the engine): told when one closes. */
export interface ConnectionSet {
  delete(conn: ClientConnection): unknown;
}

/** A client address and its X-Forwarded-For/-Proto lines, built once per address, not per request. */
interface ClientAddress {
  readonly ip: string;
  readonly forwardedBytes: Uint8Array;
}

/** Client addresses seen lately: connections from one client share one entry. */
const recentClients = new Map<string, ClientAddress>();

function clientAddress(ip: string): ClientAddress {
  let known = recentClients.get(ip);
  if (known === undefined) {
    if (recentClients.size >= 1024) recentClients.clear();
    known = { ip, forwardedBytes: Buffer.from(forwardedFields(ip), 'latin1') };
    recentClients.set(ip, known);
  }
  return known;
}
