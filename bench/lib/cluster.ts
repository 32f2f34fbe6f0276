/**
 * The machine layout on a 2-CPU machine: three nginx backends (one nginx, one worker) and the load
 * generator pinned to cpu0, each proxy (one worker or thread) pinned to cpu1, so the proxy has one core
 * to itself.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { backendsConf, haproxyConf, nginxProxyConf } from '../../harness/peers.js';
import { FNLB_ENTRY, HOST, freePorts, start, waitForChild, waitReady, type Proc } from '../../harness/processes.js';
import { BIG_BODY_BYTES } from './configs.js';
import type { Tools } from './tools.js';

export type ProxyName = 'direct' | 'nginx' | 'haproxy' | 'fnlb';
export const PROXIES: readonly ProxyName[] = ['direct', 'nginx', 'haproxy', 'fnlb'];

export interface Target {
  readonly name: ProxyName;
  readonly port: number;
  /** The process whose CPU time and memory are measured. */
  readonly pid: number;
}

export const LOAD_CPU = '0';
const PROXY_CPU = '1';

export async function startCluster(dir: string, tools: Tools): Promise<Record<ProxyName, Target>> {
  const [b1, b2, b3, pNginx, pHaproxy, pFnlb] = await freePorts(6);
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

  const nginxProc = nginx('nginx-proxy', PROXY_CPU);
  const haproxyProc = start('haproxy', tools.taskset, ['-c', PROXY_CPU, tools.haproxy, '-db', '-f', `${dir}/haproxy.cfg`]);
  const fnlbProc = start('fnlb', tools.taskset, [
    // The executable itself, as `fnlb` runs: its #! line carries the V8 flags it is meant to run with.
    '-c',
    PROXY_CPU,
    FNLB_ENTRY,
    '--listen',
    `${HOST}:${pFnlb}`,
    '--nodes',
    backends.map((p) => `${HOST}:${p}`).join(','),
    '--access-log',
    'off',
    '--hc-path',
    '/version',
    // On, as by default (its counters are what users run with), on any free port.
    '--admin-listen',
    `${HOST}:0`,
  ]);
  await Promise.all([waitReady(nginxProc, pNginx), waitReady(haproxyProc, pHaproxy), waitReady(fnlbProc, pFnlb)]);

  return {
    direct: { name: 'direct', port: b1, pid: backendWorker },
    nginx: { name: 'nginx', port: pNginx, pid: await waitForChild(nginxProc.pid, 'nginx-proxy') },
    // taskset execs its command, so these pids are HAProxy's and node's own.
    haproxy: { name: 'haproxy', port: pHaproxy, pid: haproxyProc.pid },
    fnlb: { name: 'fnlb', port: pFnlb, pid: fnlbProc.pid },
  };
}
