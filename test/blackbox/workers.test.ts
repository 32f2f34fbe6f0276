/**
 * --workers: several processes share the listening socket, route identically, share the primary's
 * health view, survive a killed worker without dropping the listener, and drain together on SIGTERM.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { cleanup, nodesArg, startBackends, startFnlb } from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';

after(cleanup);

function get(port: number, path: string): Promise<{ status: number; node?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, node: res.headers['x-node'] as string | undefined }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`timeout ${path}`)));
  });
}

const HEALTH = ['--hc-interval', '100ms', '--hc-timeout', '200ms', '--connect-timeout', '500ms'];

describe('workers', () => {
  afterEach(cleanup);

  test('two workers both serve, and route every function to the same owner', async () => {
    const backends = await startBackends(3);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--workers', '2', ...HEALTH]);
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const paths = Array.from({ length: 120 }, (_, i) => `/r/app/f${i % 30}`);
    const answers = await Promise.all(paths.map((p) => get(lb.port, p)));
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.equal(a.node, backends[rankNodes(functionKey(paths[i]), nodes)[0]].name, paths[i]);
    });
    await eventually(() => {
      const workers = new Set(lb.logs.filter((l) => l.msg === 'request').map((l) => l.worker));
      assert.deepEqual([...workers].sort(), [1, 2], 'both workers answered');
    }, 3000);
  });

  test('a killed worker is replaced; the listener never goes away', async () => {
    const backends = await startBackends(2);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--workers', '2', ...HEALTH]);
    const pids = await workerPids(lb.pid);
    assert.equal(pids.length, 2);
    process.kill(pids[0], 'SIGKILL');
    // Requests keep being answered by the surviving worker while the primary starts a new one.
    for (let i = 0; i < 20; i++) assert.equal((await get(lb.port, `/r/app/k${i}`)).status, 200);
    await lb.waitForLog((l) => l.msg === 'worker exited; starting a new one', 3000);
    await eventually(async () => assert.equal((await workerPids(lb.pid)).length, 2), 5000);
    assert.equal((await get(lb.port, '/r/app/after')).status, 200);
  });

  test('health is checked once, in the primary, and shared: a dead node is avoided by every worker', async () => {
    const backends = await startBackends(3);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--workers', '2', ...HEALTH]);
    await backends[0].kill('SIGKILL');
    await lb.waitForLog((l) => l.msg === 'node down' && l.node === backends[0].id, 3000);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => get(lb.port, `/r/app/h${i}`)));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.notEqual(a.node, backends[0].name);
    }
    assert.equal(lb.logs.filter((l) => l.msg === 'node down').length, 1, 'one health log for all workers');
  });

  test('SIGTERM drains every worker: requests in flight finish, then exit 0', async () => {
    const backends = await startBackends(1);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--workers', '2', ...HEALTH]);
    const slow = Promise.all([get(lb.port, '/r/app/s1?delay=600'), get(lb.port, '/r/app/s2?delay=600')]);
    await sleep(150);
    const t0 = Date.now();
    lb.proc.kill('SIGTERM');
    const results = await slow;
    for (const r of results) assert.equal(r.status, 200);
    const exit = await lb.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 3000);
    assert.ok(lb.logs.some((l) => l.msg === 'stopped'));
  });
});

/** Child pids of a process, from /proc. */
async function workerPids(parent: number): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // the process went away
    }
  }
  return out;
}
