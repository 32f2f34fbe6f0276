/**
 * The one process registry of the tests, the benchmarks and the demo. Every child started here (fnlb,
 * fake nodes, nginx, HAProxy, wrk, a whole benchmark run) is tracked until it exits. `stopAll()` (and
 * `cleanup()`, its test-sized form for `after`/`afterEach`) stops them all, and one process 'exit' hook
 * SIGKILLs whatever is left, descendants included: an nginx master killed with SIGKILL leaves its
 * worker running, so workers are looked up and killed by pid.
 *
 * Two ways in: `start`/`run` for external programs (stderr tail kept, stdout only when asked), and
 * `startFnlb`/`startBackend(s)` for fnlb and the fake node, whose output is read line by line to wait
 * for their ready lines. Every wait is bounded and its error includes the process's stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { sleep, withTimeout } from './wait.js';

/** dist/ root, from this compiled file: dist/harness/processes.js. */
export const DIST_DIR = fileURLToPath(new URL('../', import.meta.url));
/** The fake node (dist/harness/nodes/backend.js). */
export const BACKEND_ENTRY = fileURLToPath(new URL('./nodes/backend.js', import.meta.url));
/** The fnlb command: dist/src/cli/main.js, or $FNLB_ENTRY (to run the tests and benchmarks against another build). */
export const FNLB_ENTRY = process.env.FNLB_ENTRY || fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The fnlb library: dist/src/index.js, or $FNLB_INDEX. */
export const FNLB_INDEX_URL = process.env.FNLB_INDEX
  ? pathToFileURL(process.env.FNLB_INDEX).href
  : new URL('../src/index.js', import.meta.url).href;
export const DEMO_ENTRY = fileURLToPath(new URL('../scripts/demo.js', import.meta.url));
export const HOST = '127.0.0.1';

/* ------------------------------------------------------------------ registry */

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned or signalled ('error' event). */
  error?: Error;
}

interface Tracked {
  label: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<ExitInfo>;
}

const live = new Set<Tracked>();
/** Every pid started (and every nginx worker seen), for the bench report and its leak check. */
export const startedPids: { label: string; pid: number }[] = [];

process.on('exit', killAllNow);

