import type { EventEmitter } from 'node:events';
import { Dispatcher, errors, Pool } from 'undici';
import { IDEMPOTENT } from '../engine/http1/request-head.js';
import { decideNoNodeLeft, decideRetry, type Failure } from '../engine/retry-policy.js';
import { NoFallbackNodeError } from '../errors.js';
import { functionKey, headerKey } from '../hashing/routing-key.js';
import { Ranking } from '../hashing/rendezvous.js';
import type { NodeAddress } from '../membership/address.js';
import { DeadNodes } from './dead-nodes.js';
import { legacyHandler, type LegacyHandler } from './handlers.js';
import { resolveFallbackOptions, type FallbackDispatcherOptions, type ResolvedFallbackOptions } from './options.js';
import { routingHeader } from './routing-header.js';

/** Socket errors of a connection attempt: nothing reached the node. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

export interface FallbackDispatcherEvents {
  'node-down': [node: string, reason: string];
  'node-up': [node: string, reason: string];
}

/**
 * An undici Dispatcher that sends each request to the node that owns its routing key (fnlb's ranking),
 * falls back along the ranking by fnlb's retry rules, and keeps failed nodes on a dead list until a
 * probe brings them back. The request's origin is not used: it only names the cluster.
 */
export class FallbackDispatcher extends Dispatcher {
  readonly nodeList: readonly NodeAddress[];
  /** @internal */ readonly options: ResolvedFallbackOptions;
  /** @internal */ readonly pools: readonly Pool[];
  /** @internal */ readonly dead: DeadNodes;
  private readonly rankings: Ranking;
  private closed = false;

  constructor(init: FallbackDispatcherOptions) {
    super();
    const options = resolveFallbackOptions(init);
    this.options = options;
    this.nodeList = options.nodes;
    this.rankings = new Ranking(options.nodes);
    this.pools = options.nodes.map(
      (n) =>
        new Pool(`http://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`, {
          connect: { timeout: options.connectTimeout },
          headersTimeout: options.responseTimeout,
          keepAliveTimeout: options.upstreamIdleTimeout,
          keepAliveMaxTimeout: options.upstreamIdleTimeout,
        }),
    );
    this.dead = new DeadNodes(
      options.nodes,
      { interval: options.hcInterval, timeout: options.hcTimeout, path: options.hcPath },
      (index, up, reason) => (this as EventEmitter).emit(up ? 'node-up' : 'node-down', this.nodeList[index].id, reason),
    );
  }

  /** Node identities with their state on the dead list. */
  nodes(): { node: string; state: 'online' | 'offline' }[] {
    return this.nodeList.map((n, i) => ({ node: n.id, state: this.dead.isDead(i) ? 'offline' : 'online' }));
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const user = legacyHandler(handler);
    if (this.closed) {
      const err = new errors.ClientClosedError();
      if (user.onError === undefined) throw err;
      user.onError(err);
      return false;
    }
    const key =
      this.options.hashKey.kind === 'header'
        ? headerKey(routingHeader(opts.headers, this.options.hashKey.name), opts.path)
        : functionKey(opts.path);
    new FallbackRequest(this, opts, user, this.rankings.rank(key)).next();
    return true;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closed = true;
    this.dead.stop();
    const done = Promise.all(this.pools.map((p) => p.close())).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    this.closed = true;
    this.dead.stop();
    const done = Promise.all(this.pools.map((p) => p.destroy(err))).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
  }
}

/**
 * One request: its walk along the ranking. Each attempt hands the node's pool a fresh handler
 * (callbacks of a finished attempt are ignored); the caller's handler sees one request.
 */
class FallbackRequest {
  private pos = 0;
  private node = -1;
  private attempt = 0;
  /** The current attempt's request was handed to a connection (it may have reached the node). */
  private sent = false;
  private responded = false;
  private done = false;
  private sameNodeAgain = false;
  private timedOutBefore = false;
  private reused = false;
  private lastError: Error | null = null;
  private abortAttempt: ((err?: Error) => void) | null = null;
  private aborted: Error | null = null;
  private userConnected = false;
  private readonly idempotent: boolean;
  private readonly bodyKept: boolean;

  constructor(
    private readonly d: FallbackDispatcher,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly user: LegacyHandler,
    private readonly ranking: readonly number[],
  ) {
    this.idempotent = IDEMPOTENT.has(String(opts.method).toUpperCase());
    const body = opts.body;
    this.bodyKept = body == null || typeof body === 'string' || body instanceof Uint8Array;
  }

  /** The next node of the ranking that is not dead, or the no-node-left answer. */
  next(): void {
    while (this.pos < this.ranking.length && this.d.dead.isDead(this.ranking[this.pos])) this.pos++;
    if (this.pos === this.ranking.length) {
      const anyNodeUp = this.ranking.some((i) => !this.d.dead.isDead(i));
      const decision = decideNoNodeLeft({ anyNodeUp, timedOutBefore: this.timedOutBefore, lastFailure: this.lastError?.message ?? '' });
      this.fail(decision.status === 503 || this.lastError === null ? new NoFallbackNodeError() : this.lastError);
      return;
    }
    this.send(this.ranking[this.pos]);
  }

