import type { Deadlines, Timed } from './deadlines.js';
import type { ResponseFramer } from './http1/response-framer.js';
import type { NodeEndpoint } from './types.js';
import { connectTcp, type TcpSocket, type TcpSocketEvents } from './tcp-socket.js';
import { hostAnswered } from '../errors.js';

/** Events an upstream connection reports to whichever exchange currently owns it. */
export interface UpstreamOwner {
  onUpstreamConnect(conn: UpstreamConn): void;
  /** Bytes from the node: a view of READ_ARENA, valid only during the call. */
  onUpstreamData(chunk: Buffer): void;
  onUpstreamDrain(): void;
  /** The node closed or reset the connection, or a deadline expired; `reason` says which. */
  onUpstreamGone(conn: UpstreamConn, reason: string, ended: boolean): void;
  onUpstreamDeadline(conn: UpstreamConn): void;
  /** The node was taken out (health checks or another request's failure) while this waits on it. */
  onNodeDown(conn: UpstreamConn, silent: boolean): void;
}

/**
 * One TCP connection to a node. Its socket reports to it for its whole life and it dispatches to the
 * current owner, so handing it from exchange to exchange allocates nothing.
 */
export class UpstreamConn implements Timed, TcpSocketEvents {
  // State. Invariants: `owner` is the exchange this connection serves, null while idle in the pool (or
  // destroyed); `gone` is final; `deadline` (0 = none) is the connect timeout until `connected`, then
  // whatever the owner expects next, then the pool's idle timeout.
  private readonly socket: TcpSocket;
  owner: UpstreamOwner | null = null;
  connected = false;
  /** Has carried a request before: a failure may be the keep-alive race, not the node. */
  reused = false;
  /** The node sent FIN or the socket closed: never hand it out again. */
  gone = false;
  deadline = 0;
  /** Reading is paused because the owner's client cannot take more bytes yet. */
  private pausedForClient = false;
  /** The framer of this connection's responses: made by its first owner, begun anew by each. */
  responseFramer: ResponseFramer | null = null;

  /** The connection failed without the node's host answering it (unreachable, ...): see hostAnswered. */
  get unanswered(): boolean {
    const error = this.socket.error;
    return error !== undefined && !hostAnswered(error);
  }

  /** The node reset the connection (RST): its kernel threw away whatever its process had not read. */
  get resetByNode(): boolean {
    const error = this.socket.error;
    return error === 'ECONNRESET' || error === 'EPIPE';
  }

  constructor(
    readonly pool: NodePool,
    owner: UpstreamOwner,
  ) {
    this.owner = owner;
    this.deadline = pool.deadlines.now + pool.connectTimeout;
    pool.deadlines.add(this);
    pool.open.add(this);
    const ep = pool.endpoint;
    this.socket = connectTcp(ep.host, ep.port, this);
  }

  // --- TcpSocketEvents: what the socket reports.

  onConnect(): void {
    this.connected = true;
    this.deadline = 0;
    this.owner?.onUpstreamConnect(this);
  }

  onData(chunk: Buffer): void {
    const owner = this.owner;
    if (owner !== null) owner.onUpstreamData(chunk);
    else this.destroy(); // bytes on an idle connection: the node is confused; drop it
  }

  onDrain(): void {
    this.owner?.onUpstreamDrain();
  }

  onEnd(): void {
    this.handleGone('node closed the connection', true);
  }

  onClose(): void {
    this.handleGone(this.socket.error ?? 'connection closed', false);
  }

  private handleGone(reason: string, ended: boolean): void {
    const first = !this.gone;
    this.gone = true;
    this.deadline = 0;
    if (first) {
      this.pool.forget(this);
      this.pool.deadlines.delete(this);
      this.pool.open.delete(this);
    }
    const owner = this.owner;
    if (owner !== null) owner.onUpstreamGone(this, reason, ended);
    if (ended) this.socket.destroy();
  }

