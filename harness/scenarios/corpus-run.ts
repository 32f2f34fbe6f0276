/**
 * The malformed / smuggling request corpus (harness/scenarios/smuggling-corpus.ts) against fnlb, nginx and
 * HAProxy side by side. Each proxy stands in front of its own recording raw backend and has its own trap
 * listener (named by the absolute-form vectors; no proxy may contact it). nginx and HAProxy are set up as
 * in the benchmark (configs.ts): nginx `proxy_http_version 1.1` with an upstream keepalive pool, HAProxy
 * `mode http` with `http-reuse always` (here without health checks, so the backend sees client traffic
 * only); fnlb with its defaults (pooled node connections) and TCP health checks.
 *
 * Every vector goes to every proxy on a fresh client connection; the three proxies run in parallel, the
 * vectors of one proxy one after the other, and after each vector every backend connection is closed
 * so that the next vector starts clean. Used by test/blackbox/corpus-compare.test.ts and bench/corpus.ts.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';

import { startRawBackend, type RawBackend } from '../nodes/raw-backend.js';
import {
  assertExpected,
  observe,
  statusText,
  verdictOf,
  type ObserveOptions,
  type ProxyUnderTest,
  type Verdict,
} from './corpus-observe.js';
import { smugglingCorpus, type Vector } from './smuggling-corpus.js';
import { which, haproxyConf, nginxProxyConf } from '../peers.js';
import { FNLB_ENTRY, HOST, freePorts, start, stopAll, waitReady, type Proc } from '../processes.js';

export const CORPUS_PROXIES = ['fnlb', 'nginx', 'haproxy'] as const;
export type CorpusProxy = (typeof CORPUS_PROXIES)[number];
export const VERDICTS: readonly Verdict[] = ['rejected', 'normalized', 'smuggled', 'ambiguous', 'aborted', 'stalled'];

export interface Peers {
  nginx: string;
  haproxy: string;
}

/** nginx and HAProxy executables, or a message saying which one is missing. */
export function findPeers(): Peers | string {
  const nginx = which('nginx');
  const haproxy = which('haproxy');
  if (nginx && haproxy) return { nginx, haproxy };
  return `missing ${[nginx ? '' : 'nginx', haproxy ? '' : 'haproxy'].filter(Boolean).join(' and ')}`;
}

export interface Contestant extends ProxyUnderTest {
  name: CorpusProxy;
  pid: number;
}

export interface CorpusSetup {
  contestants: Contestant[];
  /** Stops the proxies and closes the backends and traps. */
  close(): Promise<void>;
}

