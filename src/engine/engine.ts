import net from 'node:net';
import { ClientConnection } from './client-connection.js';
import { NetTcpSocket, SOCKET_HIGH_WATER_MARK, type TcpSocket, acceptRaw } from './tcp-socket.js';
import { Deadlines } from './deadlines.js';
import type { EngineContext } from './exchange.js';
import type { RequestHeadOptions } from './http1/request-head.js';
import type { Dispatcher, EngineOptions, NodeEndpoint } from './types.js';
import { errorResponse } from './responses.js';
import { NodeLoads } from './node-loads.js';
import { NodePool } from './upstream.js';
import { RetryBudget } from './retry-budget.js';
import { notExecutedMatch } from './http1/response-head.js';
import { Buffer } from 'node:buffer';

const TOO_MANY_CONNECTIONS = errorResponse(503, 'too many connections', true);
/** The events of a connection turned away: whatever it sends is dropped. */
const DISCARD = { onData() {}, onDrain() {}, onEnd() {}, onClose() {} };

/**
 * The forwarding engine: raw `net` sockets on both sides, our own HTTP/1.1 framing, pooled keep-alive
 * connections to every node. It knows bytes and connections; which node gets a request is the
 * dispatcher's business.
 */
export class Engine {
  readonly server: net.Server;
  private readonly ctx: EngineContext;
  private readonly connections = new Set<ClientConnection>();
  private readonly headOptions: RequestHeadOptions;
  private closing: Promise<void> | null = null;

  constructor(
    readonly options: EngineOptions,
    dispatcher: Dispatcher,
    endpoints: readonly NodeEndpoint[],
  ) {
    const deadlines = new Deadlines();
    this.ctx = {
      options,
      dispatcher,
      deadlines,
      pools: endpoints.map(
        (ep) => new NodePool(ep, deadlines, options.connectTimeout, options.upstreamIdleTimeout, options.maxIdlePerNode),
      ),
      loads: options.balanceFactor > 0 ? new NodeLoads(endpoints.length, options.balanceFactor) : null,
      // One budget per engine: with --workers N, each worker counts its own requests and retries.
      budget: new RetryBudget(
        options.retryBudget === 'off' ? Infinity : options.retryBudget / 100,
        options.retryBudgetMin,
        options.retryBudgetWindow,
      ),
      marker: notExecutedMatch(options.notExecutedHeader),
      readWait: options.waitSpill !== null,
      inFlight: new Int32Array(endpoints.length),
      requestIdName: options.requestIdHeader === null ? null : Buffer.from(`${options.requestIdHeader}: `, 'latin1'),
    };
    const hashKey = options.hashKey;
    const idHeader = options.requestIdHeader;
    this.headOptions = {
      hashHeader: hashKey.kind === 'header' ? Buffer.from(hashKey.name.toLowerCase(), 'latin1') : undefined,
      requestIdHeader: idHeader === null ? undefined : Buffer.from(idHeader.toLowerCase(), 'latin1'),
    };
    // Paused: each connection picks its read mode (the shared read arena) before its first byte.
    this.server = net.createServer(
      { noDelay: true, allowHalfOpen: true, pauseOnConnect: true, highWaterMark: SOCKET_HIGH_WATER_MARK },
      (socket) => this.accept(new NetTcpSocket(socket)),
    );
    // Where Node allows it, accepted connections skip net.Socket (see tcp-socket.ts).
    acceptRaw(this.server, (socket) => this.accept(socket));
  }

  private accept(socket: TcpSocket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections;
    if (max > 0 && this.connections.size >= max) {
      // Over the limit: a clear answer instead of a silent reset; the connection is not kept. The
      // request is read and dropped: closing over unread bytes would send a reset.
      socket.start(DISCARD);
      socket.send(TOO_MANY_CONNECTIONS);
      socket.end();
      this.ctx.dispatcher.rejected({ client: socket.remoteIp, status: 503, reason: 'too many connections', method: '', target: '' });
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const conn = new ClientConnection(socket, this.ctx, this.headOptions, this.connections);
    this.connections.add(conn);
  }

  /** Requests on a node now (attempts in flight there, counted whatever the options). */
  inFlight(slot: number): number {
    return this.ctx.inFlight[slot] ?? 0;
  }

  /** Client connections open now. */
  get clientConnections(): number {
    return this.connections.size;
  }

  /** A node joined the membership at `slot` (slots only grow; see MemberTable). */
  addNode(slot: number, ep: NodeEndpoint): void {
    const o = this.options;
    this.ctx.pools[slot] = new NodePool(ep, this.ctx.deadlines, o.connectTimeout, o.upstreamIdleTimeout, o.maxIdlePerNode);
    this.ctx.loads?.ensure(slot + 1);
    if (slot >= this.ctx.inFlight.length) {
      const grown = new Int32Array(slot + 1);
      grown.set(this.ctx.inFlight);
      this.ctx.inFlight = grown;
    }
  }

  /** A node left: requests in flight on it finish there; its connections close as they come free. */
  removeNode(slot: number): void {
    this.ctx.pools[slot]?.retire();
  }

  /**
   * A node was taken out: requests not yet sent to it go to their next node now; those written to it
   * that may go again too if it went silent (see HealthChangeListener).
   */
  nodeDown(index: number, silent: boolean): void {
    this.ctx.pools[index]?.nodeDown(silent);
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Graceful stop: no new connections, idle ones closed now, busy ones after their current exchange;
   * whatever is still open after `timeoutMs` is cut.
   */
  close(timeoutMs: number): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      net.Server.prototype.close.call(this.server); // the raw close, even if a wrapper replaced server.close
      for (const conn of this.connections) conn.shutdown();
      const finish = () => {
        clearInterval(poll);
        clearTimeout(cut);
        for (const conn of this.connections) conn.destroy();
        for (const pool of this.ctx.pools) pool.closeIdle();
        this.ctx.deadlines.stop();
        resolve();
      };
      const poll = setInterval(() => {
        if (this.connections.size === 0) finish();
      }, 20);
      const cut = setTimeout(finish, timeoutMs);
      if (this.connections.size === 0) finish();
    });
    return this.closing;
  }
}
