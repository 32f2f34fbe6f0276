/**
 * Child processes of the benchmark. Every process started here is tracked until it exits, and
 * `stopAll` / the exit hook also kill its descendants: an nginx master killed with SIGKILL leaves
 * its worker running, so workers are looked up and killed by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Proc {
  readonly label: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Last few KB of stderr. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

const live = new Set<Proc>();
/** Every pid started (and every descendant seen), for the report and the leak check in the test. */
export const startedPids: { label: string; pid: number }[] = [];

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts `cmd args`; stdout is collected only when `collectStdout` (otherwise discarded, so a chatty child can never block on a full pipe). */
export function start(label: string, cmd: string, args: string[], collectStdout = false): Proc & { stdout(): string } {
  const child = spawn(cmd, args, { stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (e) => {
      err += String(e);
      resolve(-1);
    });
  });
  if (child.pid === undefined) throw new Error(`${label}: cannot start ${cmd}`);
  const p = { label, child, pid: child.pid, exited, stderr: () => err, stdout: () => out };
  live.add(p);
  startedPids.push({ label, pid: child.pid });
  void exited.then(() => live.delete(p));
  return p;
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

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM everything, SIGKILL what is left after 3 s, then any orphaned descendants. */
export async function stopAll(): Promise<void> {
  const procs = [...live];
  const orphans = procs.flatMap((p) => descendants(p.pid));
  for (const p of procs) kill(p.pid, 'SIGTERM');
  await Promise.all(
    procs.map(async (p) => {
      const timer = setTimeout(() => kill(p.pid, 'SIGKILL'), 3000);
      await p.exited;
      clearTimeout(timer);
    }),
  );
  for (const pid of orphans) kill(pid, 'SIGKILL');
}

/** Synchronous last resort for process 'exit'. */
export function killAllNow(): void {
  for (const p of live) {
    const ds = descendants(p.pid);
    kill(p.pid, 'SIGKILL');
    for (const d of ds) kill(d, 'SIGKILL');
  }
}

/** utime + stime of a whole process (all threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): state is field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // fields 14 and 15
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/**
 * A scratch directory for configurations (mode 0755: nginx workers run as nobody when nginx starts as
 * root, and read files in here) and `stop()`: `also()`, then stop every process started here, then
 * remove the directory. SIGINT and SIGTERM stop the same way and exit 130.
 */
export function scratch(prefix: string, log: (s: string) => void, also: () => Promise<void> = async () => {}): { dir: string; stop: () => Promise<void> } {
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
  process.on('exit', killAllNow);
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
