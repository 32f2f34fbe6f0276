/**
 * Nodes from DNS (--nodes-dns), for Kubernetes headless services and the like:
 *
 *   name:port                 every A and AAAA address of name, each a node ip:port (weight 1)
 *   srv:_http._tcp.name       every SRV record: its target's addresses at its port, SRV weight as the
 *                             node weight (1 when 0); priorities are not used (all records count)
 *
 * Re-resolved every intervalMs; onMembers gets the full list (sorted by node id) only when it changes.
 * A lookup that fails, or finds no address at all, keeps the last answer: a DNS hiccup must not empty
 * the node list. An error for one address family or one SRV target that is not "no such name / no
 * data" fails the whole lookup too, so that a timeout never drops half the nodes.
 */
import { Resolver } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import { parseNodeAddress } from '../config/parse-address.js';
import type { RegistryEntry } from '../registry/registry.js';

export type DnsSpec =
  { readonly kind: 'host'; readonly name: string; readonly port: number } | { readonly kind: 'srv'; readonly name: string };

export interface DnsDiscoveryOptions {
  /** 'name:port' or 'srv:_service._proto.name' (see parseDnsSpec). */
  readonly spec: string | DnsSpec;
  /** Re-resolution period. Default 5 s. */
  readonly intervalMs?: number;
  readonly log: Logger;
  readonly onMembers: (entries: RegistryEntry[]) => void;
  /** For tests (setServers to a local port); default: the system's servers, 2 s timeout, 2 tries. */
  readonly resolver?: Resolver;
}

const LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?)$/;

function checkName(name: string, text: string): string {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower === '' || lower.length > 253 || !lower.split('.').every((l) => l.length <= 63 && LABEL.test(l))) {
    throw new ConfigError(`--nodes-dns: invalid name in ${JSON.stringify(text)}; use name:port or srv:_http._tcp.name`);
  }
  return lower;
}

/** Parses --nodes-dns; throws ConfigError saying what is wrong. */
export function parseDnsSpec(text: string): DnsSpec {
  const t = text.trim();
  if (t.toLowerCase().startsWith('srv:')) {
    const name = checkName(t.slice(4), text);
    if (!/^_[^.]+\._(?:tcp|udp)\./.test(name)) {
      throw new ConfigError(`--nodes-dns: SRV name ${JSON.stringify(name)} should look like _http._tcp.name (service, protocol, name)`);
    }
    return { kind: 'srv', name };
  }
  const colon = t.lastIndexOf(':');
  if (colon < 0) throw new ConfigError(`--nodes-dns: missing port in ${JSON.stringify(text)}; use name:port or srv:_http._tcp.name`);
  const portText = t.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new ConfigError(`--nodes-dns: invalid port ${JSON.stringify(portText)} in ${JSON.stringify(text)}; must be 1..65535`);
  }
  const host = t.slice(0, colon);
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0)
    throw new ConfigError(`--nodes-dns: ${JSON.stringify(host)} is an address, not a name; use --nodes`);
  return { kind: 'host', name: checkName(host, text), port };
}

/** Shown in logs and errors. */
export function formatDnsSpec(spec: DnsSpec): string {
  return spec.kind === 'srv' ? `srv:${spec.name}` : `${spec.name}:${spec.port}`;
}

/** "No such name" and "no records of that type": a definite empty answer, not a failure. */
function isNoData(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

export class DnsDiscovery {
  readonly spec: DnsSpec;
  private readonly shown: string;
  private readonly intervalMs: number;
  private readonly resolver: Resolver;
  private readonly ownResolver: boolean;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private current: RegistryEntry[] = [];
  private key: string | null = null;
  private failing = false;

  constructor(private readonly options: DnsDiscoveryOptions) {
    this.spec = typeof options.spec === 'string' ? parseDnsSpec(options.spec) : options.spec;
    this.shown = formatDnsSpec(this.spec);
    this.intervalMs = options.intervalMs ?? 5000;
    if (!(this.intervalMs > 0)) throw new ConfigError('--dns-interval: must be positive');
    this.ownResolver = options.resolver === undefined;
    this.resolver = options.resolver ?? new Resolver({ timeout: 2000, tries: 2 });
  }

  /** The last answer (sorted by node). */
  get members(): readonly RegistryEntry[] {
    return this.current;
  }

  /**
   * Resolves once, calls onMembers and re-resolves every intervalMs from then on. Rejects (and stops)
   * when this first lookup fails: there is no last answer to keep yet.
   */
  async start(): Promise<RegistryEntry[]> {
    let entries: RegistryEntry[];
    try {
      entries = await this.lookup();
    } catch (err) {
      this.stop();
      throw new Error(`--nodes-dns ${this.shown}: ${(err as Error).message}`);
    }
    this.apply(entries);
    this.schedule();
    return entries;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.ownResolver) this.resolver.cancel();
  }

  /** One resolution, without side effects; rejects on a failure or an answer without any address. */
  async lookup(): Promise<RegistryEntry[]> {
    const found = new Map<string, RegistryEntry>();
    const put = (ip: string, port: number, weight: number): void => {
      const id = parseNodeAddress(isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`).id;
      if (!found.has(id)) found.set(id, { node: id, weight, draining: false });
    };
    if (this.spec.kind === 'host') {
      const port = this.spec.port;
      for (const ip of await this.addresses(this.spec.name)) put(ip, port, 1);
    } else {
      const records = await this.resolver.resolveSrv(this.spec.name);
      const targets = await Promise.all(
        records.map(async (r) => ({ r, ips: isIP(r.name) !== 0 ? [r.name] : await this.addresses(r.name).catch(orNone) })),
      );
      for (const { r, ips } of targets) for (const ip of ips) put(ip, r.port, r.weight > 0 ? r.weight : 1);
    }
    if (found.size === 0) throw Object.assign(new Error('no address found'), { code: 'ENODATA' });
    return [...found.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** A and AAAA together; a definite "none" for one family is fine, any other error fails. */
  private async addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name), this.resolver.resolve6(name)]);
    const out: string[] = [];
    let none = 0;
    for (const r of [v4, v6]) {
      if (r.status === 'fulfilled') out.push(...r.value);
      else if (isNoData(r.reason)) none++;
      else throw r.reason;
    }
    if (none === 2) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' });
    return out;
  }

  private schedule(): void {
    if (this.stopped) return;
    // A chain of timeouts, not an interval: a slow lookup never overlaps the next one.
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    try {
      const entries = await this.lookup();
      if (this.stopped) return;
      if (this.failing) this.options.log.info({ dns: this.shown, nodes: entries.length }, 'dns lookup ok again');
      this.failing = false;
      this.apply(entries);
    } catch (err) {
      if (this.stopped) return;
      if (!this.failing) {
        const e = err as { code?: string; message?: string };
        this.options.log.warn(
          { dns: this.shown, err: e.code ?? e.message, nodes: this.current.length },
          'dns lookup failed; keeping the last nodes',
        );
      }
      this.failing = true;
    }
    this.schedule();
  }

  private apply(entries: RegistryEntry[]): void {
    const key = JSON.stringify(entries);
    if (key === this.key) return;
    this.current = entries;
    try {
      this.options.onMembers(entries);
      this.key = key;
    } catch (err) {
      this.options.log.warn({ dns: this.shown, err: (err as Error).message }, 'dns node list not applied');
    }
  }
}

/** An SRV target with no such name is left out (its record is stale); any other error fails the lookup. */
function orNone(err: unknown): string[] {
  if (isNoData(err)) return [];
  throw err;
}
