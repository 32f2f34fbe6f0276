import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Engine } from './engine/engine.js';
import type { RequestHead } from './engine/http1/request-head.js';
import type { Dispatcher, NodeEndpoint, RejectedRequest, RequestOutcome } from './engine/types.js';
import { ConfigError } from './errors.js';
import { functionKey, headerKey } from './hashing/routing-key.js';
import { GradualReturn } from './hashing/gradual-return.js';
import type { Ranking } from './hashing/rendezvous.js';
import { DEFAULT_WAIT_SPILL, WaitSpill } from './hashing/wait-spill.js';
import { HealthChecker, type HealthDetail } from './health/health-checker.js';
import type { HealthChangeListener, HealthView } from './health/health-view.js';
import { createLogger, type Logger } from './log.js';
import type { NodeAddress } from './membership/address.js';
import { AdminApi } from './admin/api.js';
import type { TrafficView } from './admin/host.js';
import { localHost } from './admin/local-host.js';
import { membersMetrics, trafficView } from './admin/traffic-view.js';
import { TrafficStats, type FallbackReason, type Metrics, type StatsSnapshot } from './metrics/index.js';
import { AdminServer } from './admin/server.js';
import { MemberTable, routableRanking, type MemberChange, type MembersSnapshot } from './membership/member-table.js';
import { parseNodeAddress } from './config/parse-address.js';
import { startingMembers } from './membership/state-file.js';
import { localSource, type MemberEdit, type MembershipSource, type MembershipStore } from './membership/sources.js';
import type { BalancerOptions } from './config/options.js';
import { resolveLibraryOptions, type OptionsInit } from './config/resolve.js';

export interface NodeStatus {
  /** The node's identity: its normalized address. */
  node: string;
  state: 'online' | 'offline';
  weight: number;
  /** Gets no new requests; those in flight finish. */
  draining: boolean;
  /** The share of a full load it takes now: below 1 while it warms up after joining or coming back (--warmup). */
  warmth: number;
  /** Requests on it now (this process). */
  inFlight: number;
  /** Health as the checks see it: since when, why, and the last probe (null when health comes from elsewhere). */
  health: HealthDetail | null;
}

/** Library options: any BalancerOptions field (nodes as addresses or parsed NodeAddress), and a logger and health source. */
export type BalancerInit = OptionsInit & {
  /** A pino logger to use instead of a new one on stdout. */
  logger?: Logger;
  /**
   * Where node health comes from; default: active checks in this process. Workers of a cluster get it
   * from the primary (src/cluster). Changes it reports are logged at debug level, the source logs them.
   */
  healthView?: (nodeCount: number, onChange: HealthChangeListener) => HealthView;
  /**
   * The membership to start from instead of `nodes` (a worker of a cluster follows its primary's slots;
   * the command passes what its state file holds). `nodes` is then ignored.
   */
  members?: MembersSnapshot;
  /**
   * Where the membership is kept and changes are written: what openMembership() opened (a registry,
   * DNS, a state file). Its members are the start; `members` and `nodes` are then ignored. Needed for
   * `registry` and `nodesDns`; without it, the state file or `nodes` as the command does.
   */
  membership?: MembershipSource;
};

/** One finished request, as the `request` event reports it (the fields of an access log line). */
export interface RequestInfo {
  /** The client's address. */
  client: string;
  method: string;
  /** The request target as the client sent it (path and query). */
  target: string;
  /** The routing key. */
  key: string;
  /** The last node tried; null if none was (every node down). */
  node: string | null;
  /** The status the client got (fnlb's own 502/503/504, or the node's; 499 when the client left first). */
  status: number;
  /** Nodes tried, retries included. */
  attempts: number;
  /** Request bytes received from the client (head and body). */
  bytesIn: number;
  /** Response bytes sent to the client (head and body). */
  bytesOut: number;
  /** From the request head to the end of the response, in milliseconds. */
  ms: number;
  /** The request id (the client's X-Request-Id, or the one fnlb generated and forwarded); absent with --request-id-header off. */
  requestId?: string;
  /** Why fnlb answered itself (its own 502/503/504: "connect refused", "response timeout", "no node up", ...). */
  reason?: string;
  /** Present (true) when a response that had started was cut off. */
  cut?: true;
}

