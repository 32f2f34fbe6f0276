/**
 * The machine layout on a 2-CPU machine: three nginx backends (one nginx, one worker) and the load
 * generator pinned to cpu0, each proxy (one worker or thread) pinned to cpu1, so the proxy has one core
 * to itself.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { backendsConf, haproxyConf, nginxProxyConf } from '../../harness/peers.js';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST_DIR, FNLB_ENTRY, HOST, freePorts, start, waitForChild, waitReady, type Proc } from '../../harness/processes.js';
import { BIG_BODY_BYTES } from './configs.js';
import type { Tools } from './tools.js';

/** direct, nginx, haproxy, node-ref, node-floor, fnlb, and fnlb-base when --baseline is given. */
export type ProxyName = string;
/** The targets of every run, in the order each scenario measures them. */
export const PROXIES: readonly ProxyName[] = ['direct', 'nginx', 'haproxy', 'node-ref', 'node-floor', 'fnlb'];
/** Another build of fnlb (--baseline DIR), measured beside this one in the same run. */
export const BASELINE = 'fnlb-base';

export interface Target {
  readonly name: ProxyName;
  readonly port: number;
  /** The process whose CPU time and memory are measured. */
  readonly pid: number;
}

export const LOAD_CPU = '0';
const PROXY_CPU = '1';

/** The node-ref reference proxy (node:http + undici), built next to this file. */
const NODE_REF_ENTRY = fileURLToPath(new URL('../node-ref.js', import.meta.url));
/** The node-floor TCP relay (the least a Node proxy can spend per request), built next to this file. */
const NODE_FLOOR_ENTRY = fileURLToPath(new URL('../node-floor.js', import.meta.url));

/** The executable of another checkout's build, and the flags of ours it does not know (to leave out). */
export function baselineEntry(dir: string): { entry: string; unknownFlags: Set<string> } {
  // The same path inside that checkout as ours inside this one (dist/src/cli/main.js).
  const entry = join(resolve(dir), relative(join(DIST_DIR, '..'), FNLB_ENTRY));
  if (!existsSync(entry)) throw new Error(`--baseline: ${entry} does not exist (build that checkout first: npm ci && npm run build)`);
  const help = execFileSync(process.execPath, [entry, '--help'], { encoding: 'utf8' });
  return { entry, unknownFlags: new Set(['--admin-listen'].filter((f) => !help.includes(f))) };
}

export interface Cluster {
  readonly targets: Record<ProxyName, Target>;
  /** The backends as fnlb's --nodes takes them. */
  readonly nodes: string;
}

/**
 * Starts the backends and the proxies named in `only` (default: every one), each on a free port.
 * Proxies that are not measured are not started: an idle proxy's health checks would still take CPU
 * from the one under test.
 */
export async function startCluster(
  dir: string,
  tools: Tools,
  baseline?: string,
  only: ReadonlySet<ProxyName> = new Set([...PROXIES, BASELINE]),
): Promise<Cluster> {
  const [b1, b2, b3, pNginx, pHaproxy, pFnlb, pRef, pBase, pFloor] = await freePorts(9);
  const backends = [b1, b2, b3];
  // Workers run as nobody when nginx starts as root: they must be able to read the static file.
  chmodSync(dir, 0o755);
  for (const d of ['www', 'backends-tmp', 'nginx-proxy-tmp']) mkdirSync(`${dir}/${d}`, { mode: 0o755 });
  writeFileSync(`${dir}/www/big.bin`, Buffer.alloc(BIG_BODY_BYTES, 'x'), { mode: 0o644 });
  writeFileSync(`${dir}/backends.conf`, backendsConf(dir, backends));
  writeFileSync(`${dir}/nginx-proxy.conf`, nginxProxyConf(dir, pNginx, backends));
  writeFileSync(`${dir}/haproxy.cfg`, haproxyConf(pHaproxy, backends));

  // -e: the error log from the first moment, before nginx has read its configuration.
  const nginx = (name: string, cpu: string): Proc =>
    start(name, tools.taskset, ['-c', cpu, tools.nginx, '-p', `${dir}/`, '-e', `${dir}/${name}-error.log`, '-c', `${dir}/${name}.conf`]);

  const backendProc = nginx('backends', LOAD_CPU);
  for (const port of backends) await waitReady(backendProc, port);
  const backendWorker = await waitForChild(backendProc.pid, 'backends');

  const nodes = backends.map((p) => `${HOST}:${p}`).join(',');
  const fnlbArgs = (port: number, unknown: ReadonlySet<string>): string[] =>
    [
      ['--listen', `${HOST}:${port}`],
      ['--nodes', nodes],
      ['--access-log', 'off'],
      ['--hc-path', '/version'],
      // On, as by default (its counters are what users run with), on any free port.
      ['--admin-listen', `${HOST}:0`],
    ]
      .filter(([flag]) => !unknown.has(flag!))
      .flat();

  const targets: Record<ProxyName, Target> = {};
  if (only.has('direct')) targets.direct = { name: 'direct', port: b1, pid: backendWorker };
  const starting: Promise<void>[] = [];
  /** Starts a proxy; `pid` finds the measured process once it is ready (by default the one started). */
  const proxy = (name: ProxyName, port: number, proc: Proc, pid: () => Promise<number> = async () => proc.pid): void => {
    starting.push(
      (async () => {
        await waitReady(proc, port);
        targets[name] = { name, port, pid: await pid() };
      })(),
    );
  };
  if (only.has('nginx')) {
    const proc = nginx('nginx-proxy', PROXY_CPU);
    proxy('nginx', pNginx, proc, () => waitForChild(proc.pid, 'nginx-proxy'));
  }
  // taskset execs its command, so these pids are HAProxy's and node's own.
  if (only.has('haproxy'))
    proxy('haproxy', pHaproxy, start('haproxy', tools.taskset, ['-c', PROXY_CPU, tools.haproxy, '-db', '-f', `${dir}/haproxy.cfg`]));
  // The executable itself, as `fnlb` runs: its #! line carries the V8 flags it is meant to run with.
  if (only.has('fnlb')) proxy('fnlb', pFnlb, start('fnlb', tools.taskset, ['-c', PROXY_CPU, FNLB_ENTRY, ...fnlbArgs(pFnlb, new Set())]));
  if (only.has('node-ref')) {
    const args = ['-c', PROXY_CPU, process.execPath, NODE_REF_ENTRY, '--listen', `${HOST}:${pRef}`, '--nodes', nodes];
    proxy('node-ref', pRef, start('node-ref', tools.taskset, args));
  }
  if (only.has('node-floor')) {
    const args = ['-c', PROXY_CPU, process.execPath, NODE_FLOOR_ENTRY, '--listen', `${HOST}:${pFloor}`, '--nodes', nodes];
    proxy('node-floor', pFloor, start('node-floor', tools.taskset, args));
  }
  if (baseline !== undefined && only.has(BASELINE)) {
    const base = baselineEntry(baseline);
    proxy(BASELINE, pBase, start(BASELINE, tools.taskset, ['-c', PROXY_CPU, base.entry, ...fnlbArgs(pBase, base.unknownFlags)]));
  }
  await Promise.all(starting);
  return { targets, nodes };
}
