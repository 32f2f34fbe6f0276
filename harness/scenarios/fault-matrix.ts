/**
 * Fault-matrix runner: fnlb (short health settings) in front of N test backends, under a steady mixed
 * load (mixed-load.ts), while one fault scenario is applied; then what the clients saw is measured.
 *
 * One run of a scenario: start the backends (each logs the x-request-id of every request it receives) and
 * fnlb; load; after `warmupMs` apply the fault (time F); hold it `holdMs` (a scenario may act during the
 * hold: flapping); undo it (time B, the last moment a faulty node came back); `recoverMs` more load; stop.
 *
 * Measures (ScenarioResult):
 * - requests, failures by method and by status ("502", "503 (node)" when the node itself answered it,
 *   "conn-error", "bad-body");
 * - failed POSTs, each with the backends whose log shows its id: "in flight" = a faulty node received it;
 * - failover: for the faulty nodes' functions (every function when all nodes are hit), ms from the fault
 *   to the first answer from a fallback (200 from a healthy node, within --connect-timeout; all nodes
 *   hit: fnlb's own 503 within --connect-timeout) and to the end of the last request the fault affected
 *   (failed, answered by a faulty node after the fault, or slower than --connect-timeout), among those
 *   not yet started when the first node came back;
 * - stalled: successful requests slower than --connect-timeout (they waited on a faulty node);
 * - recovery ms: the same functions, requests started from B on: time from B to the start of the final
 *   run of requests answered 200 by the node that owns them again (or by the one node brought back);
 * - fnlb's view: "node down" after F and "node up" after B, from its log (ms after F, after B);
 * - moved keys: functions of healthy nodes answered by any other node, over the whole run;
 * - misrouted: functions of a faulty node answered by a node other than their own fallback;
 * - duplicates: request ids found more than once across all backend logs (POSTs, and GETs: those are
 *   replays the retry rules allow, e.g. a GET the dying node had received).
 * Owners and fallbacks come from fnlb's rankNodes over the node ids, as fnlb computes them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { functionKey, rankNodes } from '../../src/index.js';
import { setFaultMode, type FaultModeKind } from '../nodes/backend.js';
import { MixedLoad, functionPaths, type Method, type RequestRecord } from './mixed-load.js';
import { nodesArg, startBackends, startFnlb, type BackendOptions, type BackendProcess, type FnlbProcess } from '../processes.js';
import { sleep } from '../wait.js';

export interface MatrixSettings {
  backends: number;
  /** Closed-loop clients. */
  concurrency: number;
  /** Open-loop requests per second on top (see mixed-load.ts), at most openMax outstanding. */
  openRate: number;
  openMax: number;
  functions: number;
  warmupMs: number;
  holdMs: number;
  recoverMs: number;
  /** Index of the node hit by single-node faults. */
  victim: number;
  /** The slow fault's wait per response. */
  slowMs: number;
  /** The flap fault's half period (down this long, then up this long). */
  flapMs: number;
  hcIntervalMs: number;
  hcTimeoutMs: number;
  hcHealthy: number;
  hcUnhealthy: number;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export const SHORT_SETTINGS: MatrixSettings = {
  backends: 4,
  concurrency: 6,
  openRate: 40,
  openMax: 32,
  functions: 200,
  warmupMs: 800,
  holdMs: 2500,
  recoverMs: 2000,
  victim: 1,
  slowMs: 1500,
  flapMs: 1000,
  hcIntervalMs: 250,
  hcTimeoutMs: 200,
  hcHealthy: 2,
  hcUnhealthy: 2,
  connectTimeoutMs: 500,
  responseTimeoutMs: 3000,
};

/** What a scenario acts on while it runs. */
export interface FaultControl {
  readonly settings: MatrixSettings;
  readonly backends: BackendProcess[];
  /** The nodes the fault hits (one, or all). */
  readonly faulty: BackendProcess[];
  readonly lb: FnlbProcess;
  /** A faulty node is back (restarted, thawed, mode normal): call after each comeback. */
  back(): void;
  /** Run at the end whatever happens (e.g. thaw a stopped process). */
  onCleanup(fn: () => void): void;
}

