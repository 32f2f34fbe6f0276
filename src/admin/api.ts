/**
 * The admin API's endpoints, apart from HTTP: each takes the query and the raw body and returns a status
 * and a JSON value, or throws ApiError with the status and a message saying what is wrong.
 */
import { ConfigError } from '../errors.js';
import { parseNodeAddress } from '../config/parse-address.js';
import type { BalancerOptions } from '../config/options.js';
import type { Logger } from '../log.js';
import { MembershipError, type MemberChange } from '../membership/member-table.js';
import { ReadOnlyMembership, StateFileNotWritten, type MemberEdit } from '../membership/sources.js';
import { RegistryUnavailableError } from '../registry/registry.js';
import { redactUrl } from '../registry/url.js';
import { EventLog, type ClusterEventKind } from './events.js';
import type { AdminHost, TrafficView } from './host.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Result {
  readonly status: number;
  readonly body: unknown;
}

type Handler = (query: URLSearchParams, body: Buffer | undefined, node: string | undefined) => Result | Promise<Result>;

interface RouteSpec {
  /** Path with at most one `{node}` segment. */
  readonly pattern: string;
  readonly methods: Readonly<Record<string, Handler>>;
}

export type RouteMatch =
  | { kind: 'not-found' }
  | { kind: 'method'; allow: string[] }
  | { kind: 'ok'; takesBody: boolean; run: (query: URLSearchParams, body: unknown) => Result | Promise<Result> };

const CHANGE_EVENT: Record<MemberChange['kind'], ClusterEventKind> = {
  added: 'node-added',
  removed: 'node-removed',
  weight: 'weight',
  draining: 'node-draining',
  undrained: 'node-undrained',
};

export class AdminApi {
  readonly events = new EventLog();
  private readonly routes: RouteSpec[];
  /** The latest fallback already copied into the event log (epoch ms). */
  private lastFallbackAt = 0;

  constructor(
    private readonly host: AdminHost,
    private readonly options: BalancerOptions,
    private readonly log: Logger,
  ) {
    host.onHealthChange((slot, up, reason) => {
      const m = host.members.all()[slot];
      if (m !== undefined && !m.removed) this.events.add(up ? 'node-up' : 'node-down', m.address.id, reason);
    });
    host.onMembersChange((changes) => {
      const all = host.members.all();
      for (const c of changes) {
        const m = all[c.slot];
        this.events.add(CHANGE_EVENT[c.kind], m.address.id, c.kind === 'weight' ? `weight ${m.address.weight}` : c.kind);
      }
    });
    this.routes = [
      { pattern: '/v1/nodes', methods: { GET: () => this.listNodes(), POST: (_q, b) => this.addNode(b) } },
      {
        pattern: '/v1/nodes/{node}',
        methods: {
          GET: (_q, _b, n) => this.oneNode(n!),
          PATCH: (_q, b, n) => this.patchNode(n!, b),
          DELETE: (_q, _b, n) => this.deleteNode(n!, 'node deleted'),
        },
      },
      { pattern: '/v1/nodes/{node}/drain', methods: { POST: (_q, _b, n) => this.drain(n!, true) } },
      { pattern: '/v1/nodes/{node}/undrain', methods: { POST: (_q, _b, n) => this.drain(n!, false) } },
      { pattern: '/v1/route', methods: { GET: (q) => this.lookup(q) } },
      { pattern: '/v1/events', methods: { GET: (q) => this.listEvents(q) } },
      { pattern: '/v1/functions', methods: { GET: () => this.functions() } },
      { pattern: '/v1/config', methods: { GET: () => ({ status: 200, body: this.config() }) } },
      {
        pattern: '/1/lb/nodes',
        methods: {
          GET: () => this.fnprojectList(),
          PUT: (_q, b) => this.fnprojectAdd(b),
          // The node named in a body that is not a member is bad input (400), as fnproject's fnlb answers.
          DELETE: (_q, b) => this.deleteNode(nodeField(b).id, 'node deleted', 400),
        },
      },
    ];
  }

  route(method: string, path: string): RouteMatch {
    for (const spec of this.routes) {
      const node = matchPattern(spec.pattern, path);
      if (node === null) continue;
      const handler = spec.methods[method] ?? (method === 'HEAD' ? spec.methods['GET'] : undefined);
      if (handler === undefined) {
        const allow = Object.keys(spec.methods);
        if (allow.includes('GET')) allow.push('HEAD');
        return { kind: 'method', allow };
      }
      const takesBody = method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
      return { kind: 'ok', takesBody, run: (query, body) => handler(query, body as Buffer | undefined, node === '' ? undefined : node) };
    }
    return { kind: 'not-found' };
  }

