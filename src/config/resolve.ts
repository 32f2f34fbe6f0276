import { ConfigError } from '../errors.js';
import type { NodeAddress } from '../membership/address.js';
import { nearest } from './nearest.js';
import { DEFAULT_OPTIONS, type BalancerOptions } from './options.js';
import { parseNodeAddress } from './parse-address.js';
import { naming, OPTION_OF_KEY, OPTIONS, type OptionSpec } from './table.js';

/** Options as the library takes them: any BalancerOptions field, with nodes as addresses or parsed NodeAddress. */
export type OptionsInit = Partial<Omit<BalancerOptions, 'nodes'>> & { nodes: ReadonlyArray<string | NodeAddress> };

/**
 * Library options → checked BalancerOptions, through the same checks (and messages, naming the flag) as
 * the command line. Missing or undefined fields take their defaults. `libraryOnly` names fields the
 * caller handles itself (a logger...); any other field that is not an option is refused, so a typo does
 * not silently leave an option at its default. `workers` must be 1: this process cannot fork.
 */
export function resolveLibraryOptions(init: OptionsInit, libraryOnly: ReadonlySet<string>): BalancerOptions {
  const options = checkOptions(init, OPTIONS, libraryOnly);
  checkAdminExposure(options);
  if (options.workers !== 1) {
    throw new ConfigError(
      `--workers: the library serves from this one process (workers must be 1); for ${options.workers} worker processes run the fnlb command with --workers`,
    );
  }
  return options;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An admin API anyone on the network can reach must ask for a token. */
export function checkAdminExposure(options: Pick<BalancerOptions, 'adminListen' | 'adminToken'>): void {
  const admin = options.adminListen;
  if (admin === null || options.adminToken !== null || isLoopback(admin.host)) return;
  const shown = admin.host.includes(':') ? `[${admin.host}]:${admin.port}` : `${admin.host}:${admin.port}`;
  throw new ConfigError(
    `--admin-listen: ${shown} is not a loopback address and no --admin-token is set; set one (or FNLB_ADMIN_TOKEN) to expose the admin API, or listen on 127.0.0.1`,
  );
}

/**
 * The same for a part of the options (another component that shares some of fnlb's settings, such as
 * the fallback dispatcher): only `keys` are taken, checked and returned; any other field is refused.
 */
export function resolveSomeOptions<K extends keyof BalancerOptions>(init: object, keys: readonly K[]): Pick<BalancerOptions, K> {
  const specs = [...new Set(keys.map((k) => OPTION_OF_KEY.get(k)!))];
  return checkOptions(init, specs, new Set());
}

/** Defaults merged, node strings parsed, unknown fields refused, then each option's check and store. */
function checkOptions(init: object, specs: readonly OptionSpec[], libraryOnly: ReadonlySet<string>): BalancerOptions {
  if (typeof init !== 'object' || init === null) {
    throw new ConfigError(`invalid options ${String(init)} (use an object, e.g. { nodes: ['10.0.0.1:8080'] })`);
  }
  const known = specs.filter((spec) => !spec.alias).flatMap((spec) => spec.keys);
  const merged: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (const [key, value] of Object.entries(init)) {
    if (libraryOnly.has(key)) continue;
    if (!known.includes(key as keyof BalancerOptions)) {
      const best = nearest(key, [...known, ...libraryOnly]);
      throw new ConfigError(`unknown option ${JSON.stringify(key)}${best === undefined ? '' : ` (did you mean ${best}?)`}`);
    }
    if (value !== undefined) merged[key] = value;
  }
  if (Array.isArray(merged['nodes'])) {
    const nodes: unknown[] = merged['nodes'];
    merged['nodes'] = naming('--nodes', () => nodes.map((n) => (typeof n === 'string' ? parseNodeAddress(n) : n)));
  }

  const options = {} as BalancerOptions;
  for (const option of specs) {
    if (option.alias) continue;
    naming(option.flag, () => {
      const value = option.get(merged as unknown as BalancerOptions);
      option.check(value);
      option.set(options, value);
    });
  }
  // Stored key by key, the object went to V8's dictionary mode (more than a dozen properties added by
  // computed name), where every read of an option is a hash lookup the optimizer cannot inline, and the
  // engine reads several per request. A spread copy has a fixed shape.
  return { ...options };
}

/**
 * Where the node list comes from: --nodes alone, --state-file (seeded from --nodes), --registry (seeded
 * from --nodes when its table is empty) or --nodes-dns (nothing else). One place keeps it at a time.
 */
export function checkMembershipSources(options: Pick<BalancerOptions, 'nodes' | 'stateFile' | 'registry' | 'nodesDns'>): void {
  const kept = [
    options.stateFile !== null ? '--state-file' : null,
    options.registry !== null ? '--registry' : null,
    options.nodesDns !== null ? '--nodes-dns' : null,
  ].filter((f) => f !== null);
  if (kept.length > 1) throw new ConfigError(`${kept[1]}: give only one of ${kept.join(', ')} (each keeps the node list)`);
  if (options.nodesDns !== null && options.nodes.length > 0) {
    throw new ConfigError('--nodes-dns: the nodes come from DNS; leave out --nodes (FNLB_NODES)');
  }
  if (options.nodes.length === 0 && kept.length === 0) {
    throw new ConfigError('--nodes: no nodes given (set --nodes or FNLB_NODES, e.g. --nodes 10.0.0.1:8080,10.0.0.2:8080)');
  }
}