function track(proc: ChildProcess, label: string): Tracked {
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  const t: Tracked = { label, proc, pid: proc.pid ?? -1, exited };
  live.add(t);
  if (proc.pid !== undefined) startedPids.push({ label, pid: proc.pid });
  void exited.then(() => live.delete(t));
  return t;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** Sends `signal`, waits for exit; SIGKILL after graceMs. */
async function terminate(t: Tracked, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
  if (t.proc.exitCode === null && t.proc.signalCode === null) {
    try {
      t.proc.kill(signal);
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        t.proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    try {
      return await t.exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return t.exited;
}

/** Direct children (kernel list; needs CONFIG_PROC_CHILDREN, which Debian and Ubuntu kernels have). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const c of childPids(pid)) out.push(c, ...descendants(c));
  return out;
}

/** Waits for `pid` to have a child (an nginx worker) and returns it. */
export async function waitForChild(pid: number, label: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const [c] = childPids(pid);
    if (c !== undefined) {
      startedPids.push({ label: `${label} worker`, pid: c });
      return c;
    }
    await sleep(50);
  }
  throw new Error(`${label}: no worker process appeared`);
}

/** SIGTERM every process still running, SIGKILL what is left after graceMs, then any orphaned descendants. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const procs = [...live];
  const orphans = procs.flatMap((t) => descendants(t.pid));
  await Promise.all(procs.map((t) => terminate(t, 'SIGTERM', graceMs)));
  for (const pid of orphans) kill(pid, 'SIGKILL');
}

/** stopAll with a 2 s grace, for test hooks. */
export function cleanup(): Promise<void> {
  return stopAll(2000);
}

/** Synchronous last resort (the process 'exit' hook): SIGKILL every process and its descendants. */
export function killAllNow(): void {
  for (const t of live) {
    const ds = descendants(t.pid);
    kill(t.pid, 'SIGKILL');
    for (const d of ds) kill(d, 'SIGKILL');
  }
}

/** Number of spawned processes still running. */
export function liveProcessCount(): number {
  return live.size;
}

/* ------------------------------------------------------------------ external programs */

export interface Proc {
  readonly label: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Last few KB of stderr. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal, -1 when it could not start). */
  readonly exited: Promise<number | null>;
}

/** Starts `cmd args`; stdout is collected only when `collectStdout` (otherwise discarded, so a chatty child can never block on a full pipe). */
export function start(label: string, cmd: string, args: string[], collectStdout = false): Proc & { stdout(): string } {
  const child = spawn(cmd, args, { stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-8000)));
  if (child.pid === undefined) {
    child.once('error', () => undefined); // reported by the throw below
    throw new Error(`${label}: cannot start ${cmd}`);
  }
  const t = track(child, label);
  const exited = t.exited.then((e) => {
    if (e.error) err += String(e.error);
    return e.error ? -1 : e.code;
  });
  return { label, child, pid: child.pid, exited, stderr: () => err, stdout: () => out };
}

/** Runs to completion; rejects on a non-zero exit, with its stderr. */
export async function run(label: string, cmd: string, args: string[], timeoutMs: number): Promise<string> {
  const p = start(label, cmd, args, true);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${label} exited ${code}: ${p.stderr().trim()}`);
  return p.stdout();
}

/** How a script run by runScript ended, with its output. */
export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr labelled, for assertion messages. */
  output: string;
}

/** Runs `node <entry> ...args` to its end, interrupted (SIGINT) after limitMs. */
export async function runScript(entry: string, args: string[], limitMs: number): Promise<ScriptResult> {
  const proc = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track(proc, entry);
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => proc.kill('SIGINT'), limitMs);
  const { code } = await t.exited;
  clearTimeout(timer);
  return { code, stdout, stderr, output: `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

/**
 * A scratch directory for configurations (mode 0755: nginx workers run as nobody when nginx starts as
 * root, and read files in here) and `stop()`: `also()`, then stop every process started here, then
 * remove the directory. SIGINT and SIGTERM stop the same way and exit 130.
 */
export function scratch(
  prefix: string,
  log: (s: string) => void,
  also: () => Promise<void> = async () => {},
): { dir: string; stop: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const stop = async (): Promise<void> => {
    await also();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupt = (sig: string): void => {
    log(`${sig}: stopping every process`);
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  return { dir, stop };
}

/**
 * Runs a benchmark's main and exits with its code; on an error, logs it, runs `also()`, stops every
 * process and exits 1. Whatever happens, the exit hook SIGKILLs what is left.
 */
export function runMain(main: () => Promise<number>, log: (s: string) => void, also: () => Promise<void> = async () => {}): void {
  main().then(
    (code) => process.exit(code),
    async (e: Error) => {
      log(`failed: ${e.stack ?? e.message}`);
      await also();
      await stopAll();
      process.exit(1);
    },
  );
}

/* ------------------------------------------------------------------ fnlb and fake nodes */

function tail(s: string, n = 4000): string {
  return s.length > n ? '…' + s.slice(s.length - n) : s;
}

/** Output collected from a child process, line by line. */
class Output {
  stdout = '';
  stderr = '';
  readonly lines: string[] = [];
  private partial = '';
  private readonly listeners = new Set<() => void>();

  constructor(proc: ChildProcess) {
    proc.stdout?.setEncoding('utf8');
    proc.stderr?.setEncoding('utf8');
    proc.stdout?.on('data', (s: string) => {
      this.stdout += s;
      if (this.stdout.length > 4_000_000) this.stdout = this.stdout.slice(-2_000_000);
      const parts = (this.partial + s).split('\n');
      this.partial = parts.pop()!;
      for (const l of parts) this.lines.push(l.replace(/\r$/, ''));
      this.fire();
    });
    proc.stderr?.on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > 4_000_000) this.stderr = this.stderr.slice(-2_000_000);
      this.fire();
    });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  fire(): void {
    for (const l of [...this.listeners]) l();
  }

  describe(): string {
    return `\n--- stderr ---\n${tail(this.stderr) || '(empty)'}\n--- stdout (tail) ---\n${tail(this.stdout, 2000) || '(empty)'}`;
  }
}

/** Tracks a child whose output is read line by line; waiters on its output are woken when it exits. */
function trackWithOutput(proc: ChildProcess, label: string, output: Output): Tracked {
  const t = track(proc, label);
  // wake up anyone waiting on output so they can notice the exit
  void t.exited.then(() => setImmediate(() => output.fire()));
  return t;
}

/* ------------------------------------------------------------------ backends */

export interface BackendOptions {
  /** Port to listen on (default 0 = any). */
  port?: number;
  /** Append each request's x-request-id to this file, synchronously, as the head arrives. */
  logFile?: string;
  /** listen() backlog of the backend (see backend.ts --backlog). */
  backlog?: number;
  /** Give up waiting for the ready line after this long (default 5000 ms). */
  readyTimeoutMs?: number;
  /** Answer like the demo's IronFunctions node (backend.ts --demo). */
  demo?: boolean;
  /** With demo: containers per function at most, and the cold start of a new one (backend.ts). */
  containers?: number;
  coldStartMs?: number;
}

export interface BackendProcess {
  readonly name: string;
  /** Stays the same across restart(). */
  readonly port: number;
  /** "127.0.0.1:port" */
  readonly id: string;
  /** Current child process (changes on restart). */
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves when the current process exits. */
  readonly exited: Promise<ExitInfo>;
  /** stderr of the current process. */
  readonly stderr: string;
  /** Sends signal (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts again on the same port (retries while the port is still taken). */
  restart(timeoutMs?: number): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 3 s; waits for exit. */
  stop(): Promise<ExitInfo>;
}

interface SpawnedBackend {
  tracked: Tracked;
  output: Output;
  port: number;
}

const EADDRINUSE_EXIT = 98;

async function spawnBackend(name: string, port: number, opts: BackendOptions): Promise<SpawnedBackend> {
  const args = [BACKEND_ENTRY, '--name', name, '--port', String(port)];
  if (opts.logFile) args.push('--log', opts.logFile);
  if (opts.demo) args.push('--demo');
  if (opts.containers !== undefined) args.push('--containers', String(opts.containers));
  if (opts.coldStartMs !== undefined) args.push('--cold-start', String(opts.coldStartMs));
  if (opts.backlog !== undefined) args.push('--backlog', String(opts.backlog));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new Output(proc);
  const tracked = trackWithOutput(proc, `backend ${name}`, output);
  const timeoutMs = opts.readyTimeoutMs ?? 5000;
  const ready = new Promise<number>((resolve, reject) => {
    const check = (): void => {
      for (const line of output.lines) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as { ready?: boolean; port?: number };
          if (j.ready && typeof j.port === 'number') {
            off();
            resolve(j.port);
            return;
          }
        } catch {
          /* not JSON */
        }
      }
      if (proc.exitCode !== null || proc.signalCode !== null) {
        off();
        const e = new Error(`backend ${name} exited (code ${proc.exitCode}, signal ${proc.signalCode}) before ready${output.describe()}`);
        (e as Error & { exitCode?: number | null }).exitCode = proc.exitCode;
        reject(e);
      }
    };
    const off = output.onChange(check);
    check();
  });
  try {
    const actual = await withTimeout(ready, timeoutMs, () => `backend ${name} not ready after ${timeoutMs} ms${output.describe()}`);
    return { tracked, output, port: actual };
  } catch (err) {
    await terminate(tracked, 'SIGKILL');
    throw err;
  }
}

