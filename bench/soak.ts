/**
 * Soak test: fnlb in front of real backend processes under a steady mixed load, with periodic faults.
 *
 *   node dist/bench/soak.js --minutes N [--seconds S] [--backends 4] [--concurrency 16] [--fault-every 10s]
 *
 * Starts `--backends` test backends (dist/harness/nodes/backend.js, each logging the x-request-id of every
 * request it receives to its own file in a temp dir) and one fnlb (`--hc-interval 200ms --hc-timeout 300ms
 * --connect-timeout 500ms --access-log off`). `--concurrency` keep-alive clients then loop without pause:
 * GETs over 500 function paths and POSTs of 1-64 KiB random bodies (the sha256 the backend echoes in
 * `bodySha256` must match), each with a unique x-request-id; a quarter of them ask the backend for a
 * 1-20 ms delay so that requests are in flight when a node dies.
 *
 * Faults, one every `--fault-every` (the first after half of it), cycling through:
 *   1. kill -9 a node, restart it a few seconds later;
 *   2. SIGTERM a node (graceful stop), restart it a few seconds later;
 *   3. all nodes restarted at once (SIGKILL all, start all).
 * The node hit by 1 and 2 rotates.
 *
 * Every failure is classified by cause (502, 503, 504, other status, connection error, body mismatch) and
 * as explained or unexplained. Explained are only:
 *   - a POST answered 502 within 1 s after any fault began (a POST already sent to a node that died
 *     may have run there, so fnlb must not re-send it; the access log is off, so "sent to the node that
 *     died" is approximated by the time window);
 *   - a 503 (any method) while all nodes were down: from the moment all are killed until 2 s after all
 *     have been started again (fnlb needs --hc-healthy = 2 passed checks at 200 ms to take one back).
 * Everything else, every other GET failure in particular, is unexplained.
 *
 * POST ids are checked against the backends' log files as the run goes: no POST id may reach a backend
 * twice (two backends, or the same backend twice).
 *
 * Prints a progress line every minute (every 10 s when --seconds is given): elapsed, requests, req/s,
 * failures by cause, fnlb RSS (/proc/PID/status). At the end a `SOAK PASS` / `SOAK FAIL` summary line.
 * Exits 0 only with 0 unexplained failures, no double execution and (runs of 2 minutes or more) fnlb's
 * RSS at the end within 10 % of its value after the first minute. Exit 1 on a failed run, 2 on bad
 * arguments, 130 on SIGINT/SIGTERM. Every process started is stopped on exit, error and signals.
 */
import { randomInt } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, fstatSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config/duration.js';
import { randomBodies, send } from '../harness/scenarios/mixed-load.js';
import { cleanup, nodesArg, readRssBytes, startBackends, startFnlb, type BackendProcess, type FnlbProcess } from '../harness/processes.js';
import { sleep } from '../harness/wait.js';

/* ------------------------------------------------------------------ arguments */

interface Options {
  durationMs: number;
  shortReports: boolean;
  backends: number;
  concurrency: number;
  faultEveryMs: number;
}

function usage(msg: string): never {
  process.stderr.write(
    `soak: ${msg}\nusage: node dist/bench/soak.js --minutes N [--seconds S] [--backends 4] [--concurrency 16] [--fault-every 10s]\n`,
  );
  process.exit(2);
}

function parseOptions(): Options {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        minutes: { type: 'string' },
        seconds: { type: 'string' },
        backends: { type: 'string', default: '4' },
        concurrency: { type: 'string', default: '16' },
        'fault-every': { type: 'string', default: '10s' },
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    usage((err as Error).message);
  }
  const num = (name: string, min: number): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min) usage(`--${name} must be a number >= ${min}`);
    return v;
  };
  if (values.minutes === undefined && values.seconds === undefined) usage('give --minutes and/or --seconds');
  const minutes = values.minutes === undefined ? 0 : num('minutes', 0);
  const seconds = values.seconds === undefined ? 0 : num('seconds', 0);
  const durationMs = Math.round((minutes * 60 + seconds) * 1000);
  if (durationMs < 1000) usage('the run must last at least 1 s');
  let faultEveryMs: number;
  try {
    faultEveryMs = parseDuration(values['fault-every']!);
  } catch (err) {
    usage(`--fault-every: ${(err as Error).message}`);
  }
  if (faultEveryMs < 1000) usage('--fault-every must be at least 1s');
  const backends = num('backends', 2);
  const concurrency = num('concurrency', 1);
  if (!Number.isInteger(backends) || !Number.isInteger(concurrency)) usage('--backends and --concurrency must be integers');
  return { durationMs, shortReports: values.seconds !== undefined, backends, concurrency, faultEveryMs };
}