  /**
   * /readyz: serving, and some node that gets requests is up. A registry that cannot be reached is said
   * but does not make the instance unready: it routes on the last node list it had.
   */
  ready(): Result {
    const registry = this.host.store.registry();
    const also = registry === null ? {} : { registry };
    if (!this.host.listening()) return { status: 503, body: { ready: false, reason: 'not listening yet', ...also } };
    const routable = this.host.members.routable();
    if (!routable.some((m) => this.host.isUp(m.slot))) {
      return { status: 503, body: { ready: false, reason: 'no node up - whole cluster seems offline', ...also } };
    }
    return { status: 200, body: { ready: true, ...also } };
  }

  /** Where the node list is kept, and for a registry whether it answers. */
  private membership(): Record<string, unknown> {
    const registry = this.host.store.registry();
    return { source: this.host.store.kind, ...(registry === null ? {} : { registry }) };
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.host.metrics();
  }

  // --- nodes

  private async listNodes(): Promise<Result> {
    const traffic = await this.traffic();
    return {
      status: 200,
      body: {
        healthView: this.host.healthView,
        membership: this.membership(),
        nodes: this.host.members.current().map((m) => this.nodeView(m.slot, traffic)),
      },
    };
  }

  private async oneNode(id: string): Promise<Result> {
    const m = this.member(id);
    return { status: 200, body: this.nodeView(m.slot, await this.traffic()) };
  }

  private nodeView(slot: number, traffic: TrafficView) {
    const h = this.host;
    const m = h.members.all()[slot];
    const health = h.health(slot);
    const routable = h.members.routable();
    const totalWeight = routable.reduce((sum, r) => sum + r.address.weight, 0);
    return {
      node: m.address.id,
      state: h.isUp(slot) ? 'up' : 'down',
      since: health === null ? null : new Date(health.since).toISOString(),
      reason: health?.reason ?? null,
      check:
        health?.lastCheck == null
          ? null
          : {
              ok: health.lastCheck.ok,
              detail: health.lastCheck.detail,
              ms: health.lastCheck.ms,
              at: new Date(health.lastCheck.at).toISOString(),
            },
      weight: m.address.weight,
      draining: m.draining,
      // Rendezvous hashing gives each node its weight's share of the functions.
      share: m.draining || totalWeight === 0 ? 0 : Math.round((m.address.weight / totalWeight) * 10_000) / 10_000,
      warmth: Math.round(h.warmth(slot) * 1000) / 1000,
      ...traffic.counters(slot),
    };
  }

  private async addNode(body: Buffer | undefined): Promise<Result> {
    const data = jsonObject(body);
    const address = nodeField(data);
    const weight = data['weight'];
    if (weight !== undefined && (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)) {
      throw new ApiError(400, `invalid weight ${JSON.stringify(weight)}; must be a positive number`);
    }
    const withWeight = weight === undefined ? address : { ...address, weight };
    await this.edit({ op: 'add', address: withWeight });
    const m = this.host.members.find(address.id)!;
    return { status: 201, body: { msg: 'node added', node: { node: m.address.id, weight: m.address.weight, draining: m.draining } } };
  }

  private async patchNode(id: string, body: Buffer | undefined): Promise<Result> {
    const data = jsonObject(body);
    const member = this.member(id);
    const unknown = Object.keys(data).filter((k) => k !== 'weight');
    if (unknown.length > 0) throw new ApiError(400, `unknown field ${JSON.stringify(unknown[0])} (only "weight" can be changed)`);
    if (data['weight'] === undefined) throw new ApiError(400, 'missing field "weight"');
    await this.edit({ op: 'weight', node: member.address.id, weight: data['weight'] as number });
    return { status: 200, body: { msg: 'weight set', node: { node: member.address.id, weight: data['weight'] } } };
  }

  private async deleteNode(id: string, msg: string, unknownStatus = 404): Promise<Result> {
    const member = this.member(id, unknownStatus);
    await this.edit({ op: 'remove', node: member.address.id });
    return { status: 200, body: { msg } };
  }

  private async drain(id: string, on: boolean): Promise<Result> {
    const member = this.member(id);
    await this.edit({ op: 'drain', node: member.address.id, draining: on });
    return { status: 200, body: { msg: on ? 'node draining' : 'node back in rotation' } };
  }

  /** A node named in a path: its id as written or in any spelling the address parser accepts. */
  private member(id: string, unknownStatus = 404) {
    let key = id;
    try {
      key = parseNodeAddress(id).id;
    } catch {
      // not an address: looked up as it is, and not found
    }
    const m = this.host.members.find(key);
    if (m === undefined) throw new ApiError(unknownStatus, `unknown node ${JSON.stringify(id)}`);
    return m;
  }