  private send(node: number): void {
    this.node = node;
    this.sent = false;
    this.abortAttempt = null;
    const id = ++this.attempt;
    const pool = this.d.pools[node];
    // An idle connection will carry it: a failure may then be the keep-alive race, not the node.
    this.reused = pool.stats.free > 0;
    const live = (): boolean => id === this.attempt && !this.done;
    const handler: LegacyHandler = {
      onConnect: (abort) => {
        if (!live()) return abort();
        this.sent = true;
        this.abortAttempt = abort;
        if (this.aborted !== null) return abort(this.aborted);
        if (!this.userConnected) {
          this.userConnected = true;
          this.user.onConnect?.((reason) => this.abort(reason));
        }
      },
      onResponseStarted: () => {
        if (live()) this.user.onResponseStarted?.();
      },
      onHeaders: (status, headers, resume, text) => {
        if (!live()) return false;
        this.responded = true;
        return this.user.onHeaders?.(status, headers, resume, text) ?? true;
      },
      onData: (chunk) => (live() ? (this.user.onData?.(chunk) ?? true) : false),
      onComplete: (trailers) => {
        if (!live()) return;
        this.done = true;
        this.user.onComplete?.(trailers);
      },
      onUpgrade: (status, headers, socket) => {
        if (!live()) return;
        this.done = true;
        this.user.onUpgrade?.(status, headers, socket);
      },
      onBodySent: (size, total) => {
        if (live()) this.user.onBodySent?.(size, total);
      },
      onError: (err) => {
        if (live()) this.attemptFailed(err);
      },
    };
    const { origin: _origin, ...rest } = this.opts;
    this.d.pools[node].dispatch({ ...rest, path: this.d.nodeList[node].basePath + this.opts.path }, handler as Dispatcher.DispatchHandler);
  }

  /** The caller aborted: the attempt in flight is aborted, and no other is started. */
  private abort(reason?: Error): void {
    if (this.aborted !== null || this.done) return;
    this.aborted = reason ?? new errors.RequestAbortedError();
    this.abortAttempt?.(this.aborted);
  }

  private attemptFailed(err: Error): void {
    const failure = this.aborted !== null || this.responded ? null : failureOf(err, this.sent);
    if (failure === null) return this.fail(err);
    this.lastError = err;
    const decision = decideRetry({
      failure,
      reason: err.message,
      idempotent: this.idempotent,
      bodyKept: this.bodyKept,
      reusedConn: this.reused && !this.sameNodeAgain,
      retryOnReset: this.d.options.retryOnReset,
      timedOutBefore: this.timedOutBefore,
      responseBytes: false,
      responseStarted: false,
    });
    if (failure === 'response-timeout') this.timedOutBefore = true;
    if (decision.markNodeDown) this.d.dead.markDead(this.node, `${failure}: ${err.message}`);
    if (decision.kind === 'same-node-fresh') {
      this.sameNodeAgain = true;
      return this.send(this.node);
    }
    if (decision.kind === 'next-node') {
      this.pos++;
      this.sameNodeAgain = false;
      return this.next();
    }
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.user.onError === undefined) throw err;
    this.user.onError(err);
  }
}

/** What an undici error says about the attempt, or null when it is not the node's failure (a bad argument, the caller's body). */
function failureOf(err: Error, sent: boolean): Failure | null {
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect-timeout';
  if (!sent) {
    if (code === 'UND_ERR_SOCKET') return 'closed-before-send';
    return typeof code === 'string' && CONNECT_ERRORS.has(code) ? 'connect-refused' : null;
  }
  if (code === 'ECONNRESET') return 'reset-after-send';
  if (code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'closed-after-send';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'response-timeout';
  if (code === 'HPE_INVALID_CONSTANT' || err instanceof errors.HTTPParserError || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return 'bad-response';
  }
  return null;
}

/** A Dispatcher for fetch(url, { dispatcher }) and undici.request: see FallbackDispatcher. */
export function createFallbackDispatcher(options: FallbackDispatcherOptions): FallbackDispatcher {
  return new FallbackDispatcher(options);
}

// The dead list's events, next to undici's own Dispatcher events.
export interface FallbackDispatcher {
  on<E extends keyof FallbackDispatcherEvents>(event: E, listener: (...args: FallbackDispatcherEvents[E]) => void): this;
  once<E extends keyof FallbackDispatcherEvents>(event: E, listener: (...args: FallbackDispatcherEvents[E]) => void): this;
  off<E extends keyof FallbackDispatcherEvents>(event: E, listener: (...args: FallbackDispatcherEvents[E]) => void): this;
}