/** Starts the three proxies, each in front of its own raw backend, and waits until each forwards a request. */
export async function startContestants(dir: string, peers: Peers): Promise<CorpusSetup> {
  const raws: RawBackend[] = [];
  const raw = async (recordOnly: boolean): Promise<RawBackend> => {
    const r = await startRawBackend({ recordOnly });
    raws.push(r);
    return r;
  };
  const close = async (): Promise<void> => {
    await stopAll();
    await Promise.all(raws.map((r) => r.close()));
  };
  try {
    const nodes = { fnlb: await raw(false), nginx: await raw(false), haproxy: await raw(false) };
    const traps = { fnlb: await raw(true), nginx: await raw(true), haproxy: await raw(true) };
    const [pFnlb, pNginx, pHaproxy] = (await freePorts(3)) as [number, number, number];
    chmodSync(dir, 0o755); // nginx workers run as nobody when started as root
    mkdirSync(`${dir}/nginx-proxy-tmp`, { mode: 0o755 });
    writeFileSync(`${dir}/nginx-proxy.conf`, nginxProxyConf(dir, pNginx, [nodes.nginx.port]));
    writeFileSync(`${dir}/haproxy.cfg`, haproxyConf(pHaproxy, [nodes.haproxy.port], { check: false }));
    const procs: Record<CorpusProxy, [Proc, number]> = {
      fnlb: [
        start('fnlb', process.execPath, [
          FNLB_ENTRY,
          '--listen',
          `${HOST}:${pFnlb}`,
          '--nodes',
          nodes.fnlb.id,
          '--hc-path=',
          '--hc-interval',
          '60s',
          '--access-log',
          'off',
          '--admin-listen',
          'off',
        ]),
        pFnlb,
      ],
      nginx: [
        start('nginx-proxy', peers.nginx, ['-p', `${dir}/`, '-e', `${dir}/nginx-proxy-error.log`, '-c', `${dir}/nginx-proxy.conf`]),
        pNginx,
      ],
      haproxy: [start('haproxy', peers.haproxy, ['-db', '-f', `${dir}/haproxy.cfg`]), pHaproxy],
    };
    await Promise.all(Object.values(procs).map(([p, port]) => waitReady(p, port)));
    const contestants = CORPUS_PROXIES.map((name) => ({
      name,
      port: procs[name][1],
      pid: procs[name][0].pid,
      node: nodes[name],
      trap: traps[name],
    }));
    // The readiness requests are not part of any vector.
    for (const r of raws) for (const c of r.connections) c.socket.destroy();
    return { contestants, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One vector through one proxy. */
export interface Cell {
  /** Status of the first final response, or closed / timeout / none. */
  status: string;
  closed: boolean;
  nodeBytes: number;
  /** Complete requests the backend's bytes parse as. */
  nodeRequests: number;
  /** The backend's bytes did not parse as whole requests. */
  leftover: boolean;
  trapContacted: boolean;
  verdict: Verdict;
  /** Where the proxy departs from fnlb's contract for this vector (the assertion message), if it does. */
  contract?: string;
}

export interface CorpusRow {
  vector: string;
  expected: string;
  /** fnlb's known deviation, if any. */
  todo?: string;
  cells: Record<CorpusProxy, Cell>;
}

const OBSERVE: ObserveOptions = { responseTimeoutMs: 1000, closeWaitMs: 300, awaitClose: 'on-error', settleMs: 30, isolate: true };

export function expectedText(v: Vector): string {
  if (v.expect === 'forward') return `fwd×${v.requests ?? 1}`;
  return typeof v.expect === 'number' ? String(v.expect) : v.expect.join('|');
}

async function runOne(c: Contestant): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const v of smugglingCorpus({ trapPort: c.trap.port })) {
    const o = await observe(c, v, OBSERVE);
    let contract: string | undefined;
    try {
      assertExpected(v, o);
    } catch (err) {
      contract = (err as Error).message.split('\n')[0];
    }
    cells.push({
      status: statusText(o),
      closed: o.closed,
      nodeBytes: o.nodeBytes,
      nodeRequests: o.nodeRequests.length,
      leftover: o.leftover,
      trapContacted: o.trapContacted,
      verdict: verdictOf(v, o),
      contract,
    });
  }
  return cells;
}

/** Runs the whole corpus through every contestant (in parallel across proxies). */
export async function runCorpus(setup: CorpusSetup): Promise<CorpusRow[]> {
  const results = await Promise.all(setup.contestants.map(runOne));
  const byName = Object.fromEntries(setup.contestants.map((c, i) => [c.name, results[i]!])) as Record<CorpusProxy, Cell[]>;
  return smugglingCorpus({ trapPort: 0 }).map((v, i) => ({
    vector: v.name,
    expected: expectedText(v),
    todo: v.todo,
    cells: Object.fromEntries(CORPUS_PROXIES.map((p) => [p, byName[p][i]!])) as Record<CorpusProxy, Cell>,
  }));
}

export type Totals = Record<CorpusProxy, Record<Verdict, number>>;

export function totals(rows: CorpusRow[]): Totals {
  const t = Object.fromEntries(CORPUS_PROXIES.map((p) => [p, Object.fromEntries(VERDICTS.map((v) => [v, 0]))])) as Totals;
  for (const r of rows) for (const p of CORPUS_PROXIES) t[p][r.cells[p].verdict]++;
  return t;
}

/** Rows where the three proxies do not all reach the same verdict. */
export function differing(rows: CorpusRow[]): CorpusRow[] {
  return rows.filter((r) => new Set(CORPUS_PROXIES.map((p) => r.cells[p].verdict)).size > 1);
}

function cellText(c: Cell): string {
  const reqs = `${c.nodeRequests}${c.leftover ? '+junk' : ''}`;
  return `${c.verdict} · ${c.status}${c.closed && c.status !== 'closed' ? ' closed' : ''} · ${c.nodeBytes} B/${reqs} req${c.trapContacted ? ' · TRAP' : ''}`;
}

/** Markdown: the totals, then one row per vector with each proxy's verdict, status, close, backend bytes/requests. */
export function markdown(rows: CorpusRow[]): string {
  const t = totals(rows);
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [
    `Vectors tried: ${rows.length}`,
    '',
    `| verdict | ${CORPUS_PROXIES.join(' | ')} |`,
    `|---|${CORPUS_PROXIES.map(() => '---:').join('|')}|`,
    ...VERDICTS.map((v) => `| ${v} | ${CORPUS_PROXIES.map((p) => t[p][v]).join(' | ')} |`),
    '',
    `| # | vector | expected | ${CORPUS_PROXIES.join(' | ')} |`,
    `|---|---|---|${CORPUS_PROXIES.map(() => '---').join('|')}|`,
    ...rows.map(
      (r, i) =>
        `| ${i + 1} | ${esc(r.vector)}${r.todo ? ' (fnlb todo)' : ''} | ${esc(r.expected)} | ${CORPUS_PROXIES.map((p) => esc(cellText(r.cells[p]))).join(' | ')} |`,
    ),
  ];
  return `${out.join('\n')}\n`;
}