  /** An edit through the membership's store, its refusals as API errors. */
  private async edit(edit: MemberEdit): Promise<void> {
    try {
      await this.host.store.edit(edit);
    } catch (err) {
      if (err instanceof MembershipError) throw new ApiError(err.kind === 'unknown' ? 404 : 400, err.message);
      if (err instanceof RegistryUnavailableError) {
        throw new ApiError(503, `registry unavailable, nothing changed (every instance keeps the last node list): ${err.message}`);
      }
      if (err instanceof ReadOnlyMembership) throw new ApiError(409, err.message);
      if (err instanceof StateFileNotWritten) {
        this.log.error({ path: this.options.stateFile, err: err.message }, 'cannot write the state file');
        throw new ApiError(500, err.message);
      }
      throw err;
    }
  }

  // --- routing, events, functions, config

  private lookup(query: URLSearchParams): Result {
    const path = query.get('path');
    const rawKey = query.get('key');
    if (path === null && rawKey === null) throw new ApiError(400, 'missing query parameter "path" (e.g. ?path=/r/app/fn) or "key"');
    let key: string | null = rawKey;
    if (key === null) {
      if (!path!.startsWith('/')) throw new ApiError(400, `invalid path ${JSON.stringify(path)} (must start with /)`);
      key = this.host.keyOfPath(path!);
      if (key === null) throw new ApiError(400, 'routing is by header (--hash-key header:...): ask with ?key=<header value>');
    }
    const ranking = this.host.rank(key);
    const all = this.host.members.all();
    const nodes = ranking.map((slot) => ({
      node: all[slot].address.id,
      state: this.host.isUp(slot) ? 'up' : 'down',
      draining: all[slot].draining,
      weight: all[slot].address.weight,
    }));
    const target = nodes.find((n) => n.state === 'up')?.node ?? null;
    return { status: 200, body: { ...(path === null ? {} : { path }), key, target, ranking: nodes } };
  }

  private async listEvents(query: URLSearchParams): Promise<Result> {
    const after = Number(query.get('after') ?? 0);
    if (!Number.isSafeInteger(after) || after < 0) throw new ApiError(400, 'invalid "after" (a sequence number from an earlier answer)');
    await this.traffic();
    return { status: 200, body: { events: this.events.after(after) } };
  }

  private async functions(): Promise<Result> {
    return { status: 200, body: { functions: (await this.traffic()).functions } };
  }

  /** The effective settings, as the command line would spell them where it matters; the token never leaves. */
  config(): Record<string, unknown> {
    const o = this.options;
    return {
      ...o,
      nodes: this.host.members.current().map((m) => m.address.id),
      membership: this.host.store.kind,
      adminToken: o.adminToken === null ? null : '<redacted>',
      registry: o.registry === null ? null : redactUrl(o.registry),
    };
  }

  private fnprojectList(): Result {
    const nodes: Record<string, string> = {};
    for (const m of this.host.members.current()) nodes[m.address.id] = this.host.isUp(m.slot) ? 'online' : 'offline';
    return { status: 200, body: { nodes } };
  }

  private async fnprojectAdd(body: Buffer | undefined): Promise<Result> {
    await this.edit({ op: 'add', address: nodeField(body) });
    return { status: 200, body: { msg: 'node added' } };
  }

  /** One read of the counters; new fallbacks go into the event log as they are seen. */
  private async traffic(): Promise<TrafficView> {
    const view = await this.host.traffic();
    for (const f of view.recentFallbacks) {
      if (f.at <= this.lastFallbackAt) continue;
      this.events.add('fallback', f.from, `${f.key} → ${f.to} (${f.reason})`, f.at);
      this.lastFallbackAt = f.at;
    }
    return view;
  }
}

/** `/v1/nodes/{node}/drain` against `/v1/nodes/127.0.0.1%3A9001/drain`: the decoded node, '' for no placeholder, null for no match. */
function matchPattern(pattern: string, path: string): string | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  let node = '';
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '{node}') {
      try {
        node = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
      if (node === '') return null;
    } else if (want[i] !== got[i]) return null;
  }
  return node;
}

function jsonObject(body: Buffer | undefined): Record<string, unknown> {
  if (body === undefined || body.length === 0) throw new ApiError(400, 'missing JSON body');
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ApiError(400, 'the body must be a JSON object');
  return data as Record<string, unknown>;
}

/** The "node" field of a body as an address. */
function nodeField(data: Record<string, unknown> | Buffer | undefined) {
  const obj = data === undefined || Buffer.isBuffer(data) ? jsonObject(data) : data;
  const node = obj['node'];
  if (node === undefined) throw new ApiError(400, 'missing field "node" (e.g. {"node": "10.0.0.4:8080"})');
  if (typeof node !== 'string') throw new ApiError(400, 'field "node" must be a string "host:port"');
  try {
    return parseNodeAddress(node);
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiError(400, err.message);
    throw err;
  }
}
