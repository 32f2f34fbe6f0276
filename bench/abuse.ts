/**
 * Resource abuse, long form (the short one is test/blackbox/resource-abuse.test.ts, in npm test):
 *
 *   node dist/bench/abuse.js [--idle-conns N] [--slowloris N] [--smoke]
 *
 * 1. N idle keep-alive connections (default 10,000): RSS per connection of fnlb, and of nginx (one
 *    worker, same set-up as `npm run bench`) when nginx is installed;
 * 2. --max-connections N/2 with N connections: clean 503s, the admitted ones still answering;
 * 3. slowloris (default 1,000 connections, one header byte per second) at --header-timeout 5s, with a
 *    normal client's latency before and during; plus the two header-timeout gaps found by the test;
 * 4. huge request bodies streamed to a node that stalls, then reads slowly;
 * 5. huge responses to clients that never read (and some that read slowly, then stop).
 *
 * Prints a markdown table of the figures on stdout (progress on stderr). Exits 1 on a setup failure;
 * the figures themselves are not judged here (the test does that).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { openIdle } from '../harness/client/idle.js';
import { rawRequest } from '../harness/client/raw-client.js';
import { backendsConf, nginxProxyConf } from '../harness/peers.js';
import {
  HOST,
  cleanup,
  cpuTicks,
  freePorts,
  readRssBytes,
  runMain,
  scratch,
  start,
  startBackend,
  startFnlb,
  stopAll,
  waitForChild,
  waitReady,
  type FnlbProcess,
} from '../harness/processes.js';
import * as abuse from '../harness/scenarios/abuse.js';
import type { AbuseNode, SlowlorisConn } from '../harness/scenarios/abuse.js';
import { sleep } from '../harness/wait.js';
import { clockTicks, ensureTools, ToolsMissing } from './lib/tools.js';

const MiB = abuse.MiB;
const log = (s: string): void => void process.stderr.write(`abuse: ${s}\n`);

interface Settings {
  idleConns: number;
  slowConns: number;
  smoke: boolean;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  uploads: number;
  uploadBytes: number;
  uploadRate: number;
  stalledDownloads: number;
  slowDownloads: number;
  downloadBytes: number;
}

function settings(argv: string[]): Settings {
  const { values: v } = parseArgs({
    args: argv,
    options: { 'idle-conns': { type: 'string' }, slowloris: { type: 'string' }, smoke: { type: 'boolean', default: false } },
  });
  const smoke = v.smoke === true;
  const count = (name: string, s: string | undefined, dflt: number): number => {
    const n = s === undefined ? dflt : Number(s);
    if (!Number.isInteger(n) || n < 2) throw new Error(`--${name} must be an integer >= 2, got ${s}`);
    return n;
  };
  return {
    idleConns: count('idle-conns', v['idle-conns'], smoke ? 500 : 10_000),
    slowConns: count('slowloris', v.slowloris, smoke ? 100 : 1000),
    smoke,
    headerTimeoutMs: smoke ? 2000 : 5000,
    idleTimeoutMs: smoke ? 2000 : 5000,
    uploads: smoke ? 2 : 4,
    uploadBytes: (smoke ? 64 : 512) * MiB,
    uploadRate: 64 * MiB,
    stalledDownloads: smoke ? 8 : 50,
    slowDownloads: smoke ? 2 : 4,
    downloadBytes: 256 * MiB,
  };
}

/* ------------------------------------------------------------------ the table */

type Row = [scenario: string, figure: string, fnlb: string, nginx?: string];
const rows: Row[] = [];
const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ofAll = (n: number, total: number): string => `${fmt(n)}/${fmt(total)}`;
const secs = (msList: number[]): string =>
  `${(abuse.quantile(msList, 0.5) / 1000).toFixed(2)} / ${(Math.max(...msList) / 1000).toFixed(2)}`;

function table(): string {
  const out = ['| scenario | figure | fnlb | nginx |', '|---|---|---:|---:|'];
  let last = '';
  for (const [scenario, figure, fnlb, nginx] of rows) {
    out.push(`| ${scenario === last ? '' : scenario} | ${figure} | ${fnlb} | ${nginx ?? '–'} |`);
    last = scenario;
  }
  return out.join('\n') + '\n';
}

/* ------------------------------------------------------------------ processes */

function fnlb(nodes: { id: string }[], extra: string[]): Promise<FnlbProcess> {
  return startFnlb([
    '--listen',
    `${HOST}:0`,
    '--nodes',
    nodes.map((n) => n.id).join(','),
    '--hc-path=',
    '--hc-interval',
    '60s',
    '--access-log',
    'off',
    ...extra,
  ]);
}

/**
 * nginx as `npm run bench` sets it up (one worker, keep-alive upstream), in front of one nginx backend;
 * worker_connections raised so that N client connections plus the upstream pool fit.
 */
