import type net from 'node:net';
import type { Timed } from './deadlines.js';
import { type ClientSide, type EngineContext, Exchange } from './exchange.js';
import { FramingError } from './http1/framing-error.js';
import { emptyLinesToSkip, findHeadEnd, headTooLarge } from './http1/head-scan.js';
import { parseRequestHead, type RequestHeadOptions } from './http1/request-head.js';
import { arenaView, owned, readIntoArena } from './read-arena.js';
import { forwardedFields } from './http1/rewrite.js';
import { errorResponse } from './responses.js';

/** Bytes of a pipelined next request we hold while the current one is served, before pausing the client. */
const MAX_PIPELINE_BUFFER = 64 * 1024;
/** How long a connection we are closing may linger for the client to read our last answer. */
const CLOSE_LINGER_MS = 2000;

/**
 * One client connection: finds request heads in the byte stream, runs one exchange at a time (so
 * pipelined requests are answered in order), enforces the header and idle timeouts.
 */
export class ClientConnection implements ClientSide, Timed {
  deadline = 0;
  private client: ClientAddress | undefined = undefined;
  private pending: Buffer | null = null;
  private scanned = 0;
  private exchange: Exchange | null = null;
  private parsing = false;
  private closing = false;
  private pausedForPipeline = false;
  /**
   * The header deadline runs: a request head is awaited since its first byte (or since the connection
   * opened). Bytes arriving later never restart it, and empty lines do not stop it (slowloris).
   */
  private headClock = true;
  /** Empty lines skipped before the next request line (RFC 9112 §2.2), counted across reads. */
  private emptyLines = 0;
  /** The client half-closed: answer what it sent, then close (curl -T, nc -q and friends do this). */
  private clientEnded = false;

  constructor(
    readonly socket: net.Socket,
    private readonly ctx: EngineContext,
    private readonly headOptions: RequestHeadOptions,
    private readonly onClosed: ConnectionSet,
  ) {
    socket.setNoDelay(true);
    // Shared listener functions (`this` is the socket) instead of closures: an idle connection is
    // cheaper by the closures and their contexts (see the idle-conns benchmark).
    (socket as OwnedSocket)[CONNECTION] = this;
    if (!readIntoArena(socket, onArenaRead)) socket.on('data', onData);
    socket.on('drain', onDrain);
    socket.on('end', onEnd);
    socket.on('error', ignore);
    socket.on('close', onClose);
    // A new connection must send its first request head within the header timeout (slowloris).
    this.deadline = ctx.deadlines.now + ctx.options.headerTimeout;
    ctx.deadlines.add(this);
    socket.resume(); // the server accepts paused, so the read mode is chosen before the first byte
  }

  /** The client's address for X-Forwarded-For, looked up at the first request that needs it. */
  get clientIp(): string {
    return (this.client ??= clientAddress(this.socket)).ip;
  }

  get forwardedFields(): string {
    return (this.client ??= clientAddress(this.socket)).forwardedFields;
  }

  onDrain(): void {
    this.exchange?.onClientDrain();
  }

  /** `chunk` may be a view of the read arena: whatever is still pending at the end is copied (keepPending). */
  handleData(chunk: Buffer): void {
    if (this.closing) return;
    const exchange = this.exchange;
    if (exchange !== null && exchange.wantsBody) {
      this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
      const used = exchange.onClientBody(chunk);
      // Body complete: from now on the exchange's own deadlines (response timeout) govern, not ours.
      if (this.exchange === exchange && !exchange.wantsBody) this.deadline = 0;
      if (used < chunk.length && !this.closing) {
        this.stash(chunk.subarray(used));
        if (this.exchange === null) this.parseNext(); // the exchange ended at once (e.g. 503): serve what follows
      }
      this.keepPending();
      return;
    }
    this.stash(chunk);
    if (this.exchange === null) this.parseNext();
    else if (this.pending !== null && this.pending.length > MAX_PIPELINE_BUFFER && !this.pausedForPipeline) {
      this.pausedForPipeline = true;
      this.socket.pause();
    }
    this.keepPending();
  }

  /** Heads are parsed straight from the read arena; only bytes left over for later are copied. */
  private keepPending(): void {
    if (this.pending !== null) this.pending = owned(this.pending);
  }

  private stash(chunk: Buffer): void {
    if (this.pending === null) {
      this.pending = chunk;
      // A pipelined request waiting behind a busy exchange is not a slow client: its clock starts later.
      if (this.exchange === null && !this.headClock) this.startHeadClock();
    } else {
      this.pending = Buffer.concat([this.pending, chunk]);
    }
  }

