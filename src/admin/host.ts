import type { HealthDetail } from '../health/health-checker.js';
import type { MemberChange, MemberTable } from '../membership/member-table.js';
import type { MembershipStore } from '../membership/sources.js';

/** Traffic figures of one node, summed over every serving process. */
export interface NodeCounters {
  readonly inFlight: number;
  readonly requests: number;
  readonly errors: number;
  readonly fallbacksFrom: number;
  readonly fallbacksTo: number;
}

export interface RecentFallback {
  /** Epoch ms. */
  readonly at: number;
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface FunctionView {
  readonly key: string;
  readonly requests: number;
  /** At most this much of `requests` may be an overcount (Space-Saving; see metrics/function-stats.ts). */
  readonly error: number;
  readonly owner: string | null;
  readonly ownerHits: number;
  readonly spills: Readonly<Record<'full' | 'wait' | 'down' | 'warmup', number>>;
  readonly retries: number;
  readonly nodes: Readonly<Record<string, number>>;
}

/** One read of the traffic counters (one scrape, one dashboard poll). */
export interface TrafficView {
  counters(slot: number): NodeCounters;
  readonly recentFallbacks: readonly RecentFallback[];
  readonly functions: readonly FunctionView[];
}

/**
 * What the admin API needs from the process that holds the membership: the serving process itself, or
 * the primary of --workers N (which relays every change to its workers and sums their counters).
 */
export interface AdminHost {
  /** Whose health view GET /v1/nodes shows. */
  readonly healthView: 'local' | 'primary';
  /** Read only: changes go through edit(). */
  readonly members: MemberTable;
  /** Where the membership is kept. */
  readonly store: MembershipStore;
  isUp(slot: number): boolean;
  health(slot: number): HealthDetail | null;
  /** 0..1 while the node warms up after joining or coming back. */
  warmth(slot: number): number;
  /** The ranking routing uses for this key, as slots, owner first. */
  rank(key: string): readonly number[];
  /** The routing key of a request target (the function, or null when routing is by header). */
  keyOfPath(path: string): string | null;
  /** The client listener is up. */
  listening(): boolean;
  traffic(): Promise<TrafficView>;
  /** Prometheus text. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Membership changes, whoever made them (the API, a reload). */
  onMembersChange(listener: (changes: readonly MemberChange[]) => void): void;
  /** Node state changes (from health checks or traffic) as they happen. */
  onHealthChange(listener: (slot: number, up: boolean, reason: string) => void): void;
}
