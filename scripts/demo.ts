/**
 * fnlb demo: three IronFunctions-like nodes and one fnlb in front of them, all on 127.0.0.1.
 *
 *   npm run demo                 (= node dist/scripts/demo.js)
 *   node dist/scripts/demo.js --smoke
 *
 * Nodes listen on 8091-8093 (any free port if one is taken); fnlb on FNLB_DEMO_PORT, default 8081
 * (any free port if taken, or if FNLB_DEMO_PORT=0). It prints curl lines to try and each node's pid so
 * you can kill one and watch the failover; Ctrl-C stops everything.
 * --smoke: start everything, make 20 requests, print a summary, stop everything; exit 0 when all is well.
 */
import { httpRequest } from '../harness/client/raw-client.js';
import {
  BACKEND_ENTRY,
  FNLB_ENTRY,
  HOST,
  isPortFree,
  startBackend,
  startFnlb,
  stopAll,
  type BackendProcess,
  type ExitInfo,
  type FnlbProcess,
  type LogLine,
} from '../harness/processes.js';
import { sleep } from '../harness/wait.js';

const NODE_PORTS = [8091, 8092, 8093];

const smoke = process.argv.includes('--smoke');

/** Everything started, for the stderr dump when the demo fails. */
const children: { name: string; stderr: () => string }[] = [];
let stopping = false;

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

async function stop(): Promise<void> {
  stopping = true;
  await stopAll();
}

async function fail(message: string): Promise<never> {
  process.stderr.write(`demo: ${message}\n`);
  for (const c of children) {
    const stderr = c.stderr();
    if (stderr.trim() !== '') process.stderr.write(`--- ${c.name} stderr ---\n${stderr.slice(-3000)}\n`);
  }
  await stop();
  process.exit(1);
}

/** Says so when a child stops on its own; the demo cannot go on without fnlb. */
function watch(name: string, pid: number, exited: Promise<ExitInfo>): void {
  void exited.then(({ code, signal }) => {
    if (stopping) return;
    say(`*** ${name} (pid ${pid}) exited (code ${code}, signal ${signal})`);
    if (name === 'fnlb') void fail('fnlb stopped; stopping the demo');
  });
}

/** Node i on its usual port, or on any free port when that one is taken (the node exits 98). */
async function startNode(i: number): Promise<BackendProcess> {
  const name = `node${i + 1}`;
  const start = (port: number): Promise<BackendProcess> => startBackend(name, { port, demo: true, readyTimeoutMs: 10_000 });
  let node: BackendProcess;
  try {
    node = await start(NODE_PORTS[i]!);
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode !== 98) throw err;
    node = await start(0);
  }
  children.push({ name, stderr: () => node.stderr });
  watch(name, node.pid, node.exited);
  return node;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await httpRequest(port, { path, timeoutMs: 5000 });
  return { status: r.status, body: r.text() };
}

interface Call {
  node?: string;
  app?: string;
  route?: string;
  calls?: number;
  hot?: boolean;
}

async function runSmoke(lbPort: number, nodes: BackendProcess[], adminUrl: string): Promise<void> {
  // Wait until fnlb routes (nodes may start as "down" until their first health check).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await get(lbPort, '/r/demo/warmup').catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) break;
    if (Date.now() > deadline) await fail(`fnlb does not route: last answer ${r.status} ${r.body}`);
    await sleep(100);
  }
  const results: { path: string; status: number; call: Call }[] = [];
  const paths = [
    ...Array.from({ length: 10 }, (_, i) => `/r/demo/hello?n=${i}`),
    ...Array.from({ length: 10 }, (_, i) => `/r/demo/fn-${i}`),
  ];
  for (const path of paths) {
    const r = await get(lbPort, path).catch((e: Error) => ({ status: 0, body: e.message }));
    let call: Call = {};
    try {
      call = JSON.parse(r.body) as Call;
    } catch {
      /* not JSON */
    }
    results.push({ path, status: r.status, call });
  }
  const perNode = new Map<string, number>();
  for (const n of nodes) perNode.set(n.name, 0);
  for (const r of results) if (r.call.node) perNode.set(r.call.node, (perNode.get(r.call.node) ?? 0) + 1);
  const hello = results.filter((r) => r.path.startsWith('/r/demo/hello'));
  const helloNodes = new Set(hello.map((r) => r.call.node));
  const fnNodes = new Set(results.filter((r) => r.path.startsWith('/r/demo/fn-')).map((r) => r.call.node));
  const ok = results.filter((r) => r.status === 200).length;
  const lastHello = hello[hello.length - 1]?.call;

  say(`smoke: ${results.length} requests, ${ok} answered 200`);
  say(`smoke: requests per node: ${[...perNode].map(([n, c]) => `${n}=${c}`).join(' ')}`);
  say(
    `smoke: /r/demo/hello (10 calls, different query strings) went to: ${[...helloNodes].join(', ')}; last call: calls=${lastHello?.calls} hot=${lastHello?.hot}`,
  );
  say(`smoke: /r/demo/fn-0..fn-9 spread over ${fnNodes.size} node(s): ${[...fnNodes].join(', ')}`);

  const problems: string[] = [];
  if (ok !== results.length) {
    problems.push(
      `${results.length - ok} requests failed: ${results
        .filter((r) => r.status !== 200)
        .map((r) => `${r.path} → ${r.status}`)
        .join('; ')}`,
    );
  }
  if (helloNodes.size !== 1) problems.push(`one function reached ${helloNodes.size} nodes`);
  if (lastHello && lastHello.hot !== true) problems.push('the hello function never got hot on its node');
  const admin = new URL(adminUrl);
  const listed = await httpRequest(Number(admin.port), { path: '/v1/nodes', timeoutMs: 5000 }).catch(() => null);
  const listedNodes = listed === null ? [] : ((JSON.parse(listed.text()) as { nodes?: { node: string }[] }).nodes ?? []);
  say(`smoke: admin API at ${adminUrl} lists ${listedNodes.length} node(s)`);
  if (listedNodes.length !== nodes.length) problems.push(`the admin API lists ${listedNodes.length} nodes, not ${nodes.length}`);
  if (problems.length > 0) await fail(`smoke failed: ${problems.join('; ')}`);
  say('smoke ok');
}