  /** Starts exchanges for every complete request head buffered, one at a time. */
  private parseNext(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.exchange === null && this.pending !== null && !this.closing) {
        let buf = this.pending;
        // RFC 9112 §2.2: ignore empty lines before a request line (some clients add CRLF after a body).
        const lines = emptyLinesToSkip(buf, this.emptyLines);
        const skip = 2 * lines;
        if (skip > 0) {
          this.emptyLines += lines;
          buf = skip === buf.length ? Buffer.alloc(0) : buf.subarray(skip);
          this.scanned = 0;
          if (buf.length === 0) {
            this.pending = null;
            break;
          }
          this.pending = buf;
        }
        const maxHead = this.ctx.options.maxHeaderSize;
        const end = findHeadEnd(buf, this.scanned);
        if (end === -1) {
          if (buf.length > maxHead) throw headTooLarge(buf, maxHead);
          this.scanned = buf.length;
          if (this.clientEnded) this.closeGracefully(); // a head cut short by FIN will never complete
          return;
        }
        if (end > maxHead) throw headTooLarge(buf, maxHead);
        const head = parseRequestHead(buf, end, this.headOptions);
        this.pending = end === buf.length ? null : buf.subarray(end);
        this.scanned = 0;
        this.deadline = 0;
        this.headClock = false;
        this.emptyLines = 0;
        const exchange = new Exchange(this.ctx, this, head, buf);
        this.exchange = exchange;
        exchange.start();
        if (this.exchange === exchange && exchange.wantsBody && this.pending !== null) {
          const rest = this.pending;
          this.pending = null;
          const used = exchange.onClientBody(rest);
          if (used < rest.length && !this.closing) this.pending = rest.subarray(used);
        }
        if (this.exchange === exchange && exchange.wantsBody) {
          this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
        }
      }
      if (this.exchange === null && !this.closing) {
        if (this.clientEnded) this.closeGracefully(); // nothing more will come
        else if (this.pending === null && !this.headClock) this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
      }
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.reject(err);
    } finally {
      this.parsing = false;
    }
  }

  /** A request we will not frame: answer, close, and never look at the rest of the stream. */
  private reject(err: FramingError): void {
    this.pending = null;
    this.socket.write(errorResponse(err.status, err.message, true));
    this.closeGracefully();
  }

  get closesAfterExchange(): boolean {
    // After a FIN, the last response closes the connection unless pipelined requests are still buffered.
    return this.shuttingDown || (this.clientEnded && this.pending === null);
  }

  handleEnd(): void {
    this.clientEnded = true;
    const exchange = this.exchange;
    if (exchange !== null) {
      // A body cut short can never complete: give up on the exchange. Otherwise answer, then close.
      if (exchange.wantsBody) this.socket.destroy();
      return;
    }
    this.parseNext();
  }

  exchangeDone(closeAfter: boolean): void {
    this.exchange = null;
    if (closeAfter || this.closing || this.shuttingDown) {
      this.closeGracefully();
      return;
    }
    if (this.pausedForPipeline) {
      this.pausedForPipeline = false;
      this.socket.resume();
    }
    if (this.pending === null) this.deadline = this.ctx.deadlines.now + this.ctx.options.idleTimeout;
    else this.startHeadClock(); // a pipelined request: its head clock starts now
    this.parseNext();
  }

  private startHeadClock(): void {
    this.headClock = true;
    this.deadline = this.ctx.deadlines.now + this.ctx.options.headerTimeout;
  }

  /** Ends our side after the last answer is flushed; a client that never closes is cut after a linger. */
  private closeGracefully(): void {
    if (this.closing) return;
    this.closing = true;
    this.pending = null;
    this.socket.end();
    this.socket.resume(); // read and drop whatever the client still sends until it closes
    this.deadline = this.ctx.deadlines.now + CLOSE_LINGER_MS;
  }

  private shuttingDown = false;

  /** Graceful shutdown: close now if idle, else after the current exchange. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.exchange === null) this.closeGracefully();
  }

  onDeadline(): void {
    if (this.closing) {
      this.socket.destroy();
      return;
    }
    if (this.exchange !== null) {
      // Stalled mid-request (client stopped sending its body) or mid-response (client stopped reading).
      this.socket.destroy();
      return;
    }
    if (this.pending !== null) {
      this.socket.write(errorResponse(408, 'request head not received in time', true));
      this.closeGracefully();
      return;
    }
    this.socket.destroy(); // idle keep-alive connection
  }

  handleClose(): void {
    this.ctx.deadlines.delete(this);
    this.closing = true;
    const exchange = this.exchange;
    this.exchange = null;
    exchange?.clientGone();
    this.onClosed.delete(this);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Where a ClientConnection sits on its socket, for the shared listeners. */
const CONNECTION = Symbol('fnlb.connection');
type OwnedSocket = net.Socket & { [CONNECTION]: ClientConnection };

function onData(this: OwnedSocket, chunk: Buffer): void {
  this[CONNECTION].handleData(chunk);
}
function onArenaRead(this: net.Socket, n: number, buf: Uint8Array): boolean {
  (this as OwnedSocket)[CONNECTION].handleData(arenaView(buf, n));
  return true;
}
function onDrain(this: OwnedSocket): void {
  this[CONNECTION].onDrain();
}
function onEnd(this: OwnedSocket): void {
  this[CONNECTION].handleEnd();
}
function onClose(this: OwnedSocket): void {
  this[CONNECTION].handleClose();
}
function ignore(): void {}

/** Whoever tracks open connections (the engine): told when one closes. */
export interface ConnectionSet {
  delete(conn: ClientConnection): unknown;
}

/** The handle's own getpeername: socket.remoteAddress would keep a cached object on every socket. */
interface PeerHandle {
  getpeername?(out: { address?: string }): number;
}
/** A client address and its X-Forwarded-For/-Proto lines, built once per address, not per request. */
interface ClientAddress {
  readonly ip: string;
  readonly forwardedFields: string;
}

/** Client addresses seen lately: connections from one client share one entry. */
const recentClients = new Map<string, ClientAddress>();

function clientAddress(socket: net.Socket): ClientAddress {
  const handle = (socket as unknown as { _handle: PeerHandle | null })._handle;
  const out: { address?: string } = {};
  let ip = handle?.getpeername?.(out) === 0 && out.address !== undefined ? out.address : (socket.remoteAddress ?? '');
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  let known = recentClients.get(ip);
  if (known === undefined) {
    if (recentClients.size >= 1024) recentClients.clear();
    known = { ip, forwardedFields: forwardedFields(ip) };
    recentClients.set(ip, known);
  }
  return known;
}
