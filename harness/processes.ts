/**
 * Spawning helpers for black-box tests: test backends (dist/harness/nodes/backend.js) and the fnlb process
 * (dist/src/cli/main.js). Every process spawned here is registered; `cleanup()` kills them all (use it in
 * `after`/`afterEach`), and a process 'exit' hook SIGKILLs whatever is left. Every wait is bounded and its
 * error includes the process's stderr (and stdout tail).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import net from 'node:net';

/** dist/ root, from this compiled file: dist/harness/processes.js. */
export const DIST_DIR = fileURLToPath(new URL('../', import.meta.url));
export const BACKEND_ENTRY = fileURLToPath(new URL('./nodes/backend.js', import.meta.url));
/** The fnlb command: dist/src/cli/main.js, or $FNLB_ENTRY (to run these tests against another build). */
export const FNLB_ENTRY = process.env.FNLB_ENTRY || fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The fnlb library: dist/src/index.js, or $FNLB_INDEX. */
export const FNLB_INDEX_URL = process.env.FNLB_INDEX
  ? pathToFileURL(process.env.FNLB_INDEX).href
  : new URL('../src/index.js', import.meta.url).href;
export const DEMO_ENTRY = fileURLToPath(new URL('../scripts/demo.js', import.meta.url));

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Tracked {
  proc: ChildProcess;
  exited: Promise<ExitInfo>;
  label: string;
}

const live = new Set<Tracked>();

process.on('exit', () => {
  for (const t of live) {
    try {
      t.proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

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
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => proc.kill('SIGINT'), limitMs);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr, output: `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

/** The command line of a live pid, or undefined when it is gone (or a zombie, whose command line is empty). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects with `message()` if `p` does not settle within ms. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

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

function track(proc: ChildProcess, label: string, output: Output): Tracked {
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
    proc.once('error', () => resolve({ code: null, signal: null }));
  });
  const t: Tracked = { proc, exited, label };
  live.add(t);
  void exited.then(() => {
    live.delete(t);
    // wake up anyone waiting on output so they can notice the exit
    setImmediate(() => output.fire());
  });
  return t;
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

/** Kills every process spawned by these helpers that is still running (SIGTERM, then SIGKILL after 2 s). */
export async function cleanup(): Promise<void> {
  await Promise.all([...live].map((t) => terminate(t, 'SIGTERM', 2000)));
}

/** Number of spawned processes still running. */
export function liveProcessCount(): number {
  return live.size;
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
  if (opts.backlog !== undefined) args.push('--backlog', String(opts.backlog));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new Output(proc);
  const tracked = track(proc, `backend ${name}`, output);
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
}

export interface FnlbProcess {
  /** Actual listening port (0 until ready). */
  port: number;
  /** "http://127.0.0.1:port" */
  url: string;
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
  const proc = spawn(command!, [...entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const output = new Output(proc);
  const tracked = track(proc, 'fnlb', output);
  const logs: LogLine[] = [];
  let seen = 0;
  const sync = (): void => {
    while (seen < output.lines.length) {
      const line = output.lines[seen++]!;
      if (line.trim() === '') continue;
      try {
        const j = JSON.parse(line) as unknown;
        logs.push(j !== null && typeof j === 'object' && !Array.isArray(j) ? (j as LogLine) : { raw: line });
      } catch {
        logs.push({ raw: line });
      }
    }
  };
  output.onChange(sync);

  const handle: FnlbProcess = {
    port: 0,
    url: '',
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
            reject(new Error(`fnlb exited (code ${proc.exitCode}, signal ${proc.signalCode}) while waiting for ${what}${output.describe()}`));
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

/** True if nothing listens on 127.0.0.1:port (tries to bind it briefly). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** Retries fn until it returns without throwing, or rejects with the last error after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`eventually: gave up after ${timeoutMs} ms: ${(last as Error)?.message ?? String(last)}`);
    await sleep(intervalMs);
  }
}