/** Spawns a test backend process (dist/harness/nodes/backend.js) and waits for its ready line. */
export async function startBackend(name: string, opts: BackendOptions = {}): Promise<BackendProcess> {
  let current = await spawnBackend(name, opts.port ?? 0, opts);
  const port = current.port;
  const handle: BackendProcess = {
    name,
    port,
    id: `127.0.0.1:${port}`,
    get proc() {
      return current.tracked.proc;
    },
    get pid() {
      return current.tracked.proc.pid ?? -1;
    },
    get exited() {
      return current.tracked.exited;
    },
    get stderr() {
      return current.output.stderr;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      return terminate(current.tracked, signal, 3000);
    },
    stop() {
      return terminate(current.tracked, 'SIGTERM', 3000);
    },
    async restart(timeoutMs = 5000) {
      await terminate(current.tracked, 'SIGKILL');
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          current = await spawnBackend(name, port, opts);
          return;
        } catch (err) {
          last = err;
          if ((err as { exitCode?: number | null }).exitCode !== EADDRINUSE_EXIT) throw err;
          await sleep(100);
        }
      }
      throw new Error(`backend ${name}: could not restart on port ${port} within ${timeoutMs} ms: ${(last as Error)?.message}`);
    },
  };
  return handle;
}

/** Starts several backends named prefix1..prefixN in parallel. */
export function startBackends(n: number, prefix = 'B', opts: (i: number) => BackendOptions = () => ({})): Promise<BackendProcess[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startBackend(`${prefix}${i + 1}`, opts(i))));
}

