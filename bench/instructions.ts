/**
 * Instructions per request, counted by valgrind's callgrind: the user-space work fnlb does for one small
 * GET (/r/app/f<k> over 100,000 functions, three backends), apart from the machine's noise. Wall
 * clock and CPU time on a shared 2-core machine move by 5-10% from run to run; the instruction count of
 * optimized code for the same requests repeats to a few in ten thousand, so it tells a 1% change apart
 * (it does not see the kernel, which is most of a proxy's CPU: confirm with `npm run bench`).
 *
 *   node dist/bench/instructions.js [--baseline DIR] [--nodes nginx|go] [--requests 3000] [--warmup 20000] [--rounds 3] [--top 25] [--smoke]
 *
 * `--nodes nginx` (the default): the backends are nginx, whose responses carry `Connection: keep-alive`.
 * `--nodes go`: they answer as Go's net/http does (IronFunctions is Go), with no Connection line, so
 * fnlb may pass their response heads on as they came (HAProxy plays them: harness/peers.ts).
 *
 * Each build (this checkout; with --baseline, that checkout's build too) runs under callgrind with
 * instrumentation off while `--warmup` requests let V8 optimize, then each round counts exactly
 * `--requests` requests (bench/lib/exact-load.ts), builds taking turns. A round's count can still
 * include an optimizing compile; the minimum over rounds is the figure to compare. The last round is
 * broken down by function: JavaScript functions are named from V8's --perf-basic-prof map.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backendsConf, goLikeBackendsConf, which } from '../harness/peers.js';
import { freePorts, FNLB_ENTRY, HOST, runMain, scratch, start, waitReady, type Proc } from '../harness/processes.js';
import { baselineEntry, LOAD_CPU } from './lib/cluster.js';
import { exactLoad } from './lib/exact-load.js';
import { ensureTools, ToolsMissing } from './lib/tools.js';

const PROXY_CPU = '1';
const log = (line: string): void => console.error(`instructions: ${line}`);
const CONNECTIONS = 50;

interface Build {
  readonly name: string;
  readonly entry: string;
  /** Flags of ours this build does not know (an older baseline): left out. */
  readonly unknownFlags: ReadonlySet<string>;
  readonly port: number;
  proc?: Proc;
  readonly perRound: number[];
  top: Array<{ name: string; perRequest: number }>;
}

function usage(message: string): never {
  console.error(`instructions: ${message}`);
  console.error(
    'usage: node dist/bench/instructions.js [--baseline DIR] [--nodes nginx|go] [--requests N] [--warmup N] [--rounds N] [--top N] [--smoke]',
  );
  process.exit(2);
}

