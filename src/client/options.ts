import { ConfigError } from '../errors.js';
import type { NodeAddress } from '../membership/address.js';
import { nearest } from '../config/nearest.js';
import { DEFAULT_OPTIONS, type BalancerOptions, type HashKeySource } from '../config/options.js';
import { parseNodeAddress } from '../config/parse-address.js';
import { naming, OPTION_OF_KEY } from '../config/table.js';

/**
 * Options of createFallbackDispatcher. Each has the meaning, default and checks of the balancer option
 * of the same name (durations in milliseconds), so one node list and hash key route alike in both.
 */
export interface FallbackDispatcherOptions {
  /** Function nodes, as for fnlb: "host:port", "http://host:port/base", with an optional "=weight". */
  nodes: ReadonlyArray<string | NodeAddress>;
  /** Routing key: the function called (default) or a request header. */
  hashKey?: HashKeySource;
  /** Time between two probes of a dead node (default 1000). */
  hcInterval?: number;
  /** A probe not answered within this fails (default 1000). */
  hcTimeout?: number;
  /** Path a probe GETs (2xx = alive, default "/version"); "" = a TCP connect probe. */
  hcPath?: string;
  /** Give up connecting to a node after this, then try the next node (default 2000). */
  connectTimeout?: number;
  /** Longest wait for a response head once the request is sent (default 300000). */
  responseTimeout?: number;
  /** Idle pooled connections to a node are closed after this (default 4000). */
  upstreamIdleTimeout?: number;
  /** Also re-send a POST or PATCH whose body was kept when the node reset the connection before answering (default false). */
  retryOnReset?: boolean;
}

/** Checked options, every field set. */
export interface ResolvedFallbackOptions {
  readonly nodes: readonly NodeAddress[];
  readonly hashKey: HashKeySource;
  readonly hcInterval: number;
  readonly hcTimeout: number;
  readonly hcPath: string;
  readonly connectTimeout: number;
  readonly responseTimeout: number;
  readonly upstreamIdleTimeout: number;
  readonly retryOnReset: boolean;
}

const KEYS = [
  'nodes',
  'hashKey',
  'hcInterval',
  'hcTimeout',
  'hcPath',
  'connectTimeout',
  'responseTimeout',
  'upstreamIdleTimeout',
  'retryOnReset',
] as const satisfies ReadonlyArray<keyof FallbackDispatcherOptions & keyof BalancerOptions>;

/**
 * Defaults merged and every value checked by the balancer's own option checks (a ConfigError naming the
 * flag, with the message fnlb gives for the same value). Unknown fields are refused.
 */
export function resolveFallbackOptions(init: FallbackDispatcherOptions): ResolvedFallbackOptions {
  if (typeof init !== 'object' || init === null) {
    throw new ConfigError(`invalid options ${String(init)} (use an object, e.g. { nodes: ['10.0.0.1:8080'] })`);
  }
  const known: ReadonlySet<string> = new Set(KEYS);
  const merged: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (const [key, value] of Object.entries(init)) {
    if (!known.has(key)) {
      const best = nearest(key, KEYS);
      throw new ConfigError(`unknown option ${JSON.stringify(key)}${best === undefined ? '' : ` (did you mean ${best}?)`}`);
    }
    if (value !== undefined) merged[key] = value;
  }
  if (Array.isArray(merged['nodes'])) {
    const nodes: unknown[] = merged['nodes'];
    merged['nodes'] = naming('--nodes', () => nodes.map((n) => (typeof n === 'string' ? parseNodeAddress(n) : n)));
  }
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const spec = OPTION_OF_KEY.get(key)!;
    naming(spec.flag, () => {
      const value = spec.get(merged as unknown as BalancerOptions);
      spec.check(value);
      out[key] = value;
    });
  }
  return out as unknown as ResolvedFallbackOptions;
}