  onDeadline(): void {
    if (this.owner !== null) this.owner.onUpstreamDeadline(this);
    else this.destroy(); // idle too long in the pool
  }

  /** The owner expects the node's next bytes by this time (coarse clock, ms); past it, onUpstreamDeadline. */
  expectBy(deadline: number): void {
    this.deadline = deadline;
  }

  /**
   * Sends bytes to the node; they may be a view of the read arena (what the kernel does not take at
   * once is copied). False when its socket buffer is full (the owner hears onUpstreamDrain).
   */
  send(data: Buffer): boolean {
    return this.socket.send(data);
  }

  /** As send, for bytes the owner made (never the read arena). */
  sendOwned(data: Buffer): boolean {
    return this.socket.sendOwned(data);
  }

  /** Several buffers in one writev; as send. */
  sendAll(parts: readonly Buffer[]): boolean {
    return this.socket.sendAll(parts);
  }

  /** Stop reading from the node until resumeForClient (the client is not reading fast enough). */
  pauseForClient(): void {
    if (this.pausedForClient) return;
    this.pausedForClient = true;
    this.socket.pause();
  }

  resumeForClient(): void {
    if (!this.pausedForClient) return;
    this.pausedForClient = false;
    this.socket.resume();
  }

  /** Usable for another request: not gone, socket open. */
  get alive(): boolean {
    return !this.gone && !this.socket.destroyed;
  }

  destroy(): void {
    this.owner = null;
    this.socket.destroy();
  }
}

/** Keep-alive connections to one node: a LIFO stack of idle connections (the warmest first). */
export class NodePool {
  private readonly idle: UpstreamConn[] = [];
  /** The node left the membership: connections still busy finish their exchange, none is kept after. */
  private retired = false;
  /** Every connection not yet gone, idle or busy (membership changes per connection, not per request). */
  readonly open = new Set<UpstreamConn>();
  /** "host:port" as a Host header value (IPv6 in brackets). */
  readonly authority: string;

  constructor(
    readonly endpoint: NodeEndpoint,
    readonly deadlines: Deadlines,
    readonly connectTimeout: number,
    private readonly idleTimeout: number,
    private readonly maxIdle: number,
  ) {
    this.authority = endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
  }

  /** An idle connection if one is alive, else a new one (its owner hears onUpstreamConnect). */
  acquire(owner: UpstreamOwner, fresh: boolean): UpstreamConn {
    if (!fresh) {
      let conn: UpstreamConn | undefined;
      while ((conn = this.idle.pop()) !== undefined) {
        if (conn.alive) {
          conn.owner = owner;
          conn.deadline = 0;
          conn.reused = true;
          return conn;
        }
      }
    }
    return new UpstreamConn(this, owner);
  }

  /** Takes a connection back after a complete response; it is kept if the pool has room. */
  release(conn: UpstreamConn): void {
    conn.owner = null;
    conn.resumeForClient();
    if (conn.gone || this.retired || this.idle.length >= this.maxIdle) {
      conn.destroy();
      return;
    }
    conn.deadline = this.deadlines.now + this.idleTimeout;
    this.idle.push(conn);
  }

  forget(conn: UpstreamConn): void {
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /**
   * The node is down: every exchange waiting on one of its connections hears it and whether the node went
   * silent (the retry policy decides who moves), after the reads of this turn of the event loop: a
   * response already in the kernel is read first.
   */
  nodeDown(silent: boolean): void {
    setImmediate(() => {
      for (const conn of [...this.open]) conn.owner?.onNodeDown(conn, silent);
    });
  }

  /** The node was removed: idle connections close now, busy ones when their exchange ends. */
  retire(): void {
    this.retired = true;
    this.closeIdle();
  }

  /** Drops every idle connection (the node was seen failing, or we are shutting down). */
  closeIdle(): void {
    for (const conn of this.idle.splice(0)) conn.destroy();
  }
}