/** The V8 flags the executable runs with: those on its #! line (node --flag ...). */
function shebangFlags(entry: string): string[] {
  const first = readFileSync(entry, 'utf8').split('\n', 1)[0]!;
  const words = first.replace(/^#!\s*/, '').split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  return node === -1 ? [] : words.slice(node + 1).filter((w) => w.startsWith('--'));
}

function ensureValgrind(): void {
  if (which('valgrind') && which('callgrind_annotate') && which('callgrind_control')) return;
  if (process.getuid?.() !== 0 || !which('apt-get'))
    throw new ToolsMissing('valgrind is missing and cannot be installed (needs root and apt-get)');
  log('installing valgrind with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'valgrind'], { stdio: 'ignore', env });
}

/** Counts instructions of `build` for exactly `requests` requests; returns the callgrind dump's path. */
async function countRound(build: Build, outDir: string, requests: number, seed: number): Promise<{ total: number; dump: string }> {
  const pid = String(build.proc!.pid);
  const control = (...args: string[]): void => void execFileSync('callgrind_control', [...args, pid], { stdio: 'ignore' });
  const before = new Set(readdirSync(outDir));
  control('-z');
  control('-i', 'on');
  const answered = await exactLoad(build.port, requests, CONNECTIONS, seed);
  control('-i', 'off');
  control('-d');
  // The dump is written by the profiled process when it next runs: wait for the file and its totals line.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const dump = readdirSync(outDir).find((f) => f.startsWith(`cg.${pid}.`) && !before.has(f));
    if (dump !== undefined) {
      const text = readFileSync(join(outDir, dump), 'utf8');
      const totals = /^totals: (\d+)/m.exec(text);
      if (totals !== null) return { total: Number(totals[1]) / answered, dump: join(outDir, dump) };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no callgrind dump from pid ${pid}`);
}

/** Per-function instructions per request from a dump; JIT code named from the --perf-basic-prof map. */
function topFunctions(dump: string, pid: number, requests: number, count: number): Array<{ name: string; perRequest: number }> {
  const map: Array<[number, number, string]> = [];
  const mapFile = `/tmp/perf-${pid}.map`;
  if (existsSync(mapFile)) {
    for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m) map.push([parseInt(m[1]!, 16), parseInt(m[2]!, 16), m[3]!]);
    }
  }
  map.sort((a, b) => a[0] - b[0]);
  const nameOf = (addr: number): string => {
    let lo = 0;
    let hi = map.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid]![0] <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    const e = map[hi];
    return e !== undefined && addr < e[0] + e[1] ? e[2] : 'JIT code (unnamed)';
  };
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const byName = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$/.exec(line);
    if (!m || m[2]!.includes('PROGRAM TOTALS')) continue;
    const ir = Number(m[1]!.replace(/,/g, ''));
    const jit = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(m[2]!);
    const name = jit ? nameOf(parseInt(jit[1]!, 16)) : m[2]!.replace(/^\?\?\?:/, '').replace(/\(.*$/, '');
    byName.set(name, (byName.get(name) ?? 0) + ir);
  }
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ir]) => ({ name: name.replace(/file:\/\/\S*\/dist\//, ''), perRequest: ir / requests }));
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        baseline: { type: 'string' },
        nodes: { type: 'string', default: 'nginx' },
        requests: { type: 'string', default: '3000' },
        warmup: { type: 'string', default: '20000' },
        rounds: { type: 'string', default: '3' },
        top: { type: 'string', default: '25' },
        smoke: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const number = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${text}`);
    return n;
  };
  const smoke = values.smoke;
  const requests = smoke ? 200 : number('requests', values.requests, 1);
  const warmup = smoke ? 300 : number('warmup', values.warmup, 0);
  const rounds = smoke ? 1 : number('rounds', values.rounds, 1);
  const top = smoke ? 5 : number('top', values.top, 0);
  const nodeKind = values.nodes;
  if (nodeKind !== 'nginx' && nodeKind !== 'go') usage(`--nodes must be nginx or go, got ${nodeKind}`);

  let tools;
  try {
    tools = ensureTools(log);
    ensureValgrind();
  } catch (err) {
    if (err instanceof ToolsMissing) {
      log(err.message);
      return 3;
    }
    throw err;
  }

  const ports = await freePorts(5);
  const backends = ports.slice(0, 3);
  const builds: Build[] = [{ name: 'fnlb', entry: FNLB_ENTRY, unknownFlags: new Set(), port: ports[3]!, perRound: [], top: [] }];
  if (values.baseline !== undefined) {
    const { entry, unknownFlags } = baselineEntry(values.baseline);
    builds.push({ name: 'fnlb-base', entry, unknownFlags, port: ports[4]!, perRound: [], top: [] });
  }
  const { dir, stop } = scratch('fnlb-instructions-', log);
  try {
    let backendProc: Proc;
    if (nodeKind === 'go') {
      writeFileSync(join(dir, 'backends.cfg'), goLikeBackendsConf(backends));
      backendProc = start('backends', tools.taskset, ['-c', LOAD_CPU, tools.haproxy, '-f', join(dir, 'backends.cfg')]);
    } else {
      for (const d of ['www', 'backends-tmp']) mkdirSync(join(dir, d), { mode: 0o755 });
      writeFileSync(join(dir, 'backends.conf'), backendsConf(dir, backends));
      const nginxArgs = [
        ...['-c', LOAD_CPU, tools.nginx, '-p', `${dir}/`],
        ...['-e', join(dir, 'backends-error.log'), '-c', join(dir, 'backends.conf')],
      ];
      backendProc = start('backends', tools.taskset, nginxArgs);
    }
    for (const port of backends) await waitReady(backendProc, port);
    const nodes = backends.map((p) => `${HOST}:${p}`).join(',');
    for (const b of builds) {
      const args = [
        ...['-c', PROXY_CPU, 'valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${dir}/cg.%p`],
        ...[process.execPath, '--perf-basic-prof', ...shebangFlags(b.entry), b.entry],
        ...['--listen', `${HOST}:${b.port}`, '--nodes', nodes, '--access-log', 'off', '--hc-path', '/version'],
        // On, as by default and in npm run bench (its counters are part of the work), on any free port.
        ...(b.unknownFlags.has('--admin-listen') ? [] : ['--admin-listen', `${HOST}:0`]),
      ];
      // taskset execs valgrind, which runs node in its own process: one pid throughout.
      b.proc = start(b.name, tools.taskset, args);
    }
    for (const b of builds) await waitReady(b.proc!, b.port, 180_000);
    for (const b of builds) if (warmup > 0) await exactLoad(b.port, warmup, CONNECTIONS, 7);
    for (let round = 0; round < rounds; round++) {
      // Builds take turns, in reverse order every other round.
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const b of order) {
        const { total, dump } = await countRound(b, dir, requests, round + 1);
        b.perRound.push(total);
        log(`round ${round + 1}: ${b.name}: ${Math.round(total)} per request`);
        if (round === rounds - 1 && top > 0) b.top = topFunctions(dump, b.proc!.pid, requests, top);
        rmSync(dump);
      }
    }
  } finally {
    await stop();
    for (const b of builds) if (b.proc !== undefined) rmSync(`/tmp/perf-${b.proc.pid}.map`, { force: true });
  }

  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const min = (b: Build): number => Math.min(...b.perRound);
  console.log(
    `# Instructions per request (callgrind), small GETs, ${nodeKind} nodes, ${requests} requests per round, ${warmup} warm-up, ${rounds} round(s)\n`,
  );
  console.log('| build | min | rounds |');
  console.log('|---|---:|---|');
  for (const b of builds) console.log(`| ${b.name} | ${fmt(min(b))} | ${b.perRound.map(fmt).join(', ')} |`);
  if (builds.length === 2) console.log(`\nfnlb / fnlb-base (minimums): ${(min(builds[0]!) / min(builds[1]!)).toFixed(3)}`);
  for (const b of builds) {
    if (b.top.length === 0) continue;
    console.log(`\n## ${b.name}: top functions, instructions per request (last round)\n`);
    for (const f of b.top) console.log(`${fmt(f.perRequest).padStart(8)}  ${f.name}`);
  }
  console.log(`\nBENCH_INSTRUCTIONS ${JSON.stringify(builds.map((b) => ({ name: b.name, min: min(b), rounds: b.perRound })))}`);
  return 0;
}

runMain(main, log);
