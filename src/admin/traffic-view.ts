import type { HealthDetail } from '../health/health-checker.js';
import type { Member } from '../membership/member-table.js';
import { createMetrics, type Metrics, type StatsSnapshot } from '../metrics/index.js';
import type { FunctionView, NodeCounters, TrafficView } from './host.js';

/** The admin API's reading of a (merged) stats snapshot: counters by slot, node ids instead of slots. */
export function trafficView(s: StatsSnapshot, members: readonly Member[]): TrafficView {
  const id = (slot: number) => members[slot]?.address.id ?? `slot ${slot}`;
  const from = new Map<number, number>();
  const to = new Map<number, number>();
  for (const f of s.fallbacks) {
    from.set(f.from, (from.get(f.from) ?? 0) + f.count);
    to.set(f.to, (to.get(f.to) ?? 0) + f.count);
  }
  const counters = (slot: number): NodeCounters => {
    const n = s.nodes[slot];
    if (n === undefined) return { inFlight: 0, requests: 0, errors: 0, fallbacksFrom: 0, fallbacksTo: 0 };
    return {
      inFlight: n.inFlight,
      requests: n.requests.reduce((a, b) => a + b, 0),
      errors: n.errors + n.connectErrors,
      fallbacksFrom: from.get(slot) ?? 0,
      fallbacksTo: to.get(slot) ?? 0,
    };
  };
  const functions: FunctionView[] = s.functions.map((f) => {
    const nodes: Record<string, number> = {};
    f.nodes.forEach((count, slot) => {
      if (count > 0) nodes[id(slot)] = count;
    });
    let owner: string | null = null;
    let best = -1;
    f.nodes.forEach((count, slot) => {
      if (count > best) ((best = count), (owner = id(slot)));
    });
    return { key: f.key, requests: f.requests, error: f.error, owner, ownerHits: f.ownerHits, spills: f.spills, retries: f.retries, nodes };
  });
  return {
    counters,
    recentFallbacks: s.recentFallbacks.map((f) => ({ at: f.at, key: f.key ?? '', from: id(f.from), to: id(f.to), reason: f.reason })),
    functions,
  };
}

/** Prometheus metrics over a snapshot source and the current members with their health. */
export function membersMetrics(
  snapshot: () => Promise<StatsSnapshot>,
  members: () => readonly Member[],
  health: (slot: number) => { up: boolean; detail: HealthDetail | null },
  registryUp: () => boolean | null = () => null,
): Metrics {
  return createMetrics({
    registryUp,
    snapshot,
    nodes: () =>
      members()
        .filter((m) => !m.removed)
        .map((m) => {
          const h = health(m.slot);
          const check = h.detail?.lastCheck ?? null;
          return { slot: m.slot, id: m.address.id, up: h.up, draining: m.draining, checkSeconds: check === null ? null : check.ms / 1000 };
        }),
  });
}