export interface Scenario {
  name: string;
  /** 'one': the fault hits settings.victim; 'all': every node. */
  scope: 'one' | 'all';
  /** After recovery the faulty nodes' functions are served by their owners ('owner', default) or by the first faulty node ('first': kill all, bring one back). */
  recoveredBy?: 'owner' | 'first';
  /** Extra options for backend i (e.g. a small listen backlog). */
  backendOptions?(i: number, s: MatrixSettings): BackendOptions;
  fault(c: FaultControl): Promise<void>;
  /** Default: sleep holdMs. */
  hold?(c: FaultControl, holdMs: number): Promise<void>;
  /** Undo the fault; resolves when the node(s) can serve again. The runner then calls back(). */
  recover(c: FaultControl): Promise<void>;
}

export interface FailedPost {
  id: string;
  status: number;
  cause: string;
  /** Backends whose log shows the id. */
  receivedBy: string[];
  /** A faulty node received it: it was really in flight there. */
  inFlight: boolean;
}

export interface Duplicate {
  id: string;
  receivedBy: string[];
}

export interface ScenarioResult {
  name: string;
  scope: 'one' | 'all';
  faulty: string[];
  requests: number;
  byMethod: Record<Method, number>;
  failedGets: RequestRecord[];
  failedPosts: FailedPost[];
  /** Failures by status/cause, e.g. {"502": 2, "503 (node)": 7}. */
  statuses: Record<string, number>;
  /**
   * Failover, for the faulty nodes' functions (all functions when all nodes are hit): ms from the fault
   * to the first answer from a fallback (200 from a healthy node within --connect-timeout; all nodes
   * hit: fnlb's own 503 within --connect-timeout), and to the end of the last request the fault
   * affected (failed, answered by a faulty node, or slower than --connect-timeout). null: none.
   */
  firstFallbackMs: number | null;
  lastAffectedMs: number | null;
  /** Successful requests slower than --connect-timeout (waited on a faulty node, then got an answer). */
  stalled: RequestRecord[];
  recoveryMs: number | null;
  /** fnlb's "node down" for a faulty node, ms after the fault. */
  downAfterMs: number | null;
  /** fnlb's "node up" for a faulty node, ms after the (last) comeback. */
  upAfterMs: number | null;
  movedKeys: string[];
  misrouted: string[];
  /** Request ids found more than once in the backends' logs, with the backends (one entry per receipt). */
  duplicates: { post: Duplicate[]; get: Duplicate[] };
  /** Slowest successful request (ms). */
  maxOkMs: number;
  /** Failures of functions owned by healthy nodes. */
  healthyKeyFailures: RequestRecord[];
  /** Every failure, for reports. */
  failures: RequestRecord[];
  /** Phase times, ms after the load started: fault, comebacks, end. */
  timeline: { faultAt: number; backAt: number[]; end: number };
  holdMs: number;
}

/* ------------------------------------------------------------------ scenarios */

function restartAll(c: FaultControl): Promise<void> {
  return Promise.all(c.faulty.map((b) => b.restart(10_000))).then(() => undefined);
}

function killAll(c: FaultControl): Promise<void> {
  return Promise.all(c.faulty.map((b) => b.kill('SIGKILL'))).then(() => undefined);
}

function setModeAll(c: FaultControl, kind: FaultModeKind): Promise<void> {
  return Promise.all(c.faulty.map((b) => setFaultMode(b.port, { kind, ms: kind === 'slow' ? c.settings.slowMs : undefined }))).then(
    () => undefined,
  );
}

/** The node keeps running but answers in the backend's fault mode `kind` (see backend.ts) until set back to normal. */
function modeScenario(name: string, kind: FaultModeKind): Scenario {
  return { name, scope: 'one', fault: (c) => setModeAll(c, kind), recover: (c) => setModeAll(c, 'normal') };
}