async function startNginx(dir: string, nginx: string, conns: number): Promise<{ port: number; pid: number }> {
  const [backendPort, proxyPort] = await freePorts(2);
  for (const d of ['www', 'backends-tmp', 'nginx-proxy-tmp']) mkdirSync(join(dir, d), { mode: 0o755 });
  writeFileSync(join(dir, 'backends.conf'), backendsConf(dir, [backendPort]));
  const proxyConf = nginxProxyConf(dir, proxyPort, [backendPort]);
  const raised = proxyConf.replace(/worker_connections \d+;/, `worker_connections ${conns + 1000};`);
  if (raised === proxyConf && conns + 1000 > 10_000) throw new Error('nginx proxy config: no worker_connections to raise');
  writeFileSync(join(dir, 'nginx-proxy.conf'), raised);
  const run = (name: string) => start(name, nginx, ['-p', `${dir}/`, '-e', `${dir}/${name}-error.log`, '-c', `${dir}/${name}.conf`]);
  const backends = run('backends');
  await waitReady(backends, backendPort);
  const proxy = run('nginx-proxy');
  await waitReady(proxy, proxyPort);
  return { port: proxyPort, pid: await waitForChild(proxy.pid, 'nginx-proxy') };
}

/* ------------------------------------------------------------------ scenarios */

/** KiB of RSS per idle keep-alive connection, and how many of `n` were opened and kept. */
async function idleCost(port: number, pid: number, n: number): Promise<{ kibPerConn: number; kept: number; failed: number }> {
  const warm = await openIdle(HOST, port, 50, 0);
  for (const s of warm.sockets) s.destroy();
  await sleep(500);
  const before = readRssBytes(pid) / 1024;
  const { sockets, failed } = await openIdle(HOST, port, n, 100);
  await sleep(1000);
  const after = readRssBytes(pid) / 1024;
  const kept = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  for (const s of sockets) s.destroy();
  await sleep(500);
  return { kibPerConn: (after - before) / Math.max(1, kept), kept, failed };
}

async function idleScenario(s: Settings, nginx: { port: number; pid: number } | null): Promise<void> {
  const node = await startBackend('N1');
  const lb = await fnlb([node], ['--idle-timeout', '5m']);
  log(`idle: ${s.idleConns} connections to fnlb (pid ${lb.pid})`);
  const f = await idleCost(lb.port, lb.pid, s.idleConns);
  let g: Awaited<ReturnType<typeof idleCost>> | null = null;
  if (nginx) {
    log(`idle: ${s.idleConns} connections to nginx (worker pid ${nginx.pid})`);
    g = await idleCost(nginx.port, nginx.pid, s.idleConns);
  }
  const scenario = `${fmt(s.idleConns)} idle keep-alive connections`;
  rows.push([scenario, 'RSS per connection, KiB', fmt(f.kibPerConn, 2), g ? fmt(g.kibPerConn, 2) : undefined]);
  rows.push([
    scenario,
    'kept open / failed to open',
    `${fmt(f.kept)} / ${fmt(f.failed)}`,
    g ? `${fmt(g.kept)} / ${fmt(g.failed)}` : undefined,
  ]);
  await lb.stop();
  await node.stop();
}

