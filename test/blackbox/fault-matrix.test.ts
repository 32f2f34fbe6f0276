/**
 * Fault matrix, short form (harness/scenarios/fault-matrix.ts; `npm run faults` is the long form): fnlb in
 * front of 4 backends under a mixed GET/POST load (6 clients + 40 req/s open loop, 200 functions, bodies
 * up to 1 MiB, every request with its own id), one scenario at a time on fresh processes, each fault held
 * 2.5 s. Per scenario: which failures the clients may see and when, failover and recovery within bounds
 * (the expected figure + generous slack for a shared 2-core machine), no function of a healthy node
 * moves, nothing reaches two nodes unless the retry rules allow it (a GET its first node received but did
 * not answer), no POST is executed twice.
 *
 * Targets fnlb does not meet by design are `todo` tests at the end, with the figures in their messages.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  SCENARIOS,
  SHORT_SETTINGS,
  describeFailures,
  runScenario,
  type Scenario,
  type ScenarioResult,
} from '../../harness/scenarios/fault-matrix.js';
import type { RequestRecord } from '../../harness/scenarios/mixed-load.js';
import { cleanup } from '../../harness/processes.js';

const S = SHORT_SETTINGS;
/** Added to every timing bound: other work on the machine can stall any process this long. */
const SLACK = 1500;
/** A health-check fault (hang, slow, 503) is seen after hc-unhealthy failed probes; a probe fails after hc-timeout at worst. */
const HC_DOWN = S.hcUnhealthy * S.hcIntervalMs + S.hcTimeoutMs;
/** A node back is used again after hc-healthy passed probes. */
const HC_UP = S.hcHealthy * S.hcIntervalMs;

after(cleanup);

const results = new Map<string, ScenarioResult>();

function scenario(name: string): Scenario {
  const sc = SCENARIOS.find((s) => s.name.startsWith(name));
  if (!sc) throw new Error(`no scenario ${name}`);
  return sc;
}

function failed(r: ScenarioResult, pred: (f: RequestRecord) => boolean): RequestRecord[] {
  return r.failures.filter(pred);
}

function atMost(value: number | null, bound: number, what: string, r: ScenarioResult): void {
  assert.ok(value !== null, `${what}: never happened\n${describeFailures(r)}`);
  assert.ok(value <= bound, `${what}: ${value.toFixed(0)} ms > ${bound} ms\n${describeFailures(r)}`);
}

/** What holds in every scenario. */
function common(r: ScenarioResult): void {
  const d = describeFailures(r);
  assert.ok(r.requests > 500, `enough load: ${r.requests} requests\n${d}`);
  assert.deepEqual(r.duplicates.post, [], `POSTs received twice\n${d}`);
  for (const p of r.failedPosts) {
    assert.ok(
      p.receivedBy.every((n) => r.faulty.includes(n)),
      `failed POST ${p.id} reached a healthy node: ${p.receivedBy.join(',')}\n${d}`,
    );
  }
  if (r.scope === 'one') {
    assert.deepEqual(r.movedKeys, [], `functions of healthy nodes moved\n${d}`);
    assert.deepEqual(r.misrouted, [], `functions of the faulty node not on their own fallback\n${d}`);
    assert.deepEqual(
      r.healthyKeyFailures.map((f) => f.id),
      [],
      `failures on healthy nodes' functions\n${d}`,
    );
  }
  assert.ok(r.recoveryMs !== null, `the faulty node's functions are served by it again\n${d}`);
}

/**
 * GETs received twice: allowed only where the retry rules replay a GET (its first node was faulty and
 * gave no answer: died, or hung past --response-timeout), and then on exactly one other node.
 */
function getReplaysAllowed(r: ScenarioResult, allowed: boolean): void {
  const d = describeFailures(r);
  if (!allowed) {
    assert.deepEqual(r.duplicates.get, [], `GETs received twice\n${d}`);
    return;
  }
  for (const g of r.duplicates.get) {
    assert.equal(g.receivedBy.length, 2, `GET ${g.id} received ${g.receivedBy.length} times (${g.receivedBy.join(',')})\n${d}`);
    assert.ok(
      g.receivedBy.some((n) => r.faulty.includes(n)),
      `GET ${g.id} received twice by healthy nodes (${g.receivedBy.join(',')})\n${d}`,
    );
  }
}

/** Failures only for requests sent before fnlb took the node out (plus slack), with the given labels. */
function failuresOnlyBeforeDown(r: ScenarioResult, labels: RegExp): void {
  const d = describeFailures(r);
  assert.ok(r.downAfterMs !== null, `fnlb took the node out\n${d}`);
  const bad = failed(
    r,
    (f) => !labels.test(`${f.status}${f.node === undefined ? '' : ' node'}`) || f.start > r.timeline.faultAt + r.downAfterMs! + 200,
  );
  assert.deepEqual(
    bad.map((f) => f.id),
    [],
    `failures other than ${labels} before the node was taken out\n${d}`,
  );
}

