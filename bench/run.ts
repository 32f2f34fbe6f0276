/**
 * fnlb against nginx and HAProxy (and no proxy at all) on one 2-CPU machine: the backends and the load
 * generator pinned to cpu0, the proxy under test to cpu1, so the proxy has one core to itself (lib/cluster.ts).
 *
 *   node dist/bench/run.js [--rounds N] [--duration S] [--smoke] [--scenarios a,b] [--out DIR]
 *                          [--rate R] [--idle-conns N] [--baseline DIR] [--targets a,b] [--one-cluster]
 *
 * Rounds alternate the targets (direct, nginx, haproxy, node-ref, node-floor, fnlb, fnlb-base) within
 * each scenario, forwards in odd rounds and backwards in even ones, so slow drift of the machine spreads
 * over all of them instead of favouring whichever ran first. Prints a markdown table; writes it and the
 * full JSON to DIR/<date>.{md,json}.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BASELINE, LOAD_CPU, PROXIES, baselineEntry, startCluster, type Target } from './lib/cluster.js';
import { runWorkersScan, type WorkersResult } from './lib/workers.js';
import { wrkScript, type WrkScenario } from './lib/configs.js';
import type { FixedRateResult } from './lib/fixed-rate.js';
import { openIdle } from '../harness/client/idle.js';
import { HOST, cpuTicks, readRssBytes, run, runMain, scratch, startedPids, stopAll } from '../harness/processes.js';
import { sleep } from '../harness/wait.js';
import { markdown, summarize, type ProxyScenario, type Report, type RunRecord } from './lib/report.js';
import { clockTicks, ensureTools, machineInfo, ToolsMissing, type Tools } from './lib/tools.js';
import { runWrk, wrkErrors } from './lib/wrk.js';
import { RANKING_FULL, RANKING_SMOKE, runRanking, type RankingResult } from './ranking.js';

type Scenario = ProxyScenario | 'ranking' | 'workers';
/**
 * Run order. idle-conns goes first, on processes that have served only the readiness checks: memory
 * freed after the load runs (HAProxy keeps 16 KiB buffers in its pools, malloc keeps nginx's, V8 its
 * heap) would otherwise be reused by the idle connections and hide their cost.
 */
const SCENARIOS: readonly Scenario[] = ['idle-conns', 'get-small', 'get-16k', 'post-4k', 'latency', 'cpu', 'ranking', 'workers'];
const WRK_SCENARIOS: readonly string[] = ['get-small', 'get-16k', 'post-4k'];
const FIXED_RATE = fileURLToPath(new URL('./lib/fixed-rate.js', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const LAYOUT = 'backends (1 nginx, 1 worker) + wrk/load generator on cpu0; proxy (1 worker/thread) on cpu1; loopback';

const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);

const USAGE = `usage: node dist/bench/run.js [--rounds N] [--duration S] [--smoke] [--scenarios a,b] [--out DIR]
                             [--rate REQ_PER_S] [--idle-conns N] [--baseline DIR] [--targets a,b]
                             [--one-cluster]
scenarios: ${SCENARIOS.join(', ')} (default: all; cpu is measured during get-small)
defaults: 3 rounds, 10 s per run after a 1 s warm-up, latency at 10000 req/s, 5000 idle connections;
--smoke: 1 round, 1 s per run, no warm-up, latency at 1000 req/s, 200 idle connections
--targets: which of ${[...PROXIES, BASELINE].join(', ')} to measure (default: all; fnlb-base needs --baseline)
--one-cluster: start the processes once for all rounds instead of afresh each round; with short
  runs and two targets (--targets fnlb,fnlb-base --rounds 8 --duration 3) this is the finest A/B
  this machine allows. Not with idle-conns (it needs processes that have served nothing).`;

interface Settings {
  rounds: number;
  durationS: number;
  warmupS: number;
  rate: number;
  idleConns: number;
  smoke: boolean;
  scenarios: Scenario[];
  out: string;
  /** Another checkout, built: its fnlb runs beside this one as `fnlb-base` (before/after in one run). */
  baseline: string | null;
  /** The targets measured, in run order. */
  targets: string[];
  /** One set of processes for every round (fine A/B) instead of a fresh set per round. */
  oneCluster: boolean;
}

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

/** The settings, or null for --help. */
function parseSettings(argv: string[]): Settings | null {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      out: { type: 'string' },
      rate: { type: 'string' },
      'idle-conns': { type: 'string' },
      baseline: { type: 'string' },
      targets: { type: 'string' },
      'one-cluster': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return null;
  const smoke = v.smoke === true;
  const scenarios = v.scenarios ? (v.scenarios.split(',').map((s) => s.trim()) as Scenario[]) : [...SCENARIOS];
  const unknown = scenarios.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  const baseline = v.baseline ?? null;
  const all: string[] = baseline === null ? [...PROXIES] : [...PROXIES, BASELINE];
  const asked = v.targets ? v.targets.split(',').map((t) => t.trim()) : all;
  const notKnown = asked.filter((t) => !all.includes(t));
  if (notKnown.length) {
    const hint =
      baseline === null && notKnown.includes(BASELINE) ? ` (${BASELINE} is another checkout's build: give it with --baseline DIR)` : '';
    throw new Error(`unknown target ${notKnown.join(', ')}; known: ${all.join(', ')}${hint}`);
  }
  const oneCluster = v['one-cluster'] === true;
  if (oneCluster && scenarios.includes('idle-conns')) {
    throw new Error('--one-cluster cannot measure idle-conns (it needs processes that have served nothing); leave it out of --scenarios');
  }
  return {
    rounds: positive('rounds', v.rounds, smoke ? 1 : 3),
    durationS: positive('duration', v.duration, smoke ? 1 : 10),
    // wrk takes whole seconds only; a 1 s warm-up per run would double the smoke run.
    warmupS: smoke ? 0 : 1,
    rate: positive('rate', v.rate, smoke ? 1000 : 10_000),
    idleConns: positive('idle-conns', v['idle-conns'], smoke ? 200 : 5000),
    smoke,
    scenarios,
    out: v.out ?? DEFAULT_OUT,
    baseline,
    targets: all.filter((t) => asked.includes(t)),
    oneCluster,
  };
}

/** The load generators and this process stay on cpu0 (all threads: -a), off the proxy's CPU. */
function pinSelf(): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
  } catch {
    log('warning: could not pin the benchmark process to cpu0');
  }
}

