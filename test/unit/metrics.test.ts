/** Traffic counters, their snapshots and merge, and the Prometheus text they become. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, mergeSnapshots, TrafficStats, type MetricsNode, type StatsSnapshot } from '../../src/metrics/index.js';

const NODES: MetricsNode[] = [
  { slot: 0, id: '10.0.0.1:8080', up: true, draining: false, checkSeconds: 0.002 },
  { slot: 1, id: '10.0.0.2:8080', up: false, draining: true, checkSeconds: null },
];

/** Known traffic: 3 on node 0 (one a 503), 1 fallback 0 → 1, 1 with no node. */
function knownTraffic(stats = new TrafficStats()): TrafficStats {
  stats.request(0, 0, 200, 0.0004, 10, 100, null, 'app/a');
  stats.request(0, 0, 204, 0.003, 20, 200, null, 'app/a');
  stats.request(0, 0, 503, 0.2, 0, 50, null, 'app/b');
  stats.request(1, 0, 200, 20, 5, 5, 'down', 'app/a');
  stats.request(-1, -1, 503, 0.001, 0, 30, null, 'app/c');
  stats.retry('reset');
  stats.retry('reset');
  stats.retry('not-executed');
  stats.connectError(1);
  stats.rejected(400);
  stats.rejected(503);
  return stats;
}

const gauges = { inFlight: [2, 0], clientConnections: 7 };

/** Prometheus text → { 'name{labels}': value } and { name: type }. */
function parse(text: string): { values: Map<string, number>; types: Map<string, string> } {
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else if (line !== '' && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      const v = line.slice(i + 1);
      values.set(line.slice(0, i), v === '+Inf' ? Infinity : Number(v));
    }
  }
  return { values, types };
}

function render(snap: StatsSnapshot, nodes = NODES, registryUp?: () => boolean | null) {
  const metrics = createMetrics({ snapshot: async () => snap, nodes: () => nodes, ...(registryUp ? { registryUp } : {}) });
  return metrics.render().then(parse);
}

