/** Per-scenario statistics over rounds, fnlb-to-peer ratios, and the markdown report. */
import { BASELINE, PROXIES, type ProxyName } from './cluster.js';
import type { Machine } from './tools.js';
import type { RankingResult } from '../ranking.js';
import type { WorkersResult } from './workers.js';

export type ProxyScenario = 'get-small' | 'get-16k' | 'post-4k' | 'latency' | 'idle-conns' | 'cpu';

export const METRICS: Record<ProxyScenario, { metric: string; unit: string; better: 'higher' | 'lower'; digits: number }> = {
  'get-small': { metric: 'throughput, GET small', unit: 'req/s', better: 'higher', digits: 0 },
  'get-16k': { metric: 'throughput, GET 16 KiB', unit: 'req/s', better: 'higher', digits: 0 },
  'post-4k': { metric: 'throughput, POST 4 KiB', unit: 'req/s', better: 'higher', digits: 0 },
  latency: { metric: 'p99 latency at fixed rate', unit: 'µs', better: 'lower', digits: 0 },
  'idle-conns': { metric: 'memory per idle connection', unit: 'KiB/conn', better: 'lower', digits: 2 },
  cpu: { metric: 'CPU per request (get-small)', unit: 'µs/req', better: 'lower', digits: 1 },
};

export interface RunRecord {
  round: number;
  scenario: ProxyScenario;
  proxy: ProxyName;
  /** The scenario's headline number, in METRICS[scenario].unit. */
  value: number;
  /** Failed requests or connections (non-2xx included): a run with errors did not measure what it says. */
  errors: number;
  details: Record<string, unknown>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
  /** Sum over rounds. */
  errors: number;
}

export interface ScenarioSummary {
  unit: string;
  better: 'higher' | 'lower';
  proxies: Partial<Record<ProxyName, Spread>>;
  /** value(fnlb) / value(peer), per round and their median. */
  ratios: Record<string, { perRound: number[]; median: number }>;
}

/** The peers fnlb is compared with, in the ratio columns (those measured). */
export const PEERS: readonly ProxyName[] = ['nginx', 'haproxy', 'node-ref', 'node-floor', BASELINE];

