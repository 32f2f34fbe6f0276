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
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const DEMO_NODE = fileURLToPath(new URL('./demo-node.js', import.meta.url));
const FNLB_MAIN = process.env.FNLB_ENTRY || fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const HOST = '127.0.0.1';
const NODE_PORTS = [8091, 8092, 8093];

const smoke = process.argv.includes('--smoke');

interface Child {
  name: string;
  proc: ChildProcess;
  port: number;
  stderr: string;
  stdout: string;
}

const children: Child[] = [];
let stopping = false;

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(c: Child): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (!alive(c)) return resolve();
          const t = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
          c.proc.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.proc.kill('SIGTERM');
        }),
    ),
  );
}

async function fail(message: string): Promise<never> {
  process.stderr.write(`demo: ${message}\n`);
  for (const c of children) {
    if (c.stderr.trim() !== '') process.stderr.write(`--- ${c.name} stderr ---\n${c.stderr.slice(-3000)}\n`);
  }
  await stopAll();
  process.exit(1);
}

/** Spawns a child and waits until `ready(line)` returns a port from one of its stdout lines. */
function spawnChild(
  name: string,
  args: string[],
  ready: (line: string) => number | undefined,
  timeoutMs: number,
  onLine?: (line: string) => void,
): Promise<Child> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, proc, port: 0, stderr: '', stdout: '' };
  children.push(child);
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => (child.stderr += s));
  return new Promise((resolve, reject) => {
    let partial = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      reject(new Error(`${name} not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.stdout!.on('data', (s: string) => {
      child.stdout = (child.stdout + s).slice(-20000);
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!done) {
          const port = ready(line);
          if (port !== undefined) {
            done = true;
            clearTimeout(timer);
            child.port = port;
            resolve(child);
          }
        }
        onLine?.(line);
      }
    });
    proc.once('exit', (code, signal) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        const e = new Error(`${name} exited (code ${code}, signal ${signal}) before ready: ${child.stderr.trim()}`);
        (e as Error & { exitCode?: number | null }).exitCode = code;
        reject(e);
      } else if (!stopping) {
        say(`*** ${name} (pid ${proc.pid}) exited (code ${code}, signal ${signal})`);
        if (name === 'fnlb') void fail('fnlb stopped; stopping the demo');
      }
    });
  });
}

function readyPort(line: string): number | undefined {
  try {
    const j = JSON.parse(line) as { ready?: boolean; port?: number };
    return j.ready && typeof j.port === 'number' ? j.port : undefined;
  } catch {
    return undefined;
  }
}

async function startNode(i: number): Promise<Child> {
  const name = `node${i + 1}`;
  const args = (port: number): string[] => [DEMO_NODE, '--name', name, '--port', String(port), '--host', HOST];
  try {
    return await spawnChild(name, args(NODE_PORTS[i]!), readyPort, 10_000);
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode !== 98) throw err;
    children.splice(children.findIndex((c) => c.name === name), 1);
    return spawnChild(name, args(0), readyPort, 10_000);
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

function get(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

interface Call {
  node?: string;
  app?: string;
  route?: string;
  calls?: number;
  hot?: boolean;
}

async function runSmoke(lbPort: number, nodes: Child[]): Promise<void> {
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
  say(`smoke: /r/demo/hello (10 calls, different query strings) went to: ${[...helloNodes].join(', ')}; last call: calls=${lastHello?.calls} hot=${lastHello?.hot}`);
  say(`smoke: /r/demo/fn-0..fn-9 spread over ${fnNodes.size} node(s): ${[...fnNodes].join(', ')}`);

  const problems: string[] = [];
  if (ok !== results.length) {
    problems.push(`${results.length - ok} requests failed: ${results.filter((r) => r.status !== 200).map((r) => `${r.path} → ${r.status}`).join('; ')}`);
  }
  if (helloNodes.size !== 1) problems.push(`one function reached ${helloNodes.size} nodes`);
  if (lastHello && lastHello.hot !== true) problems.push('the hello function never got hot on its node');
  if (problems.length > 0) await fail(`smoke failed: ${problems.join('; ')}`);
  say('smoke ok');
}

async function main(): Promise<void> {
  const overall = smoke ? setTimeout(() => void fail('smoke run took longer than 60 s'), 60_000) : undefined;
  process.on('SIGINT', () => {
    say('\nstopping…');
    void stopAll().then(() => process.exit(0));
  });
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  let nodes: Child[];
  try {
    nodes = await Promise.all(NODE_PORTS.map((_, i) => startNode(i)));
  } catch (err) {
    return fail(`cannot start the demo nodes: ${(err as Error).message}`);
  }

  const wanted = Number(process.env.FNLB_DEMO_PORT ?? 8081);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) return fail(`bad FNLB_DEMO_PORT ${process.env.FNLB_DEMO_PORT}`);
  const lbWanted = wanted !== 0 && !(await portFree(wanted)) ? 0 : wanted;
  if (lbWanted !== wanted) say(`port ${wanted} is taken; fnlb will listen on a free port`);
  const nodeList = nodes.map((n) => `${HOST}:${n.port}`).join(',');
  const fnlbArgs = [FNLB_MAIN, '--listen', `${HOST}:${lbWanted}`, '--nodes', nodeList];

  const onFnlbLine = (line: string): void => {
    if (smoke || line.trim() === '') return;
    let shown = line;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (j.msg === 'request') shown = `${j.key} → ${j.node} ${j.status} (${j.ms} ms, attempts ${j.attempts})`;
      else if (j.msg === 'node down' || j.msg === 'node up') shown = `*** ${j.msg}: ${j.node}`;
      else if (j.msg === 'fnlb listening') return;
      else shown = String(j.msg ?? line);
    } catch {
      /* raw line */
    }
    say(`  [fnlb] ${shown}`);
  };
  let lb: Child;
  try {
    lb = await spawnChild(
      'fnlb',
      fnlbArgs,
      (line) => {
        try {
          const j = JSON.parse(line) as { msg?: string; address?: string };
          if (j.msg !== 'fnlb listening' || typeof j.address !== 'string') return undefined;
          const m = /:(\d+)$/.exec(j.address);
          return m ? Number(m[1]) : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      onFnlbLine,
    );
  } catch (err) {
    return fail(`cannot start fnlb (${process.execPath} ${fnlbArgs.join(' ')}): ${(err as Error).message}`);
  }

  const base = `http://${HOST}:${lb.port}`;
  say(`fnlb listening on ${base} (pid ${lb.proc.pid})`);
  for (const n of nodes) say(`  ${n.name}: http://${HOST}:${n.port}  pid ${n.proc.pid}`);

  if (smoke) {
    await runSmoke(lb.port, nodes);
    clearTimeout(overall);
    await stopAll();
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
  for (const n of nodes) say(`  kill ${n.proc.pid}    # ${n.name} (port ${n.port})`);
  say(`  curl -s ${base}/r/myapp/hello`);
  say(`  # start a killed node again (same port), e.g. node1:`);
  say(`  node ${DEMO_NODE} --name ${nodes[0]!.name} --port ${nodes[0]!.port} &`);
  say('');
  say('fnlb log below. Ctrl-C stops everything.');
}

void main();