/* ------------------------------------------------------------------ bookkeeping */

const CAUSES = ['502', '503', '504', 'other-status', 'conn-error', 'body-mismatch'] as const;
type Cause = (typeof CAUSES)[number];

interface Failure {
  id: string;
  method: string;
  path: string;
  cause: Cause;
  detail: string;
  at: number;
}

const counts = {
  requests: 0,
  gets: 0,
  posts: 0,
  explained: Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>,
  unexplained: Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>,
};
const unexplainedSamples: Failure[] = [];
const MAX_SAMPLES = 20;

/** Start times of every fault (performance.now()), for the POST-502 rule. */
const faultTimes: number[] = [];
/** [start, end] windows where all nodes were down (end = Infinity while still down). */
const allDownWindows: { start: number; end: number }[] = [];
const POST_502_WINDOW_MS = 1000;
const ALL_DOWN_GRACE_MS = 2000;

/** Times when all nodes were killed at once. */
const allKillTimes: number[] = [];

function within(times: number[], at: number, ms: number): boolean {
  for (let i = times.length - 1; i >= 0; i--) {
    const t = times[i]!;
    if (at >= t && at - t <= ms) return true;
    if (at - t > ms) break;
  }
  return false;
}

const REASONS = ['POST 502 <=1s after a kill', '502 <=1s after all were killed', '503 while all down'] as const;
type Reason = (typeof REASONS)[number];
const explainedBy = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<Reason, number>;

function explanation(f: Failure): Reason | undefined {
  if (f.cause === '502' && f.method === 'POST' && within(faultTimes, f.at, POST_502_WINDOW_MS)) return 'POST 502 <=1s after a kill';
  // A GET in flight when every node died at once: the node reset it, its fallbacks refused, and fnlb
  // answers 502 (the first node was never marked down, so this is not "all down" to fnlb): no node
  // alive could have served it.
  if (f.cause === '502' && within(allKillTimes, f.at, POST_502_WINDOW_MS)) return '502 <=1s after all were killed';
  if (f.cause === '503') {
    for (const w of allDownWindows) if (f.at >= w.start && f.at <= w.end) return '503 while all down';
  }
  return undefined;
}

function record(f: Failure): void {
  const reason = explanation(f);
  if (reason) {
    counts.explained[f.cause]++;
    explainedBy[reason]++;
  } else {
    counts.unexplained[f.cause]++;
    if (unexplainedSamples.length < MAX_SAMPLES) unexplainedSamples.push(f);
  }
}

/* ------------------------------------------------------------------ double-execution check */

/**
 * Reads the backends' request-id logs incrementally. For each POST sequence number, the byte in `seen`
 * is 1 + the index of the backend that got it; a second sighting (any backend) is a double execution.
 */
class PostLedger {
  private seen = new Uint8Array(1 << 16);
  private readonly offsets: number[];
  private readonly partial: string[];
  readonly doubles: string[] = [];
  lines = 0;

  constructor(private readonly files: string[]) {
    this.offsets = files.map(() => 0);
    this.partial = files.map(() => '');
  }

  private mark(seq: number, node: number): void {
    if (seq >= this.seen.length) {
      let n = this.seen.length;
      while (n <= seq) n *= 2;
      const bigger = new Uint8Array(n);
      bigger.set(this.seen);
      this.seen = bigger;
    }
    const prev = this.seen[seq]!;
    if (prev !== 0) {
      if (this.doubles.length < 1000) this.doubles.push(`p${seq} on backend #${prev} and #${node + 1}`);
    } else this.seen[seq] = node + 1;
  }

  /** Reads whatever was appended since the last call. */
  scan(): void {
    const buf = Buffer.allocUnsafe(1 << 20);
    this.files.forEach((file, i) => {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        return; // nothing logged yet
      }
      try {
        const size = fstatSync(fd).size;
        while (this.offsets[i]! < size) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, size - this.offsets[i]!), this.offsets[i]!);
          if (n <= 0) break;
          this.offsets[i]! += n;
          const parts = (this.partial[i] + buf.toString('latin1', 0, n)).split('\n');
          this.partial[i] = parts.pop()!;
          for (const id of parts) {
            this.lines++;
            if (id.charCodeAt(0) === 112 /* p */) this.mark(Number(id.slice(1)), i);
          }
        }
      } finally {
        closeSync(fd);
      }
    });
  }
}