describe('TrafficStats → Prometheus', () => {
  it('renders known traffic as exact series', async () => {
    const { values, types } = await render(knownTraffic().snapshot(gauges));
    const expect = (series: string, value: number): void => assert.equal(values.get(series), value, series);
    for (const c of [
      'requests',
      'node_connect_errors',
      'fallbacks',
      'retries',
      'received_bytes',
      'sent_bytes',
      'rejected_requests',
      'function_requests',
    ]) {
      assert.equal(types.get(`fnlb_${c}_total`), 'counter', c);
    }
    assert.equal(types.get('fnlb_request_duration_seconds'), 'histogram');
    for (const g of ['node_up', 'node_draining', 'health_check_duration_seconds', 'node_in_flight', 'client_connections'])
      assert.equal(types.get(`fnlb_${g}`), 'gauge');
    expect('fnlb_requests_total{node="10.0.0.1:8080",code="2xx"}', 2);
    expect('fnlb_requests_total{node="10.0.0.1:8080",code="5xx"}', 1);
    expect('fnlb_requests_total{node="10.0.0.2:8080",code="2xx"}', 1);
    expect('fnlb_requests_total{node="none",code="5xx"}', 1);
    // Cumulative buckets: 0.0004 ≤ 0.0005, 0.003 ≤ 0.005, 0.2 ≤ 0.25.
    const bucket = (node: string, le: string): number | undefined =>
      values.get(`fnlb_request_duration_seconds_bucket{le="${le}",node="${node}"}`);
    assert.equal(bucket('10.0.0.1:8080', '0.0005'), 1);
    assert.equal(bucket('10.0.0.1:8080', '0.001'), 1);
    assert.equal(bucket('10.0.0.1:8080', '0.0025'), 1);
    assert.equal(bucket('10.0.0.1:8080', '0.005'), 2);
    assert.equal(bucket('10.0.0.1:8080', '0.1'), 2);
    assert.equal(bucket('10.0.0.1:8080', '0.25'), 3);
    assert.equal(bucket('10.0.0.1:8080', '10'), 3);
    assert.equal(bucket('10.0.0.1:8080', '+Inf'), 3);
    assert.equal(bucket('10.0.0.2:8080', '10'), 0);
    assert.equal(bucket('10.0.0.2:8080', '+Inf'), 1);
    assert.equal(bucket('none', '0.001'), 1);
    expect('fnlb_request_duration_seconds_sum{node="10.0.0.1:8080"}', 0.0004 + 0.003 + 0.2);
    expect('fnlb_request_duration_seconds_count{node="10.0.0.1:8080"}', 3);
    expect('fnlb_request_duration_seconds_count{node="none"}', 1);
    expect('fnlb_node_connect_errors_total{node="10.0.0.2:8080"}', 1);
    expect('fnlb_node_connect_errors_total{node="10.0.0.1:8080"}', 0);
    expect('fnlb_fallbacks_total{from="10.0.0.1:8080",to="10.0.0.2:8080"}', 1);
    expect('fnlb_retries_total{reason="reset"}', 2);
    expect('fnlb_retries_total{reason="not-executed"}', 1);
    expect('fnlb_node_up{node="10.0.0.1:8080"}', 1);
    expect('fnlb_node_up{node="10.0.0.2:8080"}', 0);
    expect('fnlb_node_draining{node="10.0.0.2:8080"}', 1);
    expect('fnlb_health_check_duration_seconds{node="10.0.0.1:8080"}', 0.002);
    assert.equal(values.has('fnlb_health_check_duration_seconds{node="10.0.0.2:8080"}'), false);
    expect('fnlb_node_in_flight{node="10.0.0.1:8080"}', 2);
    expect('fnlb_client_connections', 7);
    expect('fnlb_received_bytes_total{node="10.0.0.1:8080"}', 30);
    expect('fnlb_sent_bytes_total{node="10.0.0.1:8080"}', 350);
    expect('fnlb_rejected_requests_total{code="400"}', 1);
    expect('fnlb_rejected_requests_total{code="503"}', 1);
    expect('fnlb_function_requests_total{function="app/a",outcome="owner"}', 2);
    expect('fnlb_function_requests_total{function="app/a",outcome="spill_down"}', 1);
    expect('fnlb_function_requests_total{function="app/b",outcome="owner"}', 1);
    assert.equal(types.has('fnlb_registry_up'), false);
    assert.ok(types.has('process_cpu_user_seconds_total'), 'default metrics');
  });

  it('takes one snapshot per scrape', async () => {
    let calls = 0;
    const snap = knownTraffic().snapshot(gauges);
    const metrics = createMetrics({ snapshot: async () => (calls++, snap), nodes: () => NODES });
    await metrics.render();
    assert.equal(calls, 1);
    await metrics.render();
    assert.equal(calls, 2);
    assert.match(metrics.contentType, /^text\/plain/);
  });

  it('shows fnlb_registry_up only when the source knows', async () => {
    const snap = new TrafficStats().snapshot(gauges);
    assert.equal((await render(snap, NODES, () => true)).values.get('fnlb_registry_up'), 1);
    assert.equal((await render(snap, NODES, () => false)).values.get('fnlb_registry_up'), 0);
    assert.equal((await render(snap, NODES, () => null)).values.has('fnlb_registry_up'), false);
  });

  it('drops the series of a removed node', async () => {
    const snap = knownTraffic().snapshot(gauges);
    const { values } = await render(snap, [NODES[0]!]);
    assert.equal(
      [...values.keys()].some((k) => k.includes('10.0.0.2:8080')),
      false,
    );
    assert.equal(values.get('fnlb_requests_total{node="10.0.0.1:8080",code="2xx"}'), 2);
  });

  it('grows node slots on demand', () => {
    const stats = new TrafficStats({ nodes: 1 });
    stats.request(0, 0, 200, 0.01, 1, 1, null, null);
    stats.request(40, 0, 200, 0.01, 1, 1, 'full', 'f');
    stats.connectError(70);
    stats.ensureNode(100);
    const snap = stats.snapshot({ inFlight: [], clientConnections: 0 });
    assert.equal(snap.nodes.length, 71);
    assert.deepEqual(snap.nodes[0]!.requests, [0, 1, 0, 0, 0]);
    assert.deepEqual(snap.nodes[40]!.requests, [0, 1, 0, 0, 0]);
    assert.equal(snap.nodes[70]!.connectErrors, 1);
    assert.deepEqual(snap.fallbacks, [{ from: 0, to: 40, count: 1 }]);
    assert.equal(snap.recentFallbacks.length, 1);
    assert.deepEqual({ ...snap.recentFallbacks[0], at: 0 }, { at: 0, key: 'f', from: 0, to: 40, reason: 'full' });
  });

  it('keeps the last 50 fallbacks, oldest first', () => {
    const stats = new TrafficStats();
    for (let i = 0; i < 120; i++) stats.request(1, 0, 200, 0.01, 0, 0, 'wait', `f${i}`);
    const recent = stats.snapshot(gauges).recentFallbacks;
    assert.equal(recent.length, 50);
    assert.equal(recent[0]!.key, 'f70');
    assert.equal(recent[49]!.key, 'f119');
  });

  it('snapshots survive a JSON round trip', async () => {
    const snap = knownTraffic().snapshot(gauges);
    const copy = JSON.parse(JSON.stringify(snap)) as StatsSnapshot;
    assert.deepEqual(copy, snap);
    const ours = (m: Map<string, number>): Array<[string, number]> => [...m].filter(([k]) => k.startsWith('fnlb_'));
    assert.deepEqual(ours((await render(copy)).values), ours((await render(snap)).values));
  });

  it('merges workers: counters and gauges add up, histograms bucket-wise', () => {
    const a = knownTraffic().snapshot(gauges);
    const bStats = new TrafficStats();
    bStats.request(2, 0, 200, 0.0004, 1, 2, 'full', 'app/b');
    bStats.retry('reset');
    bStats.rejected(400);
    const b = JSON.parse(JSON.stringify(bStats.snapshot({ inFlight: [1, 1, 1], clientConnections: 3 }))) as StatsSnapshot;
    const m = mergeSnapshots([a, b]);
    assert.equal(m.nodes.length, 3);
    assert.deepEqual(m.nodes[0]!.requests, [0, 2, 0, 0, 1]);
    assert.equal(m.nodes[0]!.inFlight, 3);
    assert.equal(m.nodes[2]!.duration.counts[0], 1);
    assert.equal(m.nodes[2]!.duration.count, 1);
    assert.equal(m.none.duration.count, 1);
    assert.equal(m.clientConnections, 10);
    assert.deepEqual(m.retries, { reset: 3, 'not-executed': 1 });
    assert.deepEqual(m.rejected, { '400': 2, '503': 1 });
    assert.deepEqual(m.fallbacks, [
      { from: 0, to: 1, count: 1 },
      { from: 0, to: 2, count: 1 },
    ]);
    assert.equal(m.recentFallbacks.length, 2);
    assert.ok(m.recentFallbacks[0]!.at <= m.recentFallbacks[1]!.at);
    const byKey = new Map(m.functions.map((f) => [f.key, f]));
    assert.equal(byKey.get('app/a')!.requests, 3);
    assert.equal(byKey.get('app/b')!.requests, 2);
    assert.equal(byKey.get('app/b')!.spills.full, 1);
    assert.deepEqual(byKey.get('app/b')!.nodes, [1, 0, 1]);
    assert.deepEqual(mergeSnapshots([a]), JSON.parse(JSON.stringify(a)));
  });

  it('keeps the merged recent fallbacks to the last 50 by time', () => {
    const snaps = [0, 1].map((w) => {
      const s = new TrafficStats().snapshot(gauges);
      s.recentFallbacks = Array.from({ length: 50 }, (_, i) => ({
        at: i * 2 + w,
        key: `w${w}-${i}`,
        from: 0,
        to: 1,
        reason: 'down' as const,
      }));
      return s;
    });
    const recent = mergeSnapshots(snaps).recentFallbacks;
    assert.equal(recent.length, 50);
    assert.equal(recent[0]!.at, 50);
    assert.equal(recent[49]!.at, 99);
  });

  it('bounds the top-K functions', () => {
    const stats = new TrafficStats({ topK: 10 });
    for (let i = 0; i < 1000; i++) stats.request(0, 0, 200, 0.01, 0, 0, null, `f${i % 200}`);
    const snap = stats.snapshot(gauges);
    assert.equal(snap.functions.length, 10);
    const other = new TrafficStats({ topK: 10 });
    for (let i = 0; i < 1000; i++) other.request(0, 0, 200, 0.01, 0, 0, null, `g${i % 200}`);
    const merged = mergeSnapshots([snap, other.snapshot(gauges)]);
    assert.equal(merged.functionsK, 10);
    assert.equal(merged.functions.length, 10);
    assert.equal(mergeSnapshots([]).functions.length, 0);
  });
});
