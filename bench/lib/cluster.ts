/**
 * The machine layout of FACTS §6: three nginx backends (one nginx, one worker) on cpu0 with the load
 * generators, each proxy (one worker or thread) alone on cpu1.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { BIG_BODY_BYTES, backendsConf, haproxyConf, nginxProxyConf } from './configs.js';
import { sleep, start, waitForChild, type Proc } from './procs.js';
import type { Tools } from './tools.js';

export type ProxyName = 'direct' | 'nginx' | 'haproxy' | 'fnlb';
export const PROXIES: readonly ProxyName[] = ['direct', 'nginx', 'haproxy', 'fnlb'];

export interface Target {
  readonly name: ProxyName;
  readonly port: number;
  /** The process whose CPU time and memory are measured. */
  readonly pid: number;
}

export const HOST = '127.0.0.1';
export const LOAD_CPU = '0';
const PROXY_CPU = '1';
const FNLB_ENTRY = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Free ports, taken all at once so they are distinct (another program could still grab one before us). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer().once('error', reject);
      s.listen(0, HOST, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Waits until `port` answers 200 on /version and on a function path (i.e. routing works end to end). */
export async function waitReady(p: Proc, port: number): Promise<void> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  for (const deadline = Date.now() + 15_000; Date.now() < deadline && !exited; ) {
    if ((await get(port, '/version')) === 200 && (await get(port, '/r/app/ready')) === 200) return;
    await sleep(100);
  }
  throw new Error(`${p.label} not ready on port ${port}${exited ? ' (exited)' : ''}: ${p.stderr().trim()}`);
}

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
    '-c', PROXY_CPU, process.execPath, FNLB_ENTRY,
    '--listen', `${HOST}:${pFnlb}`,
    '--nodes', backends.map((p) => `${HOST}:${p}`).join(','),
    '--access-log', 'off',
    '--hc-path', '/version',
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