/* ------------------------------------------------------------------ load */

const FUNCTIONS = Array.from({ length: 500 }, (_, i) => `/r/app${i % 25}/fn${i}`);

/** Random bodies of 1-64 KiB, hashed once (making and hashing a fresh one per request would load the CPU the proxy needs). */
const BODIES = randomBodies(128, 1024, 64 * 1024);

let seq = 0;
let loadRunning = true;

async function client(agent: http.Agent, port: number): Promise<void> {
  while (loadRunning) {
    const n = seq++;
    const isPost = Math.random() < 0.5;
    const fn = FUNCTIONS[randomInt(FUNCTIONS.length)]!;
    const path = Math.random() < 0.25 ? `${fn}?delay=${randomInt(1, 21)}` : fn;
    const id = (isPost ? 'p' : 'g') + n;
    const method = isPost ? 'POST' : 'GET';
    const body = isPost ? BODIES[randomInt(BODIES.length)]! : undefined;
    counts.requests++;
    if (isPost) counts.posts++;
    else counts.gets++;
    let failure: Omit<Failure, 'at'> | undefined;
    try {
      const a = await send(agent, port, method, path, id, body?.data);
      if (a.status !== 200) {
        const cause: Cause = a.status === 502 ? '502' : a.status === 503 ? '503' : a.status === 504 ? '504' : 'other-status';
        failure = { id, method, path, cause, detail: `status ${a.status}: ${a.body.toString('utf8', 0, Math.min(a.body.length, 200))}` };
      } else {
        let info: { method?: string; url?: string; bodySha256?: string; bodyLength?: number } | undefined;
        try {
          info = JSON.parse(a.body.toString('utf8')) as typeof info;
        } catch {
          /* checked below */
        }
        const ok =
          info !== undefined &&
          info.method === method &&
          info.url === path &&
          (isPost ? info.bodySha256 === body!.sha && info.bodyLength === body!.data.length : info.bodyLength === 0);
        if (!ok) failure = { id, method, path, cause: 'body-mismatch', detail: a.body.toString('utf8', 0, Math.min(a.body.length, 200)) };
      }
    } catch (err) {
      failure = { id, method, path, cause: 'conn-error', detail: `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}` };
    }
    if (failure) record({ ...failure, at: performance.now() });
  }
}

/* ------------------------------------------------------------------ faults */

type FaultKind = 'kill -9 + restart' | 'SIGTERM + restart' | 'restart all';
const FAULTS: FaultKind[] = ['kill -9 + restart', 'SIGTERM + restart', 'restart all'];
const faultLog: string[] = [];
/** Single-node faults so far: the victim rotates over the nodes. */
let nodeFaults = 0;
/** Faults begun so far. */
let faultIndex = 0;

async function runFault(i: number, backends: BackendProcess[], restartAfterMs: number, t0: number): Promise<void> {
  const kind = FAULTS[i % FAULTS.length]!;
  const stamp = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  if (kind === 'restart all') {
    const window = { start: performance.now(), end: Infinity };
    allDownWindows.push(window);
    faultTimes.push(window.start);
    allKillTimes.push(window.start);
    await Promise.all(backends.map((b) => b.kill('SIGKILL')));
    await Promise.all(backends.map((b) => b.restart(10_000)));
    startedPids.push(...backends.map((b) => b.pid));
    window.end = performance.now() + ALL_DOWN_GRACE_MS;
    faultLog.push(`${stamp()} ${kind}: all ${backends.length} nodes back`);
    return;
  }
  const victim = backends[nodeFaults++ % backends.length]!;
  const start = performance.now();
  faultTimes.push(start);
  const at = stamp();
  const exit = await victim.kill(kind === 'kill -9 + restart' ? 'SIGKILL' : 'SIGTERM');
  // A SIGTERMed node finishes what it can, then (after its 2 s grace) cuts the connections still busy:
  // that moment is a kill too.
  faultTimes.push(performance.now());
  await sleep(Math.max(0, restartAfterMs - (performance.now() - start)));
  await victim.restart(10_000);
  startedPids.push(victim.pid);
  faultLog.push(`${at} ${kind} ${victim.name} (exit ${exit.signal ?? exit.code}), restarted at ${stamp()}`);
}