/** A request fnlb answered itself before forwarding it (bad framing, 408, 431, 503 over --max-connections). */
export interface RejectedInfo {
  client: string;
  status: number;
  reason: string;
  /** When the request line could be read. */
  method?: string;
  target?: string;
}

export interface BalancerEvents {
  'node-down': [node: string, reason: string];
  'node-up': [node: string, reason: string];
  /** The membership changed (a node added, removed, drained or reweighted). */
  members: [changes: readonly MemberChange[]];
  request: [info: RequestInfo];
  /** A request answered by fnlb itself at the connection level (logged as "rejected" with the access log). */
  rejected: [info: RejectedInfo];
}

export interface Balancer {
  /** The listening TCP server (after listen()). */
  readonly server: net.Server;
  /** Starts listening and health checking; resolves with the actual address. */
  listen(port?: number, host?: string): Promise<{ host: string; port: number }>;
  /** Graceful stop: in-flight requests finish (up to shutdownTimeout), then everything closes. */
  close(): Promise<void>;
  /** Current members (draining ones included), in the order they joined. */
  nodes(): NodeStatus[];
  /**
   * Membership at runtime. Each change applies at once, moves only the functions rendezvous hashing
   * says, and throws a MembershipError (or a ConfigError for a bad address) when refused: unknown or
   * duplicate node, the last node that gets requests removed or drained, a weight that is not > 0.
   */
  addNode(node: string | NodeAddress): void;
  removeNode(node: string): void;
  /** No new requests for the node (its functions go to their fallbacks), requests in flight finish. */
  drainNode(node: string): void;
  setNodeWeight(node: string, weight: number): void;
  /**
   * A change made where the membership is kept (with a `membership` from openMembership: the registry,
   * so every instance applies it), resolved once applied here. The sync methods above change only this
   * process's table.
   */
  edit(edit: MemberEdit): Promise<void>;
  on<E extends keyof BalancerEvents>(event: E, listener: (...args: BalancerEvents[E]) => void): Balancer;
  off<E extends keyof BalancerEvents>(event: E, listener: (...args: BalancerEvents[E]) => void): Balancer;
}

/** The fields of BalancerInit that are not options. */
const LIBRARY_ONLY: ReadonlySet<string> = new Set(['logger', 'healthView', 'members', 'membership'] satisfies Array<
  Exclude<keyof BalancerInit, keyof OptionsInit>
>);

/**
 * Merges defaults, parses node strings, and checks every value as the command line does (a ConfigError
 * naming the flag, with the command's message). Unknown fields and `workers` other than 1 are refused.
 */
export function resolveOptions(init: BalancerInit): BalancerOptions {
  return resolveLibraryOptions(init, LIBRARY_ONLY);
}

/**
 * The options of a library balancer: as resolveOptions, but quiet unless asked: no access log unless
 * `accessLog` is given, and no log lines unless `logLevel` or a `logger` is given. The command passes
 * its own values of both, so it logs as always.
 */