async function main(): Promise<void> {
  const overall = smoke ? setTimeout(() => void fail('smoke run took longer than 60 s'), 60_000) : undefined;
  process.on('SIGINT', () => {
    say('\nstopping…');
    void stop().then(() => process.exit(0));
  });
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));

  let nodes: BackendProcess[];
  try {
    nodes = await Promise.all(NODE_PORTS.map((_, i) => startNode(i)));
  } catch (err) {
    return fail(`cannot start the demo nodes: ${(err as Error).message}`);
  }

  const wanted = Number(process.env.FNLB_DEMO_PORT ?? 8081);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) return fail(`bad FNLB_DEMO_PORT ${process.env.FNLB_DEMO_PORT}`);
  const lbWanted = wanted !== 0 && !(await isPortFree(wanted)) ? 0 : wanted;
  if (lbWanted !== wanted) say(`port ${wanted} is taken; fnlb will listen on a free port`);
  const nodeList = nodes.map((n) => n.id).join(',');
  // The admin API and dashboard on their usual port, or any free one.
  const adminWanted = (await isPortFree(8082)) ? 8082 : 0;
  const fnlbArgs = ['--listen', `${HOST}:${lbWanted}`, '--nodes', nodeList, '--admin-listen', `${HOST}:${adminWanted}`];

  const showLog = (l: LogLine): void => {
    let shown: string;
    if (typeof l.raw === 'string') shown = l.raw;
    else if (l.msg === 'request') shown = `${l.key} → ${l.node} ${l.status} (${l.ms} ms, attempts ${l.attempts})`;
    else if (l.msg === 'node down' || l.msg === 'node up') shown = `*** ${l.msg}: ${l.node}`;
    else if (l.msg === 'fnlb listening') return;
    else shown = String(l.msg ?? JSON.stringify(l));
    say(`  [fnlb] ${shown}`);
  };
  let lb: FnlbProcess;
  try {
    lb = await startFnlb(fnlbArgs, undefined, { readyTimeoutMs: 15_000, onLog: smoke ? undefined : showLog });
  } catch (err) {
    return fail(`cannot start fnlb (${FNLB_ENTRY} ${fnlbArgs.join(' ')}): ${(err as Error).message}`);
  }
  children.push({ name: 'fnlb', stderr: () => lb.stderr });
  watch('fnlb', lb.pid, lb.exited);

  const base = `http://${HOST}:${lb.port}`;
  say(`fnlb listening on ${base} (pid ${lb.pid})`);
  for (const n of nodes) say(`  ${n.name}: http://${HOST}:${n.port}  pid ${n.pid}`);
  say(`dashboard and admin API: ${lb.adminUrl}/  (open on loopback, no token)`);

  if (smoke) {
    await runSmoke(lb.port, nodes, lb.adminUrl);
    clearTimeout(overall);
    await stop();
    process.exit(0);
  }

  say('');
  say('Try:');
  say(`  # one function always lands on the same node; "calls" grows and it gets "hot":`);
  say(`  for i in 1 2 3 4 5; do curl -s "${base}/r/myapp/hello?name=$i"; done`);
  say(`  # different functions spread over the nodes:`);
  say(`  for f in a b c d e f g h; do curl -s ${base}/r/myapp/$f; done`);
  say(`  # kill the node that serves /r/myapp/hello, then call it again: it fails over to the next node`);
  say(`  # of that function's ranking (and comes back when the node is back):`);
  for (const n of nodes) say(`  kill ${n.pid}    # ${n.name} (port ${n.port})`);
  say(`  curl -s ${base}/r/myapp/hello`);
  say(`  # start a killed node again (same port), e.g. node1:`);
  say(`  node ${BACKEND_ENTRY} --demo --name ${nodes[0]!.name} --port ${nodes[0]!.port} &`);
  say(`  # watch it live in the dashboard (${lb.adminUrl}/), or ask the admin API:`);
  say(`  curl -s ${lb.adminUrl}/v1/nodes`);
  say(`  curl -s "${lb.adminUrl}/v1/route?path=/r/myapp/hello"`);
  say(`  curl -s -X POST ${lb.adminUrl}/v1/nodes/${encodeURIComponent(nodes[0]!.id)}/drain   # no new calls for ${nodes[0]!.name}`);
  say(`  curl -s ${lb.adminUrl}/metrics | grep fnlb_requests_total`);
  say('');
  say('fnlb log below. Ctrl-C stops everything.');
}

void main();