class Bench {
  readonly records: RunRecord[] = [];
  private readonly hz = clockTicks();
  private seed = 1;

  constructor(
    private readonly s: Settings,
    private readonly tools: Tools,
    private readonly dir: string,
  ) {}

  async measure(round: number, scenario: ProxyScenario, t: Target): Promise<void> {
    const add = (sc: ProxyScenario, value: number, errors: number, details: Record<string, unknown>): void => {
      this.records.push({ round, scenario: sc, proxy: t.name, value, errors, details });
      if (errors > 0) log(`warning: ${sc} ${t.name}: ${errors} errors: ${JSON.stringify(details)}`);
      const m = sc === 'cpu' || sc === 'idle-conns' ? value.toFixed(2) : Math.round(value).toLocaleString('en-US');
      log(`round ${round}: ${sc} ${t.name}: ${m}`);
    };
    if (WRK_SCENARIOS.includes(scenario)) {
      const script = join(this.dir, `${scenario}.lua`);
      writeFileSync(script, wrkScript(scenario as WrkScenario));
      if (this.s.warmupS > 0) await runWrk(this.tools, t.port, script, this.s.warmupS, this.seed++);
      const before = cpuTicks(t.pid);
      const r = await runWrk(this.tools, t.port, script, this.s.durationS, this.seed++);
      const ticks = cpuTicks(t.pid) - before;
      add(scenario, r.rps, wrkErrors(r), { ...r });
      if (scenario === 'get-small' && this.s.scenarios.includes('cpu')) {
        add('cpu', (ticks * 1e6) / this.hz / r.requests, wrkErrors(r), { ticks, hz: this.hz, requests: r.requests, pid: t.pid });
      }
    } else if (scenario === 'latency') {
      // Some warm-up even in smoke mode: the generator's own JIT warm-up would otherwise show as latency.
      const warmupS = Math.max(this.s.warmupS, 0.5);
      const opts = { host: HOST, port: t.port, rate: this.s.rate, durationS: this.s.durationS, warmupS, connections: 50 };
      const limitMs = (this.s.durationS + warmupS + 30) * 1000;
      const out = await run(
        'fixed-rate',
        this.tools.taskset,
        ['-c', LOAD_CPU, process.execPath, FIXED_RATE, JSON.stringify(opts)],
        limitMs,
      );
      const r = JSON.parse(out) as FixedRateResult;
      add('latency', r.latencyUs.p99, r.errors + r.non2xx, { ...r });
    } else if (scenario === 'idle-conns') {
      // Opened in two halves: the headline is RSS after all minus before, per connection; the second
      // half alone (`marginal`) leaves out one-off costs but also hides whatever the allocator reuses.
      const half = Math.ceil(this.s.idleConns / 2);
      const rss0 = readRssBytes(t.pid) / 1024;
      const first = await openIdle(HOST, t.port, half, 0);
      await sleep(300);
      const rss1 = readRssBytes(t.pid) / 1024;
      const second = await openIdle(HOST, t.port, this.s.idleConns - half, half);
      await sleep(500); // let the proxy finish whatever the last requests started
      const rss2 = readRssBytes(t.pid) / 1024;
      const sockets = [...first.sockets, ...second.sockets];
      const isOpen = (x: (typeof sockets)[number]): boolean => !x.destroyed && x.readyState === 'open';
      const open = sockets.filter(isOpen).length;
      const failed = first.failed + second.failed;
      for (const x of sockets) x.destroy();
      add('idle-conns', (rss2 - rss0) / Math.max(1, open), failed + sockets.length - open, {
        rssKiB: [rss0, rss1, rss2],
        open,
        failed,
        marginalKiBPerConn: (rss2 - rss1) / Math.max(1, second.sockets.filter(isOpen).length),
        pid: t.pid,
      });
      await sleep(300); // closing thousands of connections is work too; keep it out of the next run
    }
  }
}