/** No request sent after fnlb took the node out went to it (those it held are the slow ones it answered). */
function notSentAfterDown(r: ScenarioResult): void {
  assert.ok(r.downAfterMs !== null, `fnlb took the node out\n${describeFailures(r)}`);
  const late = r.stalled.filter(
    (f) => r.faulty.includes(f.node ?? '') && f.start > r.timeline.faultAt + r.downAfterMs! + 200 && f.start < r.timeline.backAt[0]!,
  );
  assert.deepEqual(
    late.map((f) => f.id),
    [],
    `requests sent to the node after it was taken out\n${describeFailures(r)}`,
  );
}

function run(name: string, check: (r: ScenarioResult) => void): void {
  test(name, { timeout: 30_000 }, async () => {
    const r = await runScenario(scenario(name), S);
    results.set(name, r);
    console.log(
      `${describeFailures(r, 4)}\n  requests ${r.requests}, failed GET ${r.failedGets.length}, failed POST ${r.failedPosts.length} (in flight ${r.failedPosts.filter((p) => p.inFlight).length}), failover ${r.firstFallbackMs?.toFixed(0)}/${r.lastAffectedMs?.toFixed(0)} ms, recovery ${r.recoveryMs?.toFixed(0)} ms, down/up ${r.downAfterMs}/${r.upAfterMs} ms`,
    );
    common(r);
    check(r);
  });
}

/** kill -9 and the like: the node refuses at once; GETs never fail, a POST fails only if it was already written to the dying node. */
function diesAtOnce(r: ScenarioResult): void {
  const d = describeFailures(r);
  assert.deepEqual(
    r.failedGets.map((f) => f.id),
    [],
    `failed GETs\n${d}`,
  );
  assert.ok(
    r.failedPosts.every((p) => p.status === 502),
    `failed POSTs are 502 (sent, never re-sent)\n${d}`,
  );
  // They failed as the node died, not later.
  assert.ok(
    r.failures.every((f) => f.end <= r.timeline.faultAt + SLACK),
    `failures after the fault\n${d}`,
  );
  atMost(r.firstFallbackMs, SLACK, 'first answer from a fallback', r);
  atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
}