/* ------------------------------------------------------------------ main */

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

function causeSummary(rec: Record<Cause, number>): string {
  const parts = CAUSES.filter((c) => rec[c] > 0).map((c) => `${c}=${rec[c]}`);
  return parts.length ? parts.join(' ') : '0';
}

let shuttingDown = false;
/** Every pid started (fnlb, backends, restarted backends), printed at the end for leak checks. */
const startedPids: number[] = [];
let dir: string | undefined;

async function main(): Promise<number> {
  const opts = parseOptions();
  dir = mkdtempSync(join(tmpdir(), 'fnlb-soak-'));
  const logFiles = Array.from({ length: opts.backends }, (_, i) => join(dir!, `S${i + 1}.log`));
  const backends = await startBackends(opts.backends, 'S', (i) => ({ logFile: logFiles[i] }));
  const lb: FnlbProcess = await startFnlb([
    '--listen',
    '127.0.0.1:0',
    '--nodes',
    nodesArg(backends),
    '--hc-interval',
    '200ms',
    '--hc-timeout',
    '300ms',
    '--connect-timeout',
    '500ms',
    '--access-log',
    'off',
  ]);
  startedPids.push(lb.pid, ...backends.map((b) => b.pid));
  const reportEveryMs = opts.shortReports ? 10_000 : 60_000;
  const restartAfterMs = Math.min(3000, Math.round(opts.faultEveryMs / 2));
  console.log(
    `soak: ${(opts.durationMs / 1000).toFixed(0)} s, ${opts.backends} backends, concurrency ${opts.concurrency}, ` +
      `a fault every ${opts.faultEveryMs} ms (restart after ${restartAfterMs} ms), fnlb pid ${lb.pid} on ${lb.url}, logs in ${dir}`,
  );

  const ledger = new PostLedger(logFiles);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const t0 = performance.now();
  const clients = Array.from({ length: opts.concurrency }, () => client(agent, lb.port));

  // Fault schedule: at faultEvery/2, then every faultEvery, while the run lasts.
  const faults: Promise<void>[] = [];
  let faultError: unknown;
  let faultChain: Promise<void> = Promise.resolve();
  const scheduleFault = (at: number): void => {
    if (at >= opts.durationMs - 500) return;
    const timer = setTimeout(
      () => {
        if (!loadRunning) return;
        const i = faultIndex++;
        // Faults never overlap: a slow one delays the next.
        faultChain = faultChain
          .then(() => runFault(i, backends, restartAfterMs, t0))
          .catch((err: unknown) => {
            faultError ??= err;
          });
        faults.push(faultChain);
        scheduleFault(at + opts.faultEveryMs);
      },
      Math.max(0, at - (performance.now() - t0)),
    );
    timer.unref();
  };
  scheduleFault(Math.round(opts.faultEveryMs / 2));

  let rssAfterFirstMinute: number | undefined;
  let lastRss = readRssBytes(lb.pid);
  let lastReport = { t: 0, requests: 0 };
  const report = (label: string): void => {
    const now = performance.now() - t0;
    try {
      lastRss = readRssBytes(lb.pid);
    } catch {
      /* fnlb gone: keep the last value, the failures will say it */
    }
    const rate = (counts.requests - lastReport.requests) / Math.max(0.001, (now - lastReport.t) / 1000);
    lastReport = { t: now, requests: counts.requests };
    console.log(
      `[${label}] ${(now / 1000).toFixed(0)} s: ${counts.requests} requests (${counts.gets} GET, ${counts.posts} POST), ${rate.toFixed(0)} req/s; ` +
        `failures explained: ${causeSummary(counts.explained)}; unexplained: ${causeSummary(counts.unexplained)}; ` +
        `faults ${faultIndex}; fnlb RSS ${mib(lastRss)} MiB`,
    );
  };

  // Progress reports and ledger scans until the end.
  const end = t0 + opts.durationMs;
  let nextReport = t0 + reportEveryMs;
  while (performance.now() < end && !shuttingDown) {
    await sleep(Math.min(1000, Math.max(0, Math.min(end, nextReport) - performance.now())));
    ledger.scan();
    if (lb.proc.exitCode !== null || lb.proc.signalCode !== null) {
      console.log(
        `soak: fnlb exited (code ${lb.proc.exitCode}, signal ${lb.proc.signalCode})${lb.stderr ? `: ${lb.stderr.slice(-2000)}` : ''}`,
      );
      break;
    }
    if (performance.now() >= nextReport - 5 && performance.now() < end - 5) {
      report('progress');
      if (rssAfterFirstMinute === undefined && performance.now() - t0 >= 60_000 - 50) rssAfterFirstMinute = lastRss;
      nextReport += reportEveryMs;
    }
  }
  loadRunning = false;
  await Promise.all(clients);
  await Promise.all(faults);
  agent.destroy();
  report('end');
  if (shuttingDown) return 130;

  // Let the backends' last log lines land, then scan everything.
  await sleep(200);
  ledger.scan();

  const unexplained = CAUSES.reduce((s, c) => s + counts.unexplained[c], 0);
  const explained = CAUSES.reduce((s, c) => s + counts.explained[c], 0);
  const elapsedS = (performance.now() - t0) / 1000;
  const problems: string[] = [];
  if (faultError) problems.push(`a fault could not be carried out: ${(faultError as Error).message}`);
  if (unexplained > 0) problems.push(`${unexplained} unexplained failures`);
  if (ledger.doubles.length > 0) problems.push(`${ledger.doubles.length} POSTs executed twice`);
  if (lb.proc.exitCode !== null || lb.proc.signalCode !== null) problems.push('fnlb died');
  let rssVerdict: string;
  if (opts.durationMs < 120_000) rssVerdict = `RSS check skipped (run shorter than 2 minutes), end ${mib(lastRss)} MiB`;
  else if (rssAfterFirstMinute === undefined) rssVerdict = `RSS check impossible (no first-minute value)`;
  else {
    const growth = (lastRss - rssAfterFirstMinute) / rssAfterFirstMinute;
    rssVerdict = `RSS ${mib(rssAfterFirstMinute)} MiB after 1 min -> ${mib(lastRss)} MiB at end (${(growth * 100).toFixed(1)} %, limit ±10 %)`;
    if (Math.abs(growth) > 0.1) problems.push(`fnlb RSS changed ${(growth * 100).toFixed(1)} % after the first minute`);
  }

  console.log(`pids: ${startedPids.join(' ')}`);
  console.log(`faults (${faultLog.length}):`);
  for (const f of faultLog) console.log(`  ${f}`);
  if (unexplainedSamples.length) {
    console.log(`unexplained failures (first ${unexplainedSamples.length}):`);
    for (const f of unexplainedSamples) console.log(`  ${(f.at - t0).toFixed(0)} ms ${f.method} ${f.path} ${f.id}: ${f.cause} ${f.detail}`);
  }
  if (ledger.doubles.length) {
    console.log(`double executions (first ${Math.min(20, ledger.doubles.length)}):`);
    for (const d of ledger.doubles.slice(0, 20)) console.log(`  ${d}`);
  }
  const pass = problems.length === 0;
  console.log(
    `SOAK ${pass ? 'PASS' : 'FAIL'}: ${elapsedS.toFixed(0)} s, ${counts.requests} requests (${(counts.requests / elapsedS).toFixed(0)} req/s), ` +
      `${faultLog.length} faults, ${explained} explained failures (${causeSummary(counts.explained)}; ` +
      REASONS.map((r) => `${r}: ${explainedBy[r]}`).join(', ') +
      `), ${unexplained} unexplained (${causeSummary(counts.unexplained)}), ` +
      `${ledger.doubles.length} double POSTs (${ledger.lines} backend log lines checked), ${rssVerdict}` +
      (pass ? '' : ` -- ${problems.join('; ')}`),
  );
  return pass ? 0 : 1;
}

async function finish(code: number): Promise<never> {
  try {
    await cleanup();
  } catch {
    /* the exit hook SIGKILLs what is left */
  }
  if (dir && code !== 1) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`soak: backend logs kept in ${dir}`);
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    loadRunning = false;
    console.log(`soak: ${sig}, stopping`);
    // The main loop notices within a second; if it is stuck, clean up anyway.
    setTimeout(() => void finish(130), 5000).unref();
  });
}

main().then(
  (code) => finish(code),
  (err: unknown) => {
    console.error(`soak: ${(err as Error).stack ?? String(err)}`);
    return finish(1);
  },
);