/** The targets the records hold, in measuring order. */
export function proxiesOf(records: readonly RunRecord[]): ProxyName[] {
  const seen = new Set(records.map((r) => r.proxy));
  return [...PROXIES, BASELINE].filter((p) => seen.has(p));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(records: RunRecord[]): Partial<Record<ProxyScenario, ScenarioSummary>> {
  const out: Partial<Record<ProxyScenario, ScenarioSummary>> = {};
  for (const scenario of Object.keys(METRICS) as ProxyScenario[]) {
    const rs = records.filter((r) => r.scenario === scenario);
    if (rs.length === 0) continue;
    const s: ScenarioSummary = { unit: METRICS[scenario].unit, better: METRICS[scenario].better, proxies: {}, ratios: {} };
    for (const p of proxiesOf(rs)) {
      const mine = rs.filter((r) => r.proxy === p);
      const values = mine.map((r) => r.value);
      if (values.length) {
        const errors = mine.reduce((a, r) => a + r.errors, 0);
        s.proxies[p] = { median: median(values), min: Math.min(...values), max: Math.max(...values), values, errors };
      }
    }
    for (const peer of PEERS) {
      const perRound: number[] = [];
      for (const round of new Set(rs.map((r) => r.round))) {
        const f = rs.find((r) => r.round === round && r.proxy === 'fnlb');
        const q = rs.find((r) => r.round === round && r.proxy === peer);
        if (f && q && q.value > 0) perRound.push(f.value / q.value);
      }
      if (perRound.length) s.ratios[`fnlb/${peer}`] = { perRound, median: median(perRound) };
    }
    out[scenario] = s;
  }
  return out;
}

const fmt = (x: number, digits: number): string =>
  x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export interface Report {
  date: string;
  command: string;
  machine: Machine;
  settings: Record<string, unknown>;
  layout: string;
  summary: Partial<Record<ProxyScenario, ScenarioSummary>>;
  runs: RunRecord[];
  ranking?: RankingResult;
  /** --scenarios workers: req/s of small GETs through fnlb --workers N. */
  workers?: WorkersResult[];
  processes: { label: string; pid: number }[];
}

export function markdown(r: Report): string {
  const m = r.machine;
  const lines = [
    `# fnlb benchmark, ${r.date}`,
    '',
    `- machine: ${m.cpuModel}, ${m.nproc} CPUs, Linux ${m.kernel}; node ${m.node}` +
      (m.nginx ? `, nginx ${m.nginx}, ${m.haproxy}, ${m.wrk}` : ''),
    `- command: \`${r.command}\``,
    `- settings: ${Object.entries(r.settings)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')}`,
    `- layout: ${r.layout}`,
    '',
  ];
  const scenarios = Object.keys(r.summary) as ProxyScenario[];
  const proxies = proxiesOf(r.runs);
  const peers = PEERS.filter((p) => proxies.includes(p));
  if (scenarios.length) {
    lines.push(
      'Cells: median (min–max) over rounds. Ratios: fnlb ÷ peer, median (per round).',
      '',
      `| scenario | unit | better | ${proxies.join(' | ')} | ${peers.map((p) => `fnlb/${p}`).join(' | ')} |`,
      `|---|---|---|${proxies.map(() => '---:').join('|')}|${peers.map(() => '---:').join('|')}|`,
    );
    for (const sc of scenarios) {
      const s = r.summary[sc]!;
      const d = METRICS[sc].digits;
      const cell = (p: ProxyName): string => {
        const v = s.proxies[p];
        return v ? `${fmt(v.median, d)} (${fmt(v.min, d)}–${fmt(v.max, d)})` : '–';
      };
      const ratio = (k: string): string => {
        const x = s.ratios[k];
        return x ? `${x.median.toFixed(2)} (${x.perRound.map((v) => v.toFixed(2)).join(', ')})` : '–';
      };
      lines.push(
        `| ${sc} | ${s.unit} | ${s.better} | ${proxies.map(cell).join(' | ')} | ${peers.map((p) => ratio(`fnlb/${p}`)).join(' | ')} |`,
      );
    }
    const failed = r.runs.filter((x) => x.errors > 0);
    if (failed.length) {
      lines.push(
        '',
        `**Runs with errors (their numbers are not valid):** ${failed.map((x) => `${x.scenario} ${x.proxy} round ${x.round}: ${x.errors}`).join('; ')}.`,
      );
    }
    const lat = r.runs.filter((x) => x.scenario === 'latency');
    if (lat.length) {
      lines.push('', `Latency at a fixed ${String(r.settings.rate)} req/s (µs from the intended send time; medians over rounds):`, '');
      lines.push('| proxy | p50 | p90 | p99 | p99.9 | max | generator send lag p99 | errors |', '|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const p of proxies) {
        const rs = lat.filter((x) => x.proxy === p);
        if (!rs.length) continue;
        const q = (k: string): string => fmt(median(rs.map((x) => (x.details.latencyUs as Record<string, number>)[k])), 0);
        const lag = fmt(median(rs.map((x) => (x.details.sendLagUs as Record<string, number>).p99)), 0);
        const errors = rs.reduce((a, x) => a + x.errors, 0);
        lines.push(`| ${p} | ${q('p50')} | ${q('p90')} | ${q('p99')} | ${q('p999')} | ${q('max')} | ${lag} | ${errors} |`);
      }
    }
  }
  if (r.workers) {
    lines.push(
      '',
      `fnlb --workers N, small GETs (one round; wrk -t1 on cpu0, workers on CPUs 1..N): ` +
        r.workers.map((w) => `${w.workers}: ${w.rps === null ? `skipped, ${w.skipped}` : `${fmt(w.rps, 0)} req/s`}`).join('; ') +
        '.',
    );
  }
  if (r.ranking) {
    const k = r.ranking;
    lines.push(
      '',
      `Ranking.rank at ${k.nodes} nodes (median of ${k.runs} runs): cached ${k.cachedNs.toFixed(0)} ns ` +
        `(1,000 hot keys; ${k.cached10kNs.toFixed(0)} ns with 10,000); ` +
        `uncached ${k.uncachedUs.toFixed(2)} µs (equal weights), ${k.uncachedWeightedUs.toFixed(2)} µs (weighted); ` +
        `3 nodes (ranked directly, no cache) ${k.direct3Ns.toFixed(0)} ns; ` +
        `100,000 functions: ${k.uniform100kNs.toFixed(0)} ns uniform, ${k.zipf100kNs.toFixed(0)} ns Zipf(1).`,
    );
  }
  return `${lines.join('\n')}\n`;
}
