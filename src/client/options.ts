import type { NodeAddress } from '../membership/address.js';
import type { BalancerOptions, HashKeySource } from '../config/options.js';
import { resolveSomeOptions } from '../config/resolve.js';

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

/** Checked options, every field set. */
export type ResolvedFallbackOptions = Readonly<Pick<BalancerOptions, (typeof KEYS)[number]>>;

/**
 * Defaults merged and every value checked by the balancer's own option checks (a ConfigError naming the
 * flag, with the message fnlb gives for the same value). Unknown fields are refused.
 */
export function resolveFallbackOptions(init: FallbackDispatcherOptions): ResolvedFallbackOptions {
  return resolveSomeOptions(init, KEYS);
}