async function main(): Promise<number> {
  let s: Settings | null;
  try {
    s = parseSettings(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (s === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  pinSelf();
  // A wrong --baseline fails now, not after the first round.
  if (s.baseline !== null) log(`baseline: ${baselineEntry(s.baseline).entry}`);
  const date = new Date().toISOString();
  // In SCENARIOS order whatever the order asked for; cpu is measured during get-small.
  const wanted = (x: Scenario): boolean => s.scenarios.includes(x) || (x === 'get-small' && s.scenarios.includes('cpu'));
  const order = SCENARIOS.filter((x): x is ProxyScenario => wanted(x) && x !== 'cpu' && x !== 'ranking' && x !== 'workers');
  const scansWorkers = s.scenarios.includes('workers');

  let tools: Tools | undefined;
  let records: RunRecord[] = [];
  let workers: WorkersResult[] | undefined;
  if (order.length || scansWorkers) {
    try {
      tools = ensureTools(log);
    } catch (e) {
      if (e instanceof ToolsMissing) {
        log(`cannot run: ${e.message}`);
        return 3;
      }
      throw e;
    }
    const { dir, stop: cleanup } = scratch('fnlb-bench-', log);
    try {
      const bench = new Bench(s, tools, dir);
      // Every round starts every process afresh (unless --one-cluster), so rounds are independent
      // repeats: a proxy that already served a round would, among other things, reuse that round's
      // freed memory for the idle connections of the next and look cheaper.
      let targets: Record<string, Target> | undefined;
      for (let round = 1; round <= s.rounds; round++) {
        if (targets === undefined || !s.oneCluster) {
          const roundDir = join(dir, `round-${round}`);
          mkdirSync(roundDir);
          targets = (await startCluster(roundDir, tools, s.baseline ?? undefined, new Set(s.targets))).targets;
          const t = targets;
          log(`round ${round}: ${s.targets.map((p) => `${p} :${t[p]!.port} pid ${t[p]!.pid}`).join(', ')}`);
        }
        const proxies = round % 2 === 1 ? s.targets : [...s.targets].reverse();
        for (const scenario of order) {
          for (const p of proxies) {
            // The floor relay holds two 64 KiB buffers per connection: its memory means nothing.
            if (scenario === 'idle-conns' && p === 'node-floor') continue;
            await bench.measure(round, scenario, targets[p]!);
            await sleep(200);
          }
        }
        if (!s.oneCluster) await stopAll();
      }
      await stopAll();
      records = bench.records;
      if (scansWorkers) {
        const workersDir = join(dir, 'workers');
        mkdirSync(workersDir);
        const { nodes } = await startCluster(workersDir, tools, undefined, new Set()); // the backends only
        const script = join(workersDir, 'get-small.lua');
        writeFileSync(script, wrkScript('get-small'));
        workers = await runWorkersScan(tools, nodes, script, s.durationS, 1);
        await stopAll();
        for (const w of workers) log(`workers ${w.workers}: ${w.rps === null ? `skipped (${w.skipped})` : `${Math.round(w.rps)} req/s`}`);
      }
    } finally {
      await cleanup();
    }
  }

  let ranking: RankingResult | undefined;
  if (s.scenarios.includes('ranking')) {
    ranking = runRanking(s.smoke ? RANKING_SMOKE : RANKING_FULL);
    log(
      `ranking: cached ${ranking.cachedNs.toFixed(0)} ns, uncached ${ranking.uncachedUs.toFixed(2)} µs, 3 nodes ${ranking.direct3Ns.toFixed(0)} ns`,
    );
  }

  const report: Report = {
    date,
    command: ['node', ...process.argv.slice(1)].join(' '),
    machine: machineInfo(tools),
    settings: {
      rounds: s.rounds,
      durationS: s.durationS,
      warmupS: s.warmupS,
      rate: s.rate,
      idleConns: s.idleConns,
      smoke: s.smoke,
      scenarios: s.scenarios.join(','),
      ...(s.baseline === null ? {} : { baseline: s.baseline }),
      targets: s.targets.join(','),
      ...(s.oneCluster ? { oneCluster: true } : {}),
    },
    layout: LAYOUT,
    summary: summarize(records),
    runs: records,
    ranking,
    workers,
    processes: startedPids,
  };
  const md = markdown(report);
  process.stdout.write(md);
  mkdirSync(s.out, { recursive: true });
  const stem = join(s.out, date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'));
  writeFileSync(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${stem}.md`, md);
  log(`wrote ${stem}.json and ${stem}.md`);
  return 0;
}

runMain(main, log);