describe('fault matrix (short)', () => {
  run('kill -9', (r) => {
    diesAtOnce(r);
    getReplaysAllowed(r, true); // a GET the dying node had received is replayed elsewhere
  });

  run('graceful stop', (r) => {
    diesAtOnce(r);
    getReplaysAllowed(r, true);
  });

  run('black-hole', (r) => {
    const d = describeFailures(r);
    assert.deepEqual(
      r.failedGets.map((f) => f.id),
      [],
      `failed GETs\n${d}`,
    );
    // POSTs written to the node's open connections before it was taken out wait --response-timeout (about
    // the length of the fault here): answered when it is thawed, or 504 (never re-sent).
    failuresOnlyBeforeDown(r, /^504$/);
    // New connections get no answer: fnlb gives up after --connect-timeout, takes the node out, goes on.
    atMost(r.downAfterMs, S.connectTimeoutMs + SLACK, 'node taken out', r);
    atMost(r.firstFallbackMs, S.connectTimeoutMs + SLACK, 'first answer from a fallback', r);
    notSentAfterDown(r);
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, true); // GETs waiting on it move to their fallback once it is taken out
  });

  run('hang after accept', (r) => {
    const d = describeFailures(r);
    // GETs waiting on the hung node are retried on the fallback after --response-timeout; POSTs get 504.
    assert.deepEqual(
      r.failedGets.map((f) => f.id),
      [],
      `failed GETs\n${d}`,
    );
    failuresOnlyBeforeDown(r, /^50[24]$/);
    assert.ok(
      r.failedPosts.every((p) => p.inFlight),
      `every failed POST had been received by the hung node\n${d}`,
    );
    atMost(r.downAfterMs, HC_DOWN + SLACK, 'health checks take the node out', r);
    atMost(r.lastAffectedMs, S.responseTimeoutMs + HC_DOWN + SLACK, 'last request affected', r);
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, true); // retried after --response-timeout, as the rules say
  });

  run('slow', (r) => {
    const d = describeFailures(r);
    assert.deepEqual(
      r.failures.map((f) => f.id),
      [],
      `failures (slow < --response-timeout)\n${d}`,
    );
    atMost(r.downAfterMs, HC_DOWN + SLACK, 'health checks take the node out', r);
    notSentAfterDown(r);
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, true); // GETs waiting on it move to their fallback once it is taken out
  });

  run('503 to everything', (r) => {
    // A node's 503 is passed through (never retried) until the health checks take the node out.
    failuresOnlyBeforeDown(r, /^503 node$/);
    atMost(r.downAfterMs, S.hcUnhealthy * S.hcIntervalMs + SLACK, 'health checks take the node out', r);
    atMost(r.lastAffectedMs, S.hcUnhealthy * S.hcIntervalMs + SLACK, 'last 503', r);
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, false);
  });

  run('flap', (r) => {
    const d = describeFailures(r);
    assert.ok(r.timeline.backAt.length >= 2, `the node came back at least twice: ${r.timeline.backAt.join(', ')}`);
    assert.deepEqual(
      r.failedGets.map((f) => f.id),
      [],
      `failed GETs\n${d}`,
    );
    assert.ok(
      r.failedPosts.every((p) => p.status === 502),
      `failed POSTs are 502\n${d}`,
    );
    atMost(r.firstFallbackMs, SLACK, 'first answer from a fallback', r);
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, true);
  });

  /** All nodes down: fnlb's own 503 "whole cluster seems offline" at once, a 502 only for a POST written to a dying node. */
  function clusterOffline(r: ScenarioResult, downUntil: number): void {
    const d = describeFailures(r);
    const offline = failed(r, (f) => f.status === 503 && f.node === undefined && /whole cluster seems offline/.test(f.detail ?? ''));
    assert.ok(offline.length > 0, `503 cluster offline seen\n${d}`);
    const other = failed(r, (f) => !offline.includes(f) && !(f.method === 'POST' && f.status === 502));
    assert.deepEqual(
      other.map((f) => f.id),
      [],
      `failures other than 503 offline and POST 502\n${d}`,
    );
    const slow503 = offline.filter((f) => f.end - f.start > S.connectTimeoutMs && f.start > r.timeline.faultAt + 200);
    assert.ok(
      slow503.length <= offline.length / 100,
      `503 answered at once (${slow503.length} of ${offline.length} took > ${S.connectTimeoutMs} ms)\n${d}`,
    );
    const late = failed(r, (f) => f.start > downUntil + (r.upAfterMs ?? 0) + 200);
    assert.deepEqual(
      late.map((f) => f.id),
      [],
      `failures after a node was back and up\n${d}`,
    );
    atMost(r.recoveryMs, HC_UP + SLACK, 'recovery', r);
    getReplaysAllowed(r, true);
  }

  run('restart all', (r) => clusterOffline(r, r.timeline.backAt[0]!));

  run('kill all, bring one back', (r) => {
    clusterOffline(r, r.timeline.backAt[0]!);
    atMost(r.firstFallbackMs, SLACK, 'first 503 cluster offline', r);
  });

  /* ---------------------------------------------------------------- targets not met by design */

  const DIES = ['kill -9', 'graceful stop', 'flap', 'restart all', 'kill all, bring one back'];

  test(
    'target: 0 failed POSTs (<= 1 MiB) when a node dies',
    {
      todo: 'a POST a dying node may have read (FIN) is never re-sent: 502 by design; unread ones (RST) are re-sent only with --retry-on-reset on',
    },
    () => {
      const lines = DIES.filter((n) => results.has(n)).map(
        (n) => `${n}: ${results.get(n)!.failedPosts.filter((p) => p.status === 502).length} POST 502`,
      );
      const total = DIES.reduce((s, n) => s + (results.get(n)?.failedPosts.filter((p) => p.status === 502).length ?? 0), 0);
      assert.equal(total, 0, lines.join('; '));
    },
  );

  test(
    'target: every POST that failed as a node died had been received by that node (its log shows the id)',
    { todo: 'a POST written into the socket of a node killed before it read it gets 502 too' },
    () => {
      const notReceived = DIES.flatMap((n) =>
        (results.get(n)?.failedPosts ?? []).filter((p) => p.status === 502 && !p.inFlight).map((p) => `${n}: ${p.id} ${p.cause}`),
      );
      assert.deepEqual(notReceived, []);
    },
  );

  // POSTs already written to its open connections wait (they may run when it thaws): not re-sent.
  test('target: a GET to a black-holed node fails over within --connect-timeout (+ the time to take it out)', () => {
    const r = results.get('black-hole');
    assert.ok(r, 'black-hole scenario ran');
    const bound = S.connectTimeoutMs + SLACK;
    const waited = r.stalled
      .filter((f) => f.method === 'GET' && f.end - f.start > bound)
      .map((f) => `${f.method} ${f.id} ${(f.end - f.start).toFixed(0)} ms`);
    assert.deepEqual(waited, []);
  });

  test(
    'target: health checks take a hung node out within --hc-unhealthy x --hc-interval',
    { todo: 'a probe fails only after --hc-timeout: the bound is hc-unhealthy x hc-interval + hc-timeout' },
    () => {
      const r = results.get('hang after accept');
      assert.ok(r?.downAfterMs != null, 'hang scenario ran and the node was taken out');
      assert.ok(r.downAfterMs <= S.hcUnhealthy * S.hcIntervalMs, `${r.downAfterMs} ms > ${S.hcUnhealthy * S.hcIntervalMs} ms`);
    },
  );
});