/**
 * Opens connections to a stopped (SIGSTOPped) listener until one gets no answer: its accept queue is
 * then full and the kernel drops every further SYN, so connecting to it times out as to a black-holed
 * host. Returns the connections that got in (to close at the end).
 */
export async function fillBacklog(port: number, attemptMs = 150, max = 64): Promise<net.Socket[]> {
  const held: net.Socket[] = [];
  for (let i = 0; i < max; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), attemptMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) {
      s.destroy();
      return held;
    }
    held.push(s);
  }
  for (const s of held) s.destroy();
  throw new Error(`fillBacklog: port ${port} still accepts after ${max} connections (is the process stopped?)`);
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'kill -9',
    scope: 'one',
    fault: (c) => killAll(c),
    recover: (c) => restartAll(c),
  },
  {
    name: 'graceful stop (SIGTERM)',
    scope: 'one',
    fault: (c) => Promise.all(c.faulty.map((b) => b.stop())).then(() => undefined),
    recover: (c) => restartAll(c),
  },
  {
    // No iptables/nft here: the node's process is frozen (SIGSTOP) and its accept queue filled, so new
    // connections get no SYN-ACK and connections already open get no answer, as with a DROP rule.
    name: 'black-hole (SIGSTOP, backlog full)',
    scope: 'one',
    // Small enough to fill at once, large enough for fnlb's bursts of new connections before the fault.
    backendOptions: (i, s) => (i === s.victim ? { backlog: 16 } : {}),
    async fault(c) {
      const thaw = (): void => {
        for (const b of c.faulty) b.proc.kill('SIGCONT');
      };
      c.onCleanup(thaw);
      for (const b of c.faulty) b.proc.kill('SIGSTOP');
      const held = (await Promise.all(c.faulty.map((b) => fillBacklog(b.port)))).flat();
      c.onCleanup(() => held.forEach((s) => s.destroy()));
    },
    async recover(c) {
      for (const b of c.faulty) b.proc.kill('SIGCONT');
    },
  },
  modeScenario('hang after accept', 'hang'),
  modeScenario('slow responses', 'slow'),
  modeScenario('503 to everything', '503'),
  {
    name: 'flap (kill -9 / restart every second)',
    scope: 'one',
    fault: (c) => killAll(c),
    async hold(c, holdMs) {
      const until = performance.now() + holdMs;
      for (;;) {
        await sleep(c.settings.flapMs);
        await restartAll(c);
        if (performance.now() + c.settings.flapMs >= until) return;
        c.back();
        await sleep(c.settings.flapMs);
        await killAll(c);
      }
    },
    // The hold ends with the node just restarted: the runner marks that comeback.
    recover: async () => undefined,
  },
  {
    name: 'restart all at once',
    scope: 'all',
    fault: (c) => killAll(c),
    hold: async () => undefined,
    recover: (c) => restartAll(c),
  },
  {
    name: 'kill all, bring one back',
    scope: 'all',
    recoveredBy: 'first',
    fault: (c) => killAll(c),
    recover: (c) => c.faulty[0]!.restart(10_000),
  },
];

/* ------------------------------------------------------------------ runner */

export function fnlbArgs(s: MatrixSettings): string[] {
  return [
    '--hc-interval',
    `${s.hcIntervalMs}ms`,
    '--hc-timeout',
    `${s.hcTimeoutMs}ms`,
    '--hc-healthy',
    String(s.hcHealthy),
    '--hc-unhealthy',
    String(s.hcUnhealthy),
    '--connect-timeout',
    `${s.connectTimeoutMs}ms`,
    '--response-timeout',
    `${s.responseTimeoutMs}ms`,
    '--access-log',
    'off',
  ];
}