function libraryOptions(init: BalancerInit): BalancerOptions {
  if (typeof init !== 'object' || init === null) return resolveOptions(init);
  return resolveOptions({
    ...init,
    accessLog: init.accessLog ?? { kind: 'off' },
    adminListen: init.adminListen ?? null,
    logLevel: init.logLevel ?? (init.logger === undefined ? 'silent' : undefined),
  });
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

export class FnBalancer extends EventEmitter implements Balancer, Dispatcher {
  readonly server: net.Server;
  private readonly engine: Engine;
  /** Rankings over the routable members, reporting slots; rebuilt on every membership change. */
  private rankings: Ranking;
  readonly members: MemberTable;
  private readonly gradualReturn: GradualReturn;
  private readonly waitSpill: WaitSpill | null;
  private readonly health: HealthView;
  private readonly healthIsLocal: boolean;
  private readonly log: Logger;
  /** Access lines: at info level whatever --log-level says (only --access-log governs them). */
  private readonly accessLog: Logger;
  private readonly keyHeader: boolean;
  /** Fraction of requests to log; a running sum makes the sample exact and deterministic. */
  private readonly sampleRate: number;
  private sampleCredit = 0;
  /** Someone listens to 'request'; kept up to date on listener changes, not looked up per request. */
  private reportsRequests = false;
  /** Dispatcher: access lines and 'request' events carry `ms`, so the engine times requests only when one is wanted. */
  timesRequests: boolean;
  private readonly healthListeners: Array<(slot: number, up: boolean, reason: string) => void> = [];
  private admin: AdminServer | null = null;
  /** Where membership changes are written (this table, a state file, a registry) and reloads read. */
  readonly store: MembershipStore;
  private readonly trafficStats = new TrafficStats();
  private prometheus: Metrics | null = null;
  /** Nodes up now, recounted on every health change (every node starts up). */
  private nodesUp: number;

  constructor(
    private readonly options: BalancerOptions,
    logger: Logger | undefined,
    healthView: BalancerInit['healthView'],
    members: MembersSnapshot | undefined,
    membership?: MembershipSource,
  ) {
    super();
    this.log = logger ?? createLogger(options.logLevel);
    this.accessLog = options.accessLog.kind === 'off' ? this.log : this.log.child({}, { level: 'info' });
    if (membership === undefined && (options.registry !== null || options.nodesDns !== null)) {
      const flag = options.registry !== null ? '--registry' : '--nodes-dns';
      throw new ConfigError(`${flag}: open it with openMembership() and pass the result as \`membership\``);
    }
    // A state file given to the library is read (or created) as the command does.
    const source =
      membership ?? localSource(members ?? startingMembers(options.stateFile, options.nodes).members, 'nodes', options.stateFile);
    this.members = MemberTable.fromSnapshot(source.members);
    const slots = this.members.all();
    const addresses = slots.map((m) => m.address);
    this.nodesUp = this.members.routable().length;
    this.rankings = routableRanking(this.members);
    this.gradualReturn = new GradualReturn(slots.length, options.warmup);
    const spill = options.waitSpill;
    this.waitSpill =
      spill === null ? null : new WaitSpill(slots.length, { ...DEFAULT_WAIT_SPILL, spillFrom: spill.from, spillFull: spill.full });
    this.keyHeader = options.hashKey.kind === 'header';
    const access = options.accessLog;
    this.sampleRate = access.kind === 'off' ? 0 : access.kind === 'on' ? 1 : access.rate;
    // Always: the duration histogram of /metrics counts every request.
    this.timesRequests = true;
    // 'newListener' fires before the listener is added, 'removeListener' after it is gone.
    this.on('newListener', (event: string | symbol) => {
      if (event === 'request') this.requestListeners(1);
    });
    this.on('removeListener', (event: string | symbol) => {
      if (event === 'request') this.requestListeners(0);
    });
    const onChange: HealthChangeListener = (index, up, reason, silent) => this.healthChanged(index, up, reason, silent);
    this.healthIsLocal = healthView === undefined;
    this.health =
      healthView === undefined ? new HealthChecker(addresses, healthCheckOptions(options), onChange) : healthView(slots.length, onChange);
    const endpoints: NodeEndpoint[] = addresses.map((n) => ({ id: n.id, host: n.host, port: n.port, basePath: n.basePath }));
    this.engine = new Engine(options, this, endpoints);
    for (const m of slots) {
      if (!m.removed) continue;
      this.health.removeNode(m.slot);
      this.engine.removeNode(m.slot);
    }
    this.server = this.engine.server;
    this.server.on('listening', () => this.health.start());
    // Last: a list that arrived since the source opened is applied through the table, engine and checks.
    this.store = source.attach(this);
  }

  // --- Dispatcher: what the engine asks of routing.

  ranking(head: RequestHead): readonly number[] {
    const key = this.routingKey(head);
    let ranking = this.rankings.rank(key);
    if (this.gradualReturn.active) ranking = this.gradualReturn.order(key, ranking);
    // Only functions some node reported waits for have an entry: the common case is one size check.
    if (this.waitSpill !== null && this.waitSpill.size > 0) ranking = this.waitSpill.order(key, ranking);
    return ranking;
  }

  reportWait(head: RequestHead, node: number, waitMs: number): void {
    this.waitSpill?.report(this.routingKey(head), node, waitMs);
  }

  /** Worked out once per request (ranking, wait reports and counters all ask) and kept on its head. */
  private routingKey(head: RequestHead): string {
    return (head.routingKey ??= this.keyHeader ? headerKey(head.hashValue, head.target) : functionKey(head.target));
  }

  isUp(index: number): boolean {
    return this.health.isUp(index);
  }

  upCount(): number {
    if (!this.gradualReturn.active) return this.nodesUp;
    // A warming node counts by its warmth: the others' bounds shrink only as it takes load back.
    let up = 0;
    for (const m of this.members.routable()) if (this.health.isUp(m.slot)) up += this.gradualReturn.progress(m.slot);
    return up;
  }

  warmth(index: number): number {
    return this.gradualReturn.progress(index);
  }

  nodeFailed(index: number, reason: string, silent: boolean): void {
    this.trafficStats.connectError(index);
    this.health.markDown(index, reason, silent);
  }

  private requestListeners(adding: number): void {
    this.reportsRequests = this.listenerCount('request') + adding > 0;
  }

  finished(o: RequestOutcome): void {
    this.countRequest(o);
    let info: RequestInfo | undefined;
    if (this.reportsRequests) {
      info = this.requestInfo(o);
      try {
        this.emit('request', info);
      } catch (err) {
        // A listener's exception must not unwind through the engine mid-request: report it as uncaught.
        process.nextTick(() => {
          throw err;
        });
      }
    }
    if (this.sampleRate === 0) return;
    this.sampleCredit += this.sampleRate;
    if (this.sampleCredit < 1) return;
    this.sampleCredit -= 1;
    // With both on, the access line logs the object the event carried (one routing key and object per
    // request; a listener that changes it changes the line).
    this.accessLog.info(info ?? this.requestInfo(o), 'request');
  }

  retried(reason: string): void {
    this.trafficStats.retry(reason);
  }

  /**
   * Counters of a finished request (plain numbers, read at scrape time). A call served by another node
   * than its function's owner says why: retried, owner down, owner full (bounded loads), or the ranking
   * was reordered for the owner's reported wait or a warming node.
   */
  private countRequest(o: RequestOutcome): void {
    const key = o.node === -1 ? null : this.routingKey(o.head);
    let owner = o.owner;
    let reason: FallbackReason | null = null;
    if (o.node !== -1) {
      if (o.attempts > 1) reason = 'retry';
      else if (o.node !== o.owner) reason = this.health.isUp(o.owner) ? 'full' : 'down';
      else if ((this.waitSpill !== null && this.waitSpill.size > 0) || this.gradualReturn.active) {
        // The ranking may have been reordered: the function's own owner is its plain ranking's first.
        const plain = this.rankings.rank(key!)[0] ?? o.owner;
        if (plain !== o.node) {
          owner = plain;
          reason = this.gradualReturn.progress(plain) < 1 ? 'warmup' : this.health.isUp(plain) ? 'wait' : 'down';
        }
      }
    }
    this.trafficStats.request(o.node, owner, o.status, o.ms / 1000, o.bytesIn, o.bytesOut, reason, key);
  }

  rejected(r: RejectedRequest): void {
    this.trafficStats.rejected(r.status);
    const log = this.sampleRate > 0;
    if (!log && this.listenerCount('rejected') === 0) return;
    const info: RejectedInfo = { client: r.client, status: r.status, reason: r.reason };
    if (r.method !== '') {
      info.method = r.method;
      info.target = r.target;
    }
    try {
      this.emit('rejected', info);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
    if (log) this.accessLog.info(info, 'rejected');
  }

  private requestInfo(o: RequestOutcome): RequestInfo {
    const node = o.node;
    const info: RequestInfo = {
      client: o.client,
      method: o.method,
      target: o.target,
      key: this.routingKey(o.head),
      node: node === -1 ? null : this.members.all()[node].address.id,
      status: o.status,
      attempts: o.attempts,
      bytesIn: o.bytesIn,
      bytesOut: o.bytesOut,
      ms: Math.round(o.ms * 100) / 100,
    };
    if (o.requestId !== '') info.requestId = o.requestId;
    if (o.reason !== '') info.reason = o.reason;
    if (o.cut) info.cut = true;
    return info;
  }

  private healthChanged(index: number, up: boolean, reason: string, silent: boolean): void {
    const member = this.members.all()[index];
    if (member === undefined || member.removed) return;
    const id = member.address.id;
    this.countUp();
    if (up) this.gradualReturn.nodeUp(index);
    else this.gradualReturn.nodeDown(index);
    if (!this.healthIsLocal) this.log.debug({ node: id, reason, up }, 'node state from primary');
    else logNodeState(this.log, id, up, reason);
    for (const listener of this.healthListeners) listener(index, up, reason);
    this.emit(up ? 'node-up' : 'node-down', id, reason);
    if (!up) this.engine.nodeDown(index, silent);
  }

  private countUp(): void {
    let up = 0;
    for (const m of this.members.routable()) if (this.health.isUp(m.slot)) up++;
    this.nodesUp = up;
  }

  // --- Membership.

  addNode(node: string | NodeAddress): void {
    const address = typeof node === 'string' ? parseNodeAddress(node) : node;
    this.changeMembers(() => this.members.add(address));
  }

  removeNode(node: string): void {
    this.changeMembers(() => this.members.remove(node));
  }

  drainNode(node: string): void {
    this.changeMembers(() => this.members.drain(node));
  }

  setNodeWeight(node: string, weight: number): void {
    this.changeMembers(() => this.members.setWeight(node, weight));
  }

  /** Follows another table (a worker following its primary): the same slots, the same changes. */
  setMembers(snapshot: MembersSnapshot): void {
    this.changeMembers(() => this.members.applySnapshot(snapshot));
  }

  /** Makes the members exactly this list (a reloaded state file); nodes kept keep their state. */
  replaceMembers(wanted: ReadonlyArray<{ address: NodeAddress; draining: boolean }>): readonly MemberChange[] {
    return this.changeMembers(() => this.members.replaceAll(wanted));
  }

  /**
   * Reads the membership's source again and applies it (SIGHUP): the state file, the registry, DNS.
   * Resolves with what happened, for the log; a missing or broken file changes nothing and says why.
   */
  reload(): Promise<string> {
    return this.store.reload();
  }

  /**
   * A change made where the membership is kept (the registry for every instance, the state file too),
   * resolved once applied here. Throws as MembershipStore.edit says.
   */
  edit(edit: MemberEdit): Promise<void> {
    return this.store.edit(edit);
  }

  /** Health as the checks in this process see it (null when the primary checks). */
  healthDetail(slot: number): HealthDetail | null {
    return this.health instanceof HealthChecker ? this.health.detail(slot) : null;
  }

  /** Makes a change to the membership and applies it (the admin API's way in); returns what changed. */
  change(fn: (table: MemberTable) => MemberChange[]): MemberChange[] {
    return this.changeMembers(() => fn(this.members));
  }

  rank(key: string): readonly number[] {
    return this.rankings.rank(key);
  }

  keyOfPath(path: string): string | null {
    return this.keyHeader ? null : functionKey(path);
  }

  isListening(): boolean {
    return this.server.listening;
  }

  onHealthChange(listener: (slot: number, up: boolean, reason: string) => void): void {
    this.healthListeners.push(listener);
  }

  /** Client connections open now (this process). */
  get clientConnections(): number {
    return this.engine.clientConnections;
  }

  /** This process's counters (what a worker sends its primary). */
  stats(): StatsSnapshot {
    return this.trafficStats.snapshot({
      inFlight: this.members.all().map((m) => this.engine.inFlight(m.slot)),
      clientConnections: this.engine.clientConnections,
    });
  }

  /** Traffic counters of this process, for the admin API. */
  traffic(): TrafficView {
    return trafficView(this.stats(), this.members.all());
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    this.prometheus ??= membersMetrics(
      async () => this.stats(),
      () => this.members.all(),
      (slot) => ({ up: this.health.isUp(slot), detail: this.healthDetail(slot) }),
      () => this.store.registry()?.up ?? null,
    );
    return { contentType: this.prometheus.contentType, body: await this.prometheus.render() };
  }

  private changeMembers(change: () => MemberChange[]): MemberChange[] {
    const changes = change();
    if (changes.length === 0) return changes;
    const all = this.members.all();
    for (const c of changes) {
      const m = all[c.slot];
      if (c.kind === 'added') {
        const a = m.address;
        this.engine.addNode(c.slot, { id: a.id, host: a.host, port: a.port, basePath: a.basePath });
        this.health.addNode(c.slot, a);
        // A new node takes its functions over gradually, as one that came back (--warmup).
        this.gradualReturn.nodeUp(c.slot);
      } else if (c.kind === 'removed') {
        this.health.removeNode(c.slot);
        this.gradualReturn.nodeDown(c.slot);
        this.engine.removeNode(c.slot);
      }
      this.log.info({ node: m.address.id, change: c.kind, weight: m.address.weight }, 'membership changed');
    }
    this.rankings = routableRanking(this.members);
    this.countUp();
    this.emit('members', changes);
    return changes;
  }

  // --- Balancer: the public face.

  async listen(port = this.options.listenPort, host = this.options.listenHost): Promise<{ host: string; port: number }> {
    const address = await this.engine.listen(port, host);
    // A node that is this very listener would send every request it owns round in a loop (each hop
    // adding X-Forwarded-For until the head is too large): refuse to run like that.
    const self = this.members
      .current()
      .map((m) => m.address)
      .find((n) => n.port === address.port && (n.host === address.address || isWildcard(address.address)));
    if (self !== undefined) {
      await this.close();
      throw new ConfigError(`node ${self.id} is fnlb's own listening address ${address.address}:${address.port}`);
    }
    const admin = this.options.adminListen;
    if (admin !== null) {
      this.admin = new AdminServer(new AdminApi(localHost(this), this.options, this.log), {
        token: this.options.adminToken,
        log: this.log,
      });
      try {
        const at = await this.admin.listen(admin.port, admin.host);
        this.adminAddress = { host: at.address, port: at.port };
      } catch (err) {
        await this.close();
        const e = err as NodeJS.ErrnoException;
        throw new ConfigError(`--admin-listen: cannot listen on ${admin.host}:${admin.port}: ${e.code ?? e.message}`);
      }
    }
    return { host: address.address, port: address.port };
  }

  /** Where the admin listener is (after listen()), null when off. */
  adminAddress: { host: string; port: number } | null = null;

  async close(): Promise<void> {
    this.health.stop();
    await this.store.stop();
    await this.admin?.close();
    await this.engine.close(this.options.shutdownTimeout);
  }

  nodes(): NodeStatus[] {
    return this.members.current().map((m) => ({
      node: m.address.id,
      state: this.health.isUp(m.slot) ? 'online' : 'offline',
      weight: m.address.weight,
      draining: m.draining,
      warmth: this.gradualReturn.progress(m.slot),
      inFlight: this.engine.inFlight(m.slot),
      health: this.healthDetail(m.slot),
    }));
  }
}

/** The log line of a node going down or coming back, wherever the health checks run. */
export function logNodeState(log: Logger, node: string, up: boolean, reason: string): void {
  if (up) log.info({ node, reason }, 'node up');
  else log.warn({ node, reason }, 'node down');
}

/** The health check settings of a balancer's options. */
export function healthCheckOptions(o: BalancerOptions) {
  return { interval: o.hcInterval, timeout: o.hcTimeout, path: o.hcPath, rise: o.hcHealthy, fall: o.hcUnhealthy };
}

/** A balancer for these nodes; call listen() to start it. */
export function createBalancer(init: BalancerInit): Balancer {
  return new FnBalancer(libraryOptions(init), init.logger, init.healthView, init.members, init.membership);
}

/** The balancer with what the command's admin API reads beyond the public face. */
export function createServingBalancer(init: BalancerInit): FnBalancer {
  return new FnBalancer(libraryOptions(init), init.logger, init.healthView, init.members, init.membership);
}

/**
 * The original's entry point: a ready-to-listen server that routes each function to its node by
 * consistent (rendezvous) hashing and falls back along the function's ranking. Health checks run while
 * it listens.
 */
export function consistentHashProxy(nodes: ReadonlyArray<string | NodeAddress>, init: Omit<BalancerInit, 'nodes'> = {}): net.Server {
  const balancer = new FnBalancer(libraryOptions({ ...init, nodes }), init.logger, init.healthView, init.members);
  const server = balancer.server;
  // server.close() here means the whole graceful stop, not just "stop accepting".
  server.close = ((cb?: (err?: Error) => void) => {
    balancer.close().then(() => cb?.(), cb);
    return server;
  }) as typeof server.close;
  return server;
}