/** "127.0.0.1:P1,127.0.0.1:P2,..." for --nodes. */
/** fnlb flags for quick health checks in tests (probes every `interval`, rise and fall 2, 500 ms connect timeout). */
export function fastHealthArgs(interval = '100ms', accessLog = 'off'): string[] {
  const checks = ['--hc-interval', interval, '--hc-timeout', '200ms', '--hc-healthy', '2', '--hc-unhealthy', '2'];
  return [...checks, '--connect-timeout', '500ms', '--access-log', accessLog];
}

export function nodesArg(backends: { id: string }[]): string {
  return backends.map((b) => b.id).join(',');
}

/* ------------------------------------------------------------------ fnlb */

export type LogLine = Record<string, any> & { msg?: string };

export interface FnlbOptions {
  /** Wait for the "fnlb listening" line (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  /** Replaces [FNLB_ENTRY] in the node command line (for testing these helpers). */
  entryArgs?: string[];
  /** Called with each log line as it arrives (the demo prints them). */
  onLog?: (line: LogLine) => void;
}

export interface FnlbProcess {
  /** Actual listening port (0 until ready). */
  port: number;
  /** "http://127.0.0.1:port" */
  url: string;
  /** The admin listener, "http://127.0.0.1:port" ('' when off). */
  adminUrl: string;
  proc: ChildProcess;
  pid: number;
  /** Parsed JSON stdout lines, in order (non-JSON lines are kept as {msg: undefined, raw: line}). */
  logs: LogLine[];
  readonly stderr: string;
  readonly stdout: string;
  /** Resolves with the first log line (existing or future) matching predicate; rejects after timeoutMs. */
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Sends signal (default SIGTERM) and waits for the exit; SIGKILL after graceMs (default 5 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  exited: Promise<ExitInfo>;
}

/** "host:port" → port, "[::1]:8080" → 8080. */
function portOf(address: string): number {
  const m = /:(\d+)$/.exec(address);
  return m ? Number(m[1]) : NaN;
}

/**
 * Spawns fnlb as users run it (the executable dist/src/cli/main.js, whose #! line carries its V8
 * flags; `node` + entryArgs when given) and, unless waitReady is false, waits for
 * `"msg":"fnlb listening"` and reads the actual port from its `address` field.
 */
export async function startFnlb(args: string[], env?: NodeJS.ProcessEnv, opts: FnlbOptions = {}): Promise<FnlbProcess> {
  const [command, ...entry] = opts.entryArgs !== undefined ? [process.execPath, ...opts.entryArgs] : [FNLB_ENTRY];
  // Tests run side by side: the admin listener takes any free port unless a test picks one.
  const adminGiven =
    args.some((a) => /^--(admin-listen|mgmt-port)(=|$)/.test(a)) ||
    env?.FNLB_ADMIN_LISTEN !== undefined ||
    env?.FNLB_MGMT_PORT !== undefined;
  if (!adminGiven && opts.entryArgs === undefined) args = [...args, '--admin-listen', '127.0.0.1:0'];
  const proc = spawn(command!, [...entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const output = new Output(proc);
  const tracked = trackWithOutput(proc, 'fnlb', output);
  const logs: LogLine[] = [];
  let seen = 0;
  const sync = (): void => {
    while (seen < output.lines.length) {
      const line = output.lines[seen++]!;
      if (line.trim() === '') continue;
      let parsed: LogLine;
      try {
        const j = JSON.parse(line) as unknown;
        parsed = j !== null && typeof j === 'object' && !Array.isArray(j) ? (j as LogLine) : { raw: line };
      } catch {
        parsed = { raw: line };
      }
      logs.push(parsed);
      opts.onLog?.(parsed);
    }
  };
  output.onChange(sync);

  const handle: FnlbProcess = {
    port: 0,
    url: '',
    adminUrl: '',
    proc,
    pid: proc.pid ?? -1,
    logs,
    get stderr() {
      return output.stderr;
    },
    get stdout() {
      return output.stdout;
    },
    exited: tracked.exited,
    waitForLog(predicate, timeoutMs = 5000, what = 'log line') {
      sync();
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      let off = (): void => undefined;
      const p = new Promise<LogLine>((resolve, reject) => {
        let from = 0;
        const check = (): void => {
          sync();
          for (; from < logs.length; from++) {
            if (predicate(logs[from]!)) {
              off();
              resolve(logs[from]!);
              return;
            }
          }
          if (proc.exitCode !== null || proc.signalCode !== null) {
            off();
            reject(
              new Error(`fnlb exited (code ${proc.exitCode}, signal ${proc.signalCode}) while waiting for ${what}${output.describe()}`),
            );
          }
        };
        off = output.onChange(check);
        check();
      });
      return withTimeout(p, timeoutMs, () => `fnlb: no ${what} within ${timeoutMs} ms${output.describe()}`).finally(() => off());
    },
    stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      return terminate(tracked, signal, graceMs);
    },
  };

  if (opts.waitReady === false) return handle;
  try {
    const timeoutMs = opts.readyTimeoutMs ?? 5000;
    const line = await handle.waitForLog((l) => l.msg === 'fnlb listening', timeoutMs, '"fnlb listening" line');
    const port = portOf(String(line.address ?? ''));
    if (!Number.isInteger(port) || port <= 0) throw new Error(`fnlb: bad address in ready line ${JSON.stringify(line)}`);
    handle.port = port;
    handle.url = `http://127.0.0.1:${port}`;
    if (typeof line.admin === 'string' && line.admin !== 'off') handle.adminUrl = `http://${line.admin}`;
    return handle;
  } catch (err) {
    await terminate(tracked, 'SIGKILL');
    throw err;
  }
}

/* ------------------------------------------------------------------ misc */

export interface FnlbLibrary {
  rankNodes(key: string, nodes: { id: string; weight: number }[]): number[];
  functionKey(target: string): string;
}

/** Imports the fnlb library (dist/src/index.js) at run time, so tests compile before it exists. */
export async function loadFnlbLibrary(): Promise<FnlbLibrary> {
  const spec: string = FNLB_INDEX_URL;
  return (await import(spec)) as FnlbLibrary;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** utime + stime of a whole process (all threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): state is field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // fields 14 and 15
}

/** The command line of a live pid, or undefined when it is gone (or a zombie, whose command line is empty). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True if nothing listens on 127.0.0.1:port (tries to bind it briefly). */
export function isPortFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** Free ports, taken all at once so they are distinct (another program could still grab one before us). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer().once('error', reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function statusOf(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * Waits until `port` answers 200 on /version and on a function path (i.e. a proxy routes end to end),
 * for at most `limitMs` (a process under valgrind takes much longer to start).
 */
export async function waitReady(p: Proc, port: number, limitMs = 15_000): Promise<void> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  for (const deadline = Date.now() + limitMs; Date.now() < deadline && !exited;) {
    if ((await statusOf(port, '/version')) === 200 && (await statusOf(port, '/r/app/ready')) === 200) return;
    await sleep(100);
  }
  throw new Error(`${p.label} not ready on port ${port}${exited ? ' (exited)' : ''}: ${p.stderr().trim()}`);
}
