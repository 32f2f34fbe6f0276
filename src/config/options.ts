import type { NodeAddress } from '../membership/address.js';

/** Wait-aware spill thresholds, in ms: spilling starts above `from`, is at its most from `full` on. */
export interface WaitSpillRange {
  readonly from: number;
  readonly full: number;
}

/** How the routing key of a request is chosen. */
export type HashKeySource = { readonly kind: 'function' } | { readonly kind: 'header'; readonly name: string };

/**
 * The response header by which a node says it never ran the call (with a 503 or 429): off, or a name
 * (any case) and the exact value it must have (undefined = any value).
 */
export type NotExecutedMarker = { readonly kind: 'off' } | { readonly kind: 'header'; readonly name: string; readonly value?: string };

/** Access log: every request, none, or a deterministic fraction (every Nth). */
export type AccessLogMode = { readonly kind: 'on' } | { readonly kind: 'off' } | { readonly kind: 'sample'; readonly rate: number };

/**
 * Everything the balancer needs. All durations are milliseconds, sizes bytes. Each field is set and
 * checked by one entry of OPTIONS (table.ts), whether it comes from a flag, a variable or the library.
 */
export interface BalancerOptions {
  /** Listen address: host and port (port 0 = any free port). */
  listenHost: string;
  listenPort: number;
  nodes: NodeAddress[];
  hashKey: HashKeySource;
  /**
   * Bounded loads: a node may carry at most ⌈factor × average⌉ requests in flight; a request whose owner
   * is full goes to the next node of its own ranking. 0 = off (pure affinity).
   */
  balanceFactor: number;
  /** Gradual return: a node that comes back takes its functions back over this long (ms); 0 = at once. */
  warmup: number;
  /**
   * Wait-aware spill: a node whose average reported wait (XXX-FXLB-WAIT) for a function passes `from` ms
   * hands on a growing share of that function's calls, down to 10% kept at `full` ms; null = off.
   */
  waitSpill: WaitSpillRange | null;
  /** Active health checks. `hcPath` "" means a TCP connect check. */
  hcInterval: number;
  hcTimeout: number;
  hcPath: string;
  /** Consecutive successes to come back up (rise). */
  hcHealthy: number;
  /** Consecutive failures to go down (fall). */
  hcUnhealthy: number;
  connectTimeout: number;
  /** Time to the first response byte from a node. */
  responseTimeout: number;
  /** Idle client keep-alive connections are closed after this; also a stalled transfer. */
  idleTimeout: number;
  /** A request head must arrive completely within this (slowloris). */
  headerTimeout: number;
  /** Idle pooled node connections are closed after this. */
  upstreamIdleTimeout: number;
  shutdownTimeout: number;
  /** Request bodies up to this many bytes are kept so they can be replayed on a fallback node. */
  maxReplayBody: number;
  /** Request head limit (request line + headers), answered 431 past it. */
  maxHeaderSize: number;
  /**
   * Replay a request of any method whose node connection was reset before any response byte: the reset
   * means the node's kernel discarded bytes its process never read (see README, retry rules).
   */
  retryOnReset: boolean;
  /** A 503/429 carrying this header was not run by the node: any request whose body was kept goes to the next node. */
  notExecutedHeader: NotExecutedMarker;
  /**
   * Retries (re-sends of a request that may have reached a node) allowed per window, in percent of the
   * requests of the window, on top of retryBudgetMin; 'off' = no limit. Per engine (per worker).
   */
  retryBudget: number | 'off';
  /** The retry budget's sliding window. */
  retryBudgetWindow: number;
  /** Retries per second always allowed, whatever the request count (a quiet cluster can still fail over). */
  retryBudgetMin: number;
  /** Max idle pooled connections kept per node. */
  maxIdlePerNode: number;
  /** Client connections open at once (per process); more are answered 503 and closed (0 = no limit). */
  maxConnections: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  accessLog: AccessLogMode;
  /**
   * The request id header: a valid one from the client is kept, otherwise fnlb generates one and adds it
   * to the forwarded request; the access line carries it. null = off (no id, nothing added).
   */
  requestIdHeader: string | null;
  /** Worker processes sharing the listening socket (1 = no cluster). The library takes only 1: it cannot fork. */
  workers: number;
  /** The admin API, metrics and dashboard listener; null = off. */
  adminListen: { readonly host: string; readonly port: number } | null;
  /** Bearer token the admin API requires (all but /healthz and /readyz); null = open (loopback only). */
  adminToken: string | null;
  /** Membership kept across restarts: written on every change, read at start and on SIGHUP; null = none. */
  stateFile: string | null;
  /**
   * Shared node list in PostgreSQL (postgres://...), for several instances; instead of --state-file.
   * The library reads it only through openMembership (see membership/sources.ts); null = none.
   */
  registry: string | null;
  /** Table <prefix>nodes and channel <prefix>nodes_changed in the registry. */
  registryPrefix: string;
  /** Full re-read of the registry, healing missed notifications (ms). */
  registryResync: number;
  /** Nodes from DNS: "name:port" (A/AAAA) or "srv:_http._tcp.name"; null = none. */
  nodesDns: string | null;
  /** Re-resolution period of --nodes-dns (ms). */
  dnsInterval: number;
  /** DNS servers --nodes-dns asks ("ip" or "ip:port", "[v6]:port"); empty = the system's (/etc/resolv.conf). */
  dnsServers: string[];
}

export const DEFAULT_OPTIONS: Readonly<BalancerOptions> = Object.freeze<BalancerOptions>({
  listenHost: '0.0.0.0',
  listenPort: 8081,
  nodes: [],
  hashKey: { kind: 'function' },
  balanceFactor: 0,
  warmup: 0,
  waitSpill: { from: 500, full: 2000 },
  hcInterval: 1000,
  hcTimeout: 1000,
  hcPath: '/version',
  hcHealthy: 2,
  hcUnhealthy: 2,
  connectTimeout: 2000,
  responseTimeout: 300_000,
  idleTimeout: 60_000,
  headerTimeout: 10_000,
  upstreamIdleTimeout: 4000,
  shutdownTimeout: 30_000,
  maxReplayBody: 1024 * 1024,
  maxHeaderSize: 16 * 1024,
  retryOnReset: false,
  notExecutedHeader: { kind: 'header', name: 'X-Fn-Not-Executed', value: '1' },
  retryBudget: 20,
  retryBudgetWindow: 10_000,
  retryBudgetMin: 10,
  maxIdlePerNode: 256,
  maxConnections: 0,
  logLevel: 'info',
  accessLog: { kind: 'on' },
  requestIdHeader: 'X-Request-Id',
  workers: 1,
  adminListen: { host: '127.0.0.1', port: 8082 },
  adminToken: null,
  stateFile: null,
  registry: null,
  registryPrefix: 'fnlb_',
  registryResync: 30_000,
  nodesDns: null,
  dnsInterval: 5000,
  dnsServers: [],
});

/** What the forwarding engine reads: a view of the same options object, not a copy. */
export type EngineOptions = Pick<
  BalancerOptions,
  | 'connectTimeout'
  | 'responseTimeout'
  | 'idleTimeout'
  | 'headerTimeout'
  | 'upstreamIdleTimeout'
  | 'maxReplayBody'
  | 'maxHeaderSize'
  | 'maxIdlePerNode'
  | 'maxConnections'
  | 'retryOnReset'
  | 'notExecutedHeader'
  | 'retryBudget'
  | 'retryBudgetWindow'
  | 'retryBudgetMin'
  | 'hashKey'
  | 'balanceFactor'
  | 'waitSpill'
  | 'requestIdHeader'
>;
