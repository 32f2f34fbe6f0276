/**
 * Prometheus exposition. Nothing here runs per request: at scrape time each metric's get() reads the
 * one snapshot taken for that scrape (a private Registry, not prom-client's global one). Our metrics
 * are small custom metric objects returning their samples, because prom-client's Histogram and Counter
 * cannot be set to values counted elsewhere.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { NodeTraffic, StatsSnapshot } from './traffic-stats.js';

export interface MetricsNode {
  slot: number;
  id: string;
  up: boolean;
  draining: boolean;
  /** Latency of the last health probe, null before the first one. */
  checkSeconds: number | null;
}

export interface MetricsSource {
  /** Aggregated traffic (one process or the merged workers). */
  snapshot(): Promise<StatsSnapshot>;
  /** Current members only, so a removed node's series disappear. */
  nodes(): MetricsNode[];
  /** Registry connection; null = no registry (the metric is left out). */
  registryUp?(): boolean | null;
}

export interface Metrics {
  render(): Promise<string>;
  contentType: string;
}

type Labels = Record<string, string | number>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}
interface Scrape {
  snap: StatsSnapshot;
  nodes: MetricsNode[];
}

const CLASS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'];
const OUTCOMES = [
  ['owner', (f: StatsSnapshot['functions'][number]) => f.ownerHits],
  ['spill_full', (f: StatsSnapshot['functions'][number]) => f.spills.full],
  ['spill_wait', (f: StatsSnapshot['functions'][number]) => f.spills.wait],
  ['spill_down', (f: StatsSnapshot['functions'][number]) => f.spills.down],
  ['spill_warmup', (f: StatsSnapshot['functions'][number]) => f.spills.warmup],
  ['retry', (f: StatsSnapshot['functions'][number]) => f.retries],
] as const;

export function createMetrics(source: MetricsSource): Metrics {
  const register = new Registry();
  collectDefaultMetrics({ register });

  // One snapshot per scrape: the first metric asking starts it, the others of the same scrape share it.
  let current: Promise<Scrape> | null = null;
  const scrape = (): Promise<Scrape> => {
    if (current === null) {
      current = source.snapshot().then((snap) => ({ snap, nodes: source.nodes() }));
      const clear = (): void => {
        current = null;
      };
      current.then(clear, clear);
    }
    return current;
  };

  const define = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: (s: Scrape) => Sample[]): void => {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: samples(await scrape()) }),
    };
    register.registerMetric(metric as unknown as Metric);
  };
  const perNode = (s: Scrape, value: (n: MetricsNode, t: NodeTraffic | undefined) => number | null): Sample[] => {
    const out: Sample[] = [];
    for (const n of s.nodes) {
      const v = value(n, s.snap.nodes[n.slot]);
      if (v !== null) out.push({ labels: { node: n.id }, value: v });
    }
    return out;
  };
  /** Traffic rows of current members, plus "none" (requests that reached no node). */
  const trafficRows = (s: Scrape): Array<[string, NodeTraffic]> => {
    const rows: Array<[string, NodeTraffic]> = [];
    for (const n of s.nodes) {
      const t = s.snap.nodes[n.slot];
      if (t !== undefined) rows.push([n.id, t]);
    }
    rows.push(['none', s.snap.none]);
    return rows;
  };
  const slotId = (s: Scrape): Map<number, string> => new Map(s.nodes.map((n) => [n.slot, n.id]));

  define('fnlb_requests_total', 'Requests finished, by last node tried and status class.', 'counter', (s) =>
    trafficRows(s).flatMap(([node, t]) =>
      t.requests.flatMap((v, i) => (v > 0 ? [{ labels: { node, code: CLASS_LABELS[i]! }, value: v }] : [])),
    ),
  );
  define('fnlb_request_duration_seconds', 'Request duration, from request head to end of response, by last node tried.', 'histogram', (s) =>
    trafficRows(s).flatMap(([node, t]) => {
      const out: Sample[] = [];
      let cumulative = 0;
      t.duration.counts.forEach((c, i) => {
        cumulative += c;
        const le = i < s.snap.buckets.length ? s.snap.buckets[i]! : '+Inf';
        out.push({ metricName: 'fnlb_request_duration_seconds_bucket', labels: { le, node }, value: cumulative });
      });
      out.push({ metricName: 'fnlb_request_duration_seconds_sum', labels: { node }, value: t.duration.sum });
      out.push({ metricName: 'fnlb_request_duration_seconds_count', labels: { node }, value: t.duration.count });
      // A node that served nothing yet gets no series (keeps "none" quiet when nothing failed that way).
      return t.duration.count > 0 ? out : [];
    }),
  );
  define('fnlb_node_connect_errors_total', 'Failed connection attempts to a node.', 'counter', (s) =>
    perNode(s, (_, t) => t?.connectErrors ?? 0),
  );
  define('fnlb_fallbacks_total', 'Requests owned by one node (from) but served by another (to).', 'counter', (s) => {
    const ids = slotId(s);
    return s.snap.fallbacks.flatMap((f) => {
      const from = ids.get(f.from);
      const to = ids.get(f.to);
      return from !== undefined && to !== undefined ? [{ labels: { from, to }, value: f.count }] : [];
    });
  });
  define('fnlb_retries_total', 'Requests re-sent to another node, by reason.', 'counter', (s) =>
    Object.entries(s.snap.retries).map(([reason, value]) => ({ labels: { reason }, value })),
  );
  define('fnlb_node_up', '1 when the node passes its health checks.', 'gauge', (s) => perNode(s, (n) => (n.up ? 1 : 0)));
  define('fnlb_node_draining', '1 when the node is draining (takes no new functions).', 'gauge', (s) =>
    perNode(s, (n) => (n.draining ? 1 : 0)),
  );
  define('fnlb_health_check_duration_seconds', 'Latency of the last health check of the node.', 'gauge', (s) =>
    perNode(s, (n) => n.checkSeconds),
  );
  define('fnlb_node_in_flight', 'Requests in flight to the node.', 'gauge', (s) => perNode(s, (_, t) => t?.inFlight ?? 0));
  define('fnlb_client_connections', 'Open client connections.', 'gauge', (s) => [{ labels: {}, value: s.snap.clientConnections }]);
  define('fnlb_received_bytes_total', 'Request bytes received from clients, by last node tried.', 'counter', (s) =>
    perNode(s, (_, t) => t?.bytesIn ?? 0),
  );
  define('fnlb_sent_bytes_total', 'Response bytes sent to clients, by last node tried.', 'counter', (s) =>
    perNode(s, (_, t) => t?.bytesOut ?? 0),
  );
  define('fnlb_rejected_requests_total', 'Requests fnlb answered itself (bad request, too many connections...).', 'counter', (s) =>
    Object.entries(s.snap.rejected).map(([code, value]) => ({ labels: { code }, value })),
  );
  define('fnlb_function_requests_total', 'Requests of the top functions (bounded top-K), by outcome.', 'counter', (s) =>
    s.snap.functions.flatMap((f) => OUTCOMES.map(([outcome, value]) => ({ labels: { function: f.key, outcome }, value: value(f) }))),
  );
  if (source.registryUp !== undefined) {
    const registryUp = source.registryUp.bind(source);
    define('fnlb_registry_up', '1 when the registry connection is up.', 'gauge', () => {
      const up = registryUp();
      return up === null ? [] : [{ labels: {}, value: up ? 1 : 0 }];
    });
  }

  return { render: () => register.metrics(), contentType: register.contentType };
}
