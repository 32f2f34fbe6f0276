/**
 * Black-box: `node dist/bench/run.js --smoke` runs every scenario against every proxy once, at tiny
 * size and without a failed request, writes its JSON and markdown, and leaves no process behind. Numbers only have to exist and be
 * positive: speed is the benchmark's business, not the test's. Skipped when nginx, HAProxy or wrk
 * are missing and cannot be installed (the bench exits 3 then, e.g. not root).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, runScript } from '../../harness/processes.js';
import { spawnSync } from 'node:child_process';

const BENCH_ENTRY = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const INSTRUCTIONS_ENTRY = fileURLToPath(new URL('../../bench/instructions.js', import.meta.url));
// fnlb-base: this very checkout given as --baseline (it always exists and is built), so the before/after column works.
const PROXIES = ['direct', 'nginx', 'haproxy', 'node-ref', 'node-floor', 'fnlb', 'fnlb-base'];
const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));
const SCENARIOS = ['get-small', 'get-16k', 'post-4k', 'latency', 'idle-conns', 'cpu'];

interface SmokeReport {
  summary: Record<string, { proxies: Record<string, { median: number; errors: number }>; ratios: Record<string, { median: number }> }>;
  ranking: { cachedNs: number; uncachedUs: number; uniform100kNs: number; zipf100kNs: number };
  workers: { workers: number; rps: number | null; errors: number; skipped?: string }[];
  machine: { nproc: number; cpuModel: string; node: string; nginx: string; haproxy: string };
  command: string;
  processes: { label: string; pid: number }[];
}

it('bench --smoke: a positive number for every proxy × scenario, and no process left', { timeout: 300_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fnlb-bench-smoke-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // Generous: a first run may apt-get install the tools.
  const { code, stdout, stderr, output } = await runScript(BENCH_ENTRY, ['--smoke', '--out', out, '--baseline', CHECKOUT], 280_000);
  if (code === 3) {
    t.skip(`nginx/haproxy/wrk unavailable and not installable here: ${stderr.trim()}`);
    return;
  }
  assert.equal(code, 0, `bench exited ${code}${output}`);

  const files = readdirSync(out);
  const json = files.find((f) => f.endsWith('.json'));
  assert.ok(json, `no JSON written${output}`);
  assert.ok(existsSync(join(out, json.replace(/\.json$/, '.md'))), 'no markdown written');
  const report = JSON.parse(readFileSync(join(out, json), 'utf8')) as SmokeReport;

  for (const scenario of SCENARIOS) {
    for (const proxy of PROXIES) {
      if (scenario === 'idle-conns' && proxy === 'node-floor') continue; // not measured: see run.ts
      const v = report.summary[scenario]?.proxies[proxy];
      // At smoke size (200 connections) a GC during the idle-conns run can free more than they take.
      const positive = scenario !== 'idle-conns';
      assert.ok(v && Number.isFinite(v.median) && (!positive || v.median > 0), `${scenario} × ${proxy}: ${v?.median}${output}`);
      assert.equal(v.errors, 0, `${scenario} × ${proxy}: failed requests${output}`);
    }
    // At smoke size memory per connection can come out at or below 0, and then has no ratio.
    if (scenario === 'idle-conns') continue;
    for (const peer of ['nginx', 'haproxy', 'node-ref', 'node-floor', 'fnlb-base']) {
      const ratio = report.summary[scenario]!.ratios[`fnlb/${peer}`]?.median;
      assert.ok(ratio !== undefined && Number.isFinite(ratio) && ratio > 0, `fnlb/${peer} ${scenario}: ${ratio}`);
    }
  }
  assert.ok(report.ranking.cachedNs > 0 && report.ranking.uncachedUs > 0, 'ranking numbers');
  assert.ok(report.ranking.uniform100kNs > 0 && report.ranking.zipf100kNs > 0, 'ranking over 100,000 functions');
  // --workers N on CPUs of its own: 1 worker runs on any machine of 2 CPUs or more, larger counts only where the CPUs exist.
  assert.deepEqual(
    report.workers.map((w) => w.workers),
    [1, 2, 4],
  );
  for (const w of report.workers) {
    if (w.workers + 1 <= report.machine.nproc) assert.ok(w.rps !== null && w.rps > 0 && w.errors === 0, `workers ${w.workers}: ${w.rps}`);
    else assert.match(w.skipped ?? '', /needs \d+ CPUs/);
  }
  assert.ok(report.machine.nproc > 0 && report.machine.cpuModel && report.machine.nginx && report.machine.haproxy);
  assert.match(report.command, /--smoke/);
  assert.match(stdout, /\| get-small \| req\/s \|/, 'markdown table on stdout');

  // Every process the bench started (nginx workers included) is gone.
  const left = report.processes.filter((p) => /nginx|haproxy|wrk|main\.js|node-ref|fixed-rate/.test(commandLine(p.pid) ?? ''));
  assert.deepEqual(left, [], 'processes left behind');
});

it(
  'bench --one-cluster: one set of processes serves every round (fine A/B), and idle-conns is refused',
  { timeout: 120_000 },
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'fnlb-bench-one-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const refused = await runScript(BENCH_ENTRY, ['--smoke', '--one-cluster', '--scenarios', 'idle-conns', '--out', out], 20_000);
    assert.equal(refused.code, 2, refused.output);
    assert.match(refused.stderr, /--one-cluster cannot measure idle-conns/);

    const args = [
      '--smoke',
      '--one-cluster',
      '--rounds',
      '2',
      '--scenarios',
      'get-small,cpu',
      '--targets',
      'fnlb,fnlb-base',
      '--baseline',
      CHECKOUT,
    ];
    const { code, stderr, output } = await runScript(BENCH_ENTRY, [...args, '--out', out], 100_000);
    if (code === 3) {
      t.skip(`nginx/haproxy/wrk unavailable and not installable here: ${stderr.trim()}`);
      return;
    }
    assert.equal(code, 0, `bench exited ${code}${output}`);
    const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
    const report = JSON.parse(readFileSync(join(out, json), 'utf8')) as {
      runs: { round: number; scenario: string; proxy: string; details: { pid?: number } }[];
    };
    const cpu = report.runs.filter((r) => r.scenario === 'cpu');
    for (const proxy of ['fnlb', 'fnlb-base']) {
      const mine = cpu.filter((r) => r.proxy === proxy);
      assert.deepEqual(
        mine.map((r) => r.round),
        [1, 2],
        proxy,
      );
      assert.equal(new Set(mine.map((r) => r.details.pid)).size, 1, `${proxy}: one process for both rounds`);
    }
    // Round 2 runs the targets in the reverse order of round 1.
    const order = (round: number): string[] =>
      report.runs.filter((r) => r.round === round && r.scenario === 'get-small').map((r) => r.proxy);
    assert.deepEqual(order(2), [...order(1)].reverse());
  },
);

it(
  'bench:instructions --smoke: instructions per request for this build and a baseline, by function, and no process left',
  { timeout: 180_000 },
  async (t) => {
    const { code, stdout, stderr, output } = await runScript(INSTRUCTIONS_ENTRY, ['--smoke', '--baseline', CHECKOUT], 150_000);
    if (code === 3) {
      t.skip(`nginx or valgrind unavailable and not installable here: ${stderr.trim()}`);
      return;
    }
    assert.equal(code, 0, `instructions exited ${code}${output}`);
    const line = stdout.split('\n').find((l) => l.startsWith('BENCH_INSTRUCTIONS '));
    assert.ok(line, stdout);
    const builds = JSON.parse(line.slice('BENCH_INSTRUCTIONS '.length)) as { name: string; min: number; rounds: number[] }[];
    assert.deepEqual(
      builds.map((b) => b.name),
      ['fnlb', 'fnlb-base'],
    );
    for (const b of builds) {
      assert.equal(b.rounds.length, 1, b.name);
      // A small GET takes tens of thousands of instructions once optimized; unwarmed (smoke) a few hundred thousand.
      assert.ok(b.min > 5_000 && b.min < 5_000_000, `${b.name}: ${b.min} instructions per request`);
    }
    assert.match(stdout, /## fnlb: top functions/);
    assert.match(stdout, /fnlb \/ fnlb-base \(minimums\): \d\.\d{3}/);
    // The callgrind processes are gone.
    const left = spawnSync('pgrep', ['-f', 'fnlb-instructions-'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', `processes left: ${left}`);
  },
);

it(
  'bench:instructions --smoke --nodes go: the same count behind Go-like nodes (HAProxy), and no process left',
  { timeout: 120_000 },
  async (t) => {
    const { code, stdout, stderr, output } = await runScript(INSTRUCTIONS_ENTRY, ['--smoke', '--nodes', 'go'], 100_000);
    if (code === 3) {
      t.skip(`nginx, HAProxy or valgrind unavailable and not installable here: ${stderr.trim()}`);
      return;
    }
    assert.equal(code, 0, `instructions exited ${code}${output}`);
    assert.match(stdout, /small GETs, go nodes/);
    const line = stdout.split('\n').find((l) => l.startsWith('BENCH_INSTRUCTIONS '));
    assert.ok(line, stdout);
    const [build] = JSON.parse(line.slice('BENCH_INSTRUCTIONS '.length)) as { name: string; min: number }[];
    assert.equal(build?.name, 'fnlb');
    assert.ok(build.min > 5_000 && build.min < 5_000_000, `${build.min} instructions per request`);
    const left = spawnSync('pgrep', ['-f', 'fnlb-instructions-'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', `processes left: ${left}`);
  },
);