async function maxConnectionsScenario(s: Settings): Promise<void> {
  const limit = Math.floor(s.idleConns / 2);
  const node = await startBackend('N1');
  const lb = await fnlb([node], ['--idle-timeout', '5m', '--max-connections', String(limit)]);
  log(`max-connections ${limit}: ${s.idleConns} connections`);
  const admitted = await openIdle(HOST, lb.port, limit, 0);
  const excess = s.idleConns - limit;
  let clean = 0;
  const t0 = performance.now();
  await abuse.inWaves(excess, 100, async (i) => {
    const r = await rawRequest(lb.port, `GET /r/app/x${i} HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 5000 });
    const res = r.responses[0];
    if (r.responses.length === 1 && res?.status === 503 && res.headers.connection === 'close' && r.closed && !r.error) clean++;
  });
  const refuseMs = performance.now() - t0;
  let answering = 0;
  await abuse.inWaves(admitted.sockets.length, 200, async (i) => {
    if ((await abuse.getOn(admitted.sockets[i]!, `/r/app/again${i}`).catch(() => 0)) === 200) answering++;
  });
  for (const x of admitted.sockets) x.destroy();
  const scenario = `--max-connections ${fmt(limit)}, ${fmt(s.idleConns)} connections`;
  rows.push([scenario, 'admitted (answered 200)', ofAll(admitted.sockets.length, limit)]);
  rows.push([scenario, 'excess answered 503 + Connection: close, then closed', ofAll(clean, excess)]);
  rows.push([scenario, 'excess refused per second (100 at a time)', fmt(excess / (refuseMs / 1000))]);
  rows.push([scenario, 'admitted connections answering a 2nd request after', ofAll(answering, admitted.sockets.length)]);
  await lb.stop();
  await node.stop();
}

function closeTimes(conns: SlowlorisConn[]): number[] {
  return conns.map((c) => c.closedAfterMs).filter((x): x is number => x !== null);
}

async function slowlorisScenario(s: Settings): Promise<void> {
  const T = s.headerTimeoutMs;
  const node = await startBackend('N1');
  const lb = await fnlb([node], ['--header-timeout', `${T}ms`]);
  const path = '/r/app/normal';
  log(`slowloris: ${s.slowConns} connections, 1 byte/s, --header-timeout ${T} ms`);
  const calm = await abuse.latencyWhile(lb.port, path, sleep(3000));
  const rss = new abuse.RssSampler(lb.pid);
  const cpu0 = cpuTicks(lb.pid);
  const attack = await abuse.latencyWhile(
    lb.port,
    path,
    abuse.slowloris(lb.port, { connections: s.slowConns, everyMs: 1000, giveUpMs: T * 3 }),
  );
  const cpuMs = ((cpuTicks(lb.pid) - cpu0) * 1000) / clockTicks();
  const growth = rss.stop();
  const conns = attack.result;
  const closed = closeTimes(conns);
  const inTime = conns.filter((c) => c.closedAfterMs !== null && c.closedAfterMs <= T + 1000 && c.status === 408).length;
  const lat = (l: number[]): string => `${abuse.quantile(l, 0.5).toFixed(1)} / ${abuse.quantile(l, 0.99).toFixed(1)}`;
  const scenario = `slowloris, ${fmt(s.slowConns)} connections, 1 header byte/s, --header-timeout ${T / 1000}s`;
  rows.push([scenario, `answered 408 and closed within ${T / 1000} s + 1 s`, ofAll(inTime, conns.length)]);
  rows.push([scenario, 'closed after, p50 / max, s', closed.length ? secs(closed) : 'none']);
  rows.push([scenario, 'normal client (new connection per GET) p50 / p99, ms: before', lat(calm.latenciesMs)]);
  rows.push([
    scenario,
    '… during the attack (GETs, failures)',
    `${lat(attack.latenciesMs)} (${attack.latenciesMs.length}, ${attack.errors.length})`,
  ]);
  rows.push([scenario, 'fnlb RSS peak growth MiB; CPU ms for the whole attack', `${fmt(growth / MiB, 1)}; ${fmt(cpuMs)}`]);

  // The two gaps found by test/blackbox/resource-abuse.test.ts (todo there), measured side by side.
  const n = Math.min(100, s.slowConns);
  log(`slowloris variants: ${n} silent-then-dribble and ${n} bare-CRLF connections`);
  const [late, crlf] = await Promise.all([
    abuse.slowloris(lb.port, { connections: n, everyMs: 1000, firstByteAfterMs: T * 0.8, giveUpMs: T * 3 }),
    abuse.slowloris(lb.port, { connections: n, everyMs: 1000, pattern: '\r\n', giveUpMs: T * 3 }),
  ]);
  const lateClosed = closeTimes(late);
  rows.push([
    `silent for 0.8× the header timeout, then 1 byte/s (${n} connections)`,
    'closed after, p50 / max, s (timeout: ' + T / 1000 + ' s)',
    lateClosed.length ? secs(lateClosed) : 'none',
  ]);
  rows.push([
    `bare CRLF, 1 byte/s (${n} connections)`,
    `still open at 3× the header timeout`,
    ofAll(crlf.filter((c) => c.closedAfterMs === null).length, n),
  ]);
  await lb.stop();
  await node.stop();
}

async function uploadScenario(s: Settings): Promise<void> {
  const node = await abuse.startSlowReadingNode({ stallMs: 2000, bytesPerSecond: s.uploadRate });
  const lb = await fnlb([node], ['--idle-timeout', '30s']);
  log(`uploads: ${s.uploads} × ${s.uploadBytes / MiB} MiB to a node reading ${s.uploadRate / MiB} MiB/s each after a 2 s stall`);
  const rss = new abuse.RssSampler(lb.pid);
  const uploads = await Promise.all(
    Array.from({ length: s.uploads }, (_, i) => abuse.startUpload(lb.port, `/r/app/up${i}`, s.uploadBytes, 120_000)),
  );
  const read = (): number => node.conns.reduce((sum, c) => sum + c.bodyRead, 0);
  let ahead = 0;
  const watch = setInterval(() => (ahead = Math.max(ahead, uploads.reduce((sum, u) => sum + u.sent, 0) - read())), 20);
  const results = await Promise.all(uploads.map((u) => u.result));
  clearInterval(watch);
  const growth = rss.stop();
  const ok = results.filter((r) => r.status === 200 && JSON.parse(r.body || '{}').bodyLength === s.uploadBytes).length;
  const scenario = `${s.uploads} × ${s.uploadBytes / MiB} MiB uploads, node stalls 2 s then reads ${s.uploadRate / MiB} MiB/s each`;
  rows.push([scenario, 'complete (200, node read every byte)', ofAll(ok, s.uploads)]);
  rows.push([scenario, 'duration, s', (Math.max(...results.map((r) => r.ms)) / 1000).toFixed(1)]);
  rows.push([scenario, 'fnlb RSS peak growth, MiB', fmt(growth / MiB, 1)]);
  rows.push([scenario, 'clients ahead of the node at most, MiB (all buffers, kernel included)', fmt(ahead / MiB, 1)]);
  await lb.stop();
  await node.close();
}

async function downloadScenario(s: Settings): Promise<void> {
  const IDLE = s.idleTimeoutMs;
  const SLOW_MS = 3000;
  const total = s.stalledDownloads + s.slowDownloads;
  const node: AbuseNode = await abuse.startBigResponseNode(s.downloadBytes);
  const lb = await fnlb([node], ['--idle-timeout', `${IDLE}ms`]);
  log(
    `downloads: ${s.stalledDownloads} never read, ${s.slowDownloads} read 1 MiB/s for ${SLOW_MS} ms, ${s.downloadBytes / MiB} MiB each, --idle-timeout ${IDLE} ms`,
  );
  const rss = new abuse.RssSampler(lb.pid);
  const t0 = performance.now();
  const clients = await Promise.all(Array.from({ length: total }, (_, i) => abuse.openStalledDownload(lb.port, `/r/app/big${i}`)));
  await Promise.all(clients.slice(s.stalledDownloads).map((c) => c.readSlowly(MiB, SLOW_MS)));
  for (const until = t0 + IDLE + SLOW_MS + 5000; performance.now() < until; await sleep(50)) {
    if (node.conns.length === total && node.conns.every((c) => c.closedAt !== null)) break;
  }
  const growth = rss.stop();
  const drained = await Promise.all(clients.map((c) => c.drain(10_000)));
  const conns = node.conns;
  const closedAfter = conns.filter((c) => c.closedAt !== null).map((c) => c.closedAt! - t0);
  const written = conns.map((c) => c.written);
  const scenario = `${total} × ${s.downloadBytes / MiB} MiB downloads: ${s.stalledDownloads} never read, ${s.slowDownloads} read 1 MiB/s for ${SLOW_MS / 1000} s then stop; --idle-timeout ${IDLE / 1000}s`;
  rows.push([scenario, 'fnlb RSS peak growth, MiB', fmt(growth / MiB, 1)]);
  rows.push([scenario, 'node connections closed by fnlb', ofAll(closedAfter.length, total)]);
  rows.push([scenario, 'node saw its connection closed after, p50 / max, s', closedAfter.length ? secs(closedAfter) : 'none']);
  rows.push([
    scenario,
    'node bytes written before the stall, p50 / max, MiB (kernel buffers)',
    `${fmt(abuse.quantile(written, 0.5) / MiB, 1)} / ${fmt(Math.max(...written) / MiB, 1)}`,
  ]);
  rows.push([
    scenario,
    'client connections cut (response incomplete)',
    ofAll(drained.filter((d) => d.closed && d.received < s.downloadBytes).length, total),
  ]);
  rows.push([scenario, '"node down" log lines', fmt(lb.logs.filter((l) => l.msg === 'node down').length)]);
  for (const c of clients) c.socket.destroy();
  await lb.stop();
  await node.close();
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2));
  const { dir, stop } = scratch('fnlb-abuse-', log, cleanup);
  const started = Date.now();
  try {
    let nginx: { port: number; pid: number } | null = null;
    try {
      nginx = await startNginx(dir, ensureTools(log).nginx, s.idleConns);
    } catch (e) {
      if (!(e instanceof ToolsMissing)) throw e;
      log(`no nginx column: ${e.message}`);
    }
    await idleScenario(s, nginx);
    await stopAll();
    await maxConnectionsScenario(s);
    await slowlorisScenario(s);
    await uploadScenario(s);
    await downloadScenario(s);
  } finally {
    await stop();
  }
  process.stdout.write(
    `\nResource abuse, ${new Date().toISOString().slice(0, 16).replace('T', ' ')}, node ${process.version}, ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s (\`node ${process.argv.slice(1).join(' ')}\`)\n\n${table()}`,
  );
  return 0;
}

runMain(main, log, cleanup);