/** Runs one scenario on fresh processes and measures it. Stops everything it started, whatever happens. */
export async function runScenario(scenario: Scenario, s: MatrixSettings): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fnlb-faults-'));
  const logOf = (i: number): string => join(dir, `B${i + 1}.log`);
  const cleanups: (() => void)[] = [];
  let backends: BackendProcess[] = [];
  let lb: FnlbProcess | undefined;
  try {
    // Starting a node process can take seconds on a busy 2-core machine (several at once: more).
    backends = await startBackends(s.backends, 'B', (i) => ({
      logFile: logOf(i),
      readyTimeoutMs: 15_000,
      ...scenario.backendOptions?.(i, s),
    }));
    lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...fnlbArgs(s)]);
    const faulty = scenario.scope === 'one' ? [backends[s.victim]!] : backends;
    const load = new MixedLoad({
      port: lb.port,
      concurrency: s.concurrency,
      functions: functionPaths(s.functions),
      timeoutMs: 30_000,
      openRate: s.openRate,
      openMax: s.openMax,
      failurePauseMs: 20,
    });
    const t0 = performance.now();
    const backAt: number[] = [];
    const control: FaultControl = {
      settings: s,
      backends,
      faulty,
      lb,
      back: () => backAt.push(performance.now() - t0),
      onCleanup: (fn) => cleanups.push(fn),
    };
    load.start();
    let loadStopped = false;
    try {
      await sleep(s.warmupMs);
      const faultAt = performance.now() - t0;
      await scenario.fault(control);
      await (scenario.hold ? scenario.hold(control, s.holdMs) : sleep(s.holdMs));
      await scenario.recover(control);
      control.back();
      await sleep(s.recoverMs);
      await load.stop();
      loadStopped = true;
      const end = performance.now() - t0;
      await sleep(100); // the backends' last log lines
      const logs = backends.map((b, i) => ({ name: b.name, ids: readIds(logOf(i)) }));
      return measure(scenario, s, {
        records: load.records.map((r) => ({ ...r, start: r.start - t0, end: r.end - t0 })),
        backends,
        faulty,
        logs,
        fnlbLogs: lb.logs,
        wallAt: (ms) => performance.timeOrigin + t0 + ms,
        timeline: { faultAt, backAt, end },
      });
    } finally {
      if (!loadStopped) await load.stop();
    }
  } finally {
    for (const fn of cleanups) fn();
    await Promise.all([lb?.stop('SIGKILL'), ...backends.map((b) => b.kill('SIGKILL'))]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function readIds(file: string): string[] {
  try {
    return readFileSync(file, 'latin1')
      .split('\n')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
}

/* ------------------------------------------------------------------ measuring */

interface Observed {
  /** Times in ms after the load started. */
  records: RequestRecord[];
  backends: BackendProcess[];
  faulty: BackendProcess[];
  logs: { name: string; ids: string[] }[];
  fnlbLogs: Record<string, unknown>[];
  /** ms after the load started → epoch ms (fnlb's log times). */
  wallAt(ms: number): number;
  timeline: { faultAt: number; backAt: number[]; end: number };
}

/** Time from `from` to the start of the final run of requests (by start) that satisfy `clean`; null if the last one does not. */
function cleanRunStart(records: RequestRecord[], from: number, clean: (r: RequestRecord) => boolean): number | null {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  let i = sorted.length;
  while (i > 0 && clean(sorted[i - 1]!)) i--;
  if (i === sorted.length) return null;
  return sorted[i]!.start - from;
}

function statusLabel(r: RequestRecord): string {
  if (r.status === 0) return r.cause ?? 'conn-error';
  if (r.status === 200) return 'bad-body';
  return r.node === undefined ? String(r.status) : `${r.status} (node)`;
}

function measure(scenario: Scenario, s: MatrixSettings, o: Observed): ScenarioResult {
  const { records, backends, faulty, timeline } = o;
  const faultyNames = new Set(faulty.map((b) => b.name));
  const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
  const owner = new Map<string, string>();
  const fallback = new Map<string, string>();
  for (const fn of functionPaths(s.functions)) {
    const ranking = rankNodes(functionKey(fn), nodes).map((i) => backends[i]!.name);
    owner.set(fn, ranking[0]!);
    fallback.set(
      fn,
      ranking.find((n) => !faultyNames.has(n))!,
    );
  }
  const hitKey = (r: RequestRecord): boolean => faultyNames.has(owner.get(r.fn)!);

  const failures = records.filter((r) => !r.ok);
  const statuses: Record<string, number> = {};
  for (const r of failures) {
    const label = `${r.method} ${statusLabel(r)}`;
    statuses[label] = (statuses[label] ?? 0) + 1;
  }

  const receivedBy = new Map<string, string[]>();
  const count = new Map<string, number>();
  for (const log of o.logs) {
    for (const id of log.ids) {
      count.set(id, (count.get(id) ?? 0) + 1);
      const list = receivedBy.get(id);
      if (list) list.push(log.name);
      else receivedBy.set(id, [log.name]);
    }
  }
  const failedPosts: FailedPost[] = failures
    .filter((r) => r.method === 'POST')
    .map((r) => {
      const by = receivedBy.get(r.id) ?? [];
      return { id: r.id, status: r.status, cause: statusLabel(r), receivedBy: by, inFlight: by.some((n) => faultyNames.has(n)) };
    });
  const dups: Duplicate[] = [...count].filter(([, n]) => n > 1).map(([id]) => ({ id, receivedBy: receivedBy.get(id)! }));

  const { faultAt, backAt } = timeline;
  const firstBack = backAt[0] ?? timeline.end;
  const lastBack = backAt[backAt.length - 1] ?? timeline.end;
  const hit = records.filter(hitKey);
  const slow = (r: RequestRecord): boolean => r.end - r.start >= s.connectTimeoutMs;
  // What a client of the faulty nodes' functions should get once fnlb has failed over.
  const settled =
    scenario.scope === 'one'
      ? (r: RequestRecord) => r.ok && !faultyNames.has(r.node ?? '') && !slow(r)
      : (r: RequestRecord) => r.status === 503 && r.node === undefined && !slow(r);
  const duringFault = hit.filter((r) => r.end >= faultAt && r.start < firstBack);
  const firstFallback = duringFault.filter((r) => r.start >= faultAt && settled(r)).reduce((m, r) => Math.min(m, r.end), Infinity);
  // Requests in flight at the fault that the faulty node still answered well are not affected.
  const affected = duringFault.filter((r) => !settled(r) && !(r.start < faultAt && r.ok && !slow(r)));
  const lastAffected = affected.reduce((m, r) => Math.max(m, r.end), -Infinity);
  const firstFaulty = faulty[0]!.name;
  const recoveredBy = (r: RequestRecord): string => (scenario.recoveredBy === 'first' ? firstFaulty : owner.get(r.fn)!);
  const recoveryMs = cleanRunStart(
    hit.filter((r) => r.start >= lastBack),
    lastBack,
    (r) => r.ok && r.node === recoveredBy(r),
  );

  const faultyIds = new Set(faulty.map((b) => b.id));
  const logAfter = (msg: string, from: number): number | null => {
    const wall = o.wallAt(from);
    const at = (l: Record<string, unknown>): number => Date.parse(String(l.time)); // pino isoTime
    const line = o.fnlbLogs.find((l) => l.msg === msg && faultyIds.has(String(l.node)) && at(l) >= wall);
    return line ? at(line) - wall : null;
  };

  const moved = new Set<string>();
  const misrouted = new Set<string>();
  const healthyKeyFailures: RequestRecord[] = [];
  if (scenario.scope === 'one') {
    for (const r of records) {
      const own = owner.get(r.fn)!;
      if (!hitKey(r)) {
        if (!r.ok) healthyKeyFailures.push(r);
        else if (r.node !== own) moved.add(r.fn);
      } else if (r.ok && r.node !== own && r.node !== fallback.get(r.fn)) misrouted.add(r.fn);
    }
  }

  return {
    name: scenario.name,
    scope: scenario.scope,
    faulty: faulty.map((b) => b.name),
    requests: records.length,
    byMethod: { GET: records.filter((r) => r.method === 'GET').length, POST: records.filter((r) => r.method === 'POST').length },
    failedGets: failures.filter((r) => r.method === 'GET'),
    failedPosts,
    statuses,
    firstFallbackMs: firstFallback === Infinity ? null : firstFallback - faultAt,
    lastAffectedMs: lastAffected === -Infinity ? null : lastAffected - faultAt,
    stalled: records.filter((r) => r.ok && slow(r)),
    recoveryMs,
    downAfterMs: logAfter('node down', faultAt),
    upAfterMs: logAfter('node up', lastBack),
    movedKeys: [...moved],
    misrouted: [...misrouted],
    duplicates: { post: dups.filter((d) => d.id.startsWith('p')), get: dups.filter((d) => d.id.startsWith('g')) },
    maxOkMs: records.reduce((m, r) => (r.ok ? Math.max(m, r.end - r.start) : m), 0),
    healthyKeyFailures,
    failures,
    timeline,
    holdMs: s.holdMs,
  };
}

/* ------------------------------------------------------------------ report */

function ms(v: number | null): string {
  return v === null ? '—' : v.toFixed(0);
}

function statusSummary(st: Record<string, number>): string {
  const parts = Object.entries(st).map(([k, n]) => `${k} ×${n}`);
  return parts.length ? parts.join(', ') : '—';
}

export const TABLE_HEADER =
  '| scenario | requests | failed GET | failed POST (in flight) | statuses | failover ms (first fallback / last affected) | ' +
  'stalled (max ms) | recovery ms | fnlb down / up ms | moved keys | duplicates POST / GET |\n' +
  '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|';

/** One markdown table row. */
export function tableRow(r: ScenarioResult): string {
  const inFlight = r.failedPosts.filter((p) => p.inFlight).length;
  return (
    `| ${r.name} | ${r.requests} | ${r.failedGets.length} | ${r.failedPosts.length} (${inFlight}) | ${statusSummary(r.statuses)} | ` +
    `${ms(r.firstFallbackMs)} / ${ms(r.lastAffectedMs)} | ${r.stalled.length} (${r.maxOkMs.toFixed(0)}) | ${ms(r.recoveryMs)} | ${ms(r.downAfterMs)} / ${ms(r.upAfterMs)} | ` +
    `${r.scope === 'one' ? r.movedKeys.length : '—'} | ${r.duplicates.post.length} / ${r.duplicates.get.length} |`
  );
}

/** A few lines on what failed, for test messages and the long report. */
export function describeFailures(r: ScenarioResult, max = 8): string {
  const shown = [...r.failures.slice(0, max), ...r.stalled.slice(0, Math.max(0, max - r.failures.length))];
  const lines = shown.map((f) => {
    const post = r.failedPosts.find((p) => p.id === f.id);
    const where = post ? ` received by [${post.receivedBy.join(',')}]` : '';
    const what = f.ok ? `200 from ${f.node} after ${(f.end - f.start).toFixed(0)} ms` : `${statusLabel(f)} ${f.detail ?? ''}`;
    return `  ${f.start.toFixed(0)}-${f.end.toFixed(0)} ms ${f.method} ${f.fn} ${f.id}: ${what}${where}`.trimEnd();
  });
  if (r.failures.length + r.stalled.length > shown.length) lines.push(`  … ${r.failures.length + r.stalled.length - shown.length} more`);
  const t = r.timeline;
  return `${r.name}: fault at ${t.faultAt.toFixed(0)} ms, back at [${t.backAt.map((b) => b.toFixed(0)).join(', ')}] ms, end ${t.end.toFixed(0)} ms\n${lines.join('\n')}`;
}
