/**
 * The client half, black-box: createFallbackDispatcher under undici's fetch and request, in front of real
 * backend processes that say which node answered. Faults are real: SIGKILL, a restart on the same port,
 * a node that takes a request and dies before answering.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { fetch, request } from 'undici';
import {
  ConfigError,
  createFallbackDispatcher,
  functionKey,
  NoFallbackNodeError,
  rankNodes,
  type FallbackDispatcher,
} from '../../src/index.js';
import { cleanup, FNLB_INDEX_URL, nodesArg, runScript, startBackends, startFnlb, type BackendProcess } from '../../harness/processes.js';
import { setFaultMode } from '../../harness/nodes/backend.js';
import { eventually, sleep } from '../../harness/wait.js';

after(cleanup);

/** Fast probes and connects for tests. */
const FAST = { hcInterval: 100, hcTimeout: 200, connectTimeout: 500 };

const FUNCTIONS = Array.from({ length: 60 }, (_, i) => `/r/app${i % 7}/fn${i}`);

/** Node indices of a function, owner first, as fnlb ranks them. */
function ranking(path: string, backends: BackendProcess[]): number[] {
  return rankNodes(
    functionKey(path),
    backends.map((b) => ({ id: b.id, weight: 1 })),
  );
}

/** GET through the dispatcher; the node that answered. The origin only names the cluster. */
async function whoAnswers(d: FallbackDispatcher, path: string): Promise<string> {
  const res = await fetch(`http://cluster.invalid${path}`, { dispatcher: d });
  await res.arrayBuffer();
  assert.equal(res.status, 200, path);
  return res.headers.get('x-node') ?? '';
}

describe('createFallbackDispatcher', () => {
  const open: FallbackDispatcher[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.destroy()));
    await cleanup();
  });
  function dispatcher(nodes: string[], extra: Record<string, unknown> = {}): FallbackDispatcher {
    const d = createFallbackDispatcher({ nodes, ...FAST, ...extra });
    open.push(d);
    return d;
  }

  test('routes every function to its owner; owner killed: each of its functions goes to its rank-1 node, no request fails', async () => {
    const backends = await startBackends(3);
    const d = dispatcher(backends.map((b) => b.id));
    for (const f of FUNCTIONS) assert.equal(await whoAnswers(d, f), backends[ranking(f, backends)[0]].name, f);
    const downs: string[] = [];
    d.on('node-down', (node) => downs.push(node));
    await backends[0].kill('SIGKILL');
    for (const f of FUNCTIONS) {
      const [owner, second] = ranking(f, backends);
      assert.equal(await whoAnswers(d, f), backends[owner === 0 ? second : owner].name, f);
    }
    assert.deepEqual(downs, [backends[0].id]);
    assert.deepEqual(
      d.nodes().map((n) => n.state),
      ['offline', 'online', 'online'],
    );
  });

  test('every node down: fetch rejects with cause NoFallbackNodeError at once, undici.request with the error itself', async () => {
    const backends = await startBackends(2);
    const d = dispatcher(backends.map((b) => b.id));
    await Promise.all(backends.map((b) => b.kill('SIGKILL')));
    for (let round = 0; round < 2; round++) {
      // Round 0 finds the nodes dead (refused connections), round 1 finds them on the dead list.
      const t0 = performance.now();
      await assert.rejects(fetch('http://cluster.invalid/r/a/b', { dispatcher: d }), (err: Error) => {
        assert.ok(err.cause instanceof NoFallbackNodeError, `cause: ${String(err.cause)}`);
        assert.equal((err.cause as Error).message, 'no fallback node found - whole cluster seems offline');
        return true;
      });
      assert.ok(performance.now() - t0 < 400, `took ${performance.now() - t0} ms`);
    }
    await assert.rejects(request('http://cluster.invalid/r/a/b', { dispatcher: d }), NoFallbackNodeError);
  });

  test("Node's global fetch takes the dispatcher too", async () => {
    const backends = await startBackends(2);
    const d = dispatcher(backends.map((b) => b.id));
    const res = await globalThis.fetch('http://cluster.invalid/r/g/one', { dispatcher: d } as RequestInit);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-node'), backends[ranking('/r/g/one', backends)[0]].name);
    await res.arrayBuffer();
  });

  test('a killed node restarted on its port is used again after a probe', async () => {
    const backends = await startBackends(2);
    const d = dispatcher(backends.map((b) => b.id));
    const mine = FUNCTIONS.find((f) => ranking(f, backends)[0] === 0)!;
    assert.equal(await whoAnswers(d, mine), backends[0].name);
    await backends[0].kill('SIGKILL');
    assert.equal(await whoAnswers(d, mine), backends[1].name);
    const ups: string[] = [];
    d.on('node-up', (node) => ups.push(node));
    await backends[0].restart();
    await eventually(async () => assert.equal(await whoAnswers(d, mine), backends[0].name), 3000, 50);
    assert.deepEqual(ups, [backends[0].id]);
  });

  test('the same node as fnlb for 1,000 functions: rankNodes, and a real fnlb process in front of the same nodes', async () => {
    const backends = await startBackends(4);
    const fnlb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--access-log', 'off']);
    const d = dispatcher(backends.map((b) => b.id));
    const direct = dispatcher([`127.0.0.1:${fnlb.port}`]);
    for (let i = 0; i < 1000; i++) {
      const f = `/r/app${i % 13}/function-${i}?input=${i}`;
      const expected = backends[ranking(f, backends)[0]].name;
      assert.equal(await whoAnswers(d, f), expected, f);
      assert.equal(await whoAnswers(direct, f), expected, `${f} through fnlb`);
    }
  });

  test('hashKey header: the header routes, as in fnlb; requests without it route by function', async () => {
    const backends = await startBackends(3);
    const d = dispatcher(
      backends.map((b) => b.id),
      { hashKey: { kind: 'header', name: 'X-Fn-Id' } },
    );
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    for (let i = 0; i < 20; i++) {
      const res = await request('http://cluster.invalid/r/a/b', { dispatcher: d, headers: { 'x-fn-id': `tenant-${i}` } });
      await res.body.dump();
      assert.equal(res.headers['x-node'], backends[rankNodes(`tenant-${i}`, nodes)[0]].name);
    }
    assert.equal(await whoAnswers(d, '/r/x/y'), backends[ranking('/r/x/y', backends)[0]].name);
  });

  test('a POST its node took and then died with is not re-sent; a GET in the same case goes to the next node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fnlb-client-'));
    const logs = [0, 1, 2].map((i) => join(dir, `b${i}.log`));
    const backends = await startBackends(3, 'B', (i) => ({ logFile: logs[i] }));
    const d = dispatcher(backends.map((b) => b.id));
    const seen = (i: number): string => {
      try {
        return readFileSync(logs[i], 'utf8');
      } catch {
        return '';
      }
    };
    const path = FUNCTIONS.find((f) => ranking(f, backends)[0] === 0)!;
    const second = ranking(path, backends)[1];

    await setFaultMode(backends[0].port, { kind: 'hang' });
    const post = request(`http://cluster.invalid${path}`, {
      dispatcher: d,
      method: 'POST',
      body: Buffer.from('run me once'),
      headers: { 'x-request-id': 'post-1' },
    });
    const postSettled = post.then(
      () => 'answered',
      (err: Error & { code?: string }) => err,
    );
    await eventually(() => assert.match(seen(0), /post-1/), 3000);
    await backends[0].kill('SIGKILL');
    const outcome = await postSettled;
    assert.ok(outcome instanceof Error, `POST was ${String(outcome)}`);
    assert.ok(!(outcome instanceof NoFallbackNodeError));
    await sleep(200);
    assert.doesNotMatch(seen(1) + seen(2), /post-1/, 'the POST reached a second node');

    await backends[0].restart();
    await eventually(async () => assert.equal(await whoAnswers(d, path), backends[0].name), 3000, 50);
    await setFaultMode(backends[0].port, { kind: 'hang' });
    const get = request(`http://cluster.invalid${path}`, { dispatcher: d, headers: { 'x-request-id': 'get-1' } });
    await eventually(() => assert.match(seen(0), /get-1/), 3000);
    await backends[0].kill('SIGKILL');
    const res = await get;
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-node'], backends[second].name);
  });

  test('options are checked like the balancer’s: ConfigError naming the flag', () => {
    assert.throws(
      () => createFallbackDispatcher({ nodes: [] }),
      (e) => e instanceof ConfigError && /no nodes given/.test(e.message),
    );
    assert.throws(
      () => createFallbackDispatcher({ nodes: ['127.0.0.1:1'], hcInterval: 0 }),
      (e) => e instanceof ConfigError && e.message === '--hc-interval: invalid duration "0" (must be greater than 0)',
    );
    assert.throws(() => createFallbackDispatcher({ nodes: ['nope'] }), /invalid node/);
    assert.throws(
      () => createFallbackDispatcher({ nodes: ['127.0.0.1:1'], hcIntervall: 5 } as never),
      (e) => e instanceof ConfigError && /did you mean hcInterval/.test(e.message),
    );
  });

  test('close() stops the probes and closes the pools: the process exits by itself', async () => {
    const backends = await startBackends(1);
    const script = `
      const { createFallbackDispatcher } = await import(${JSON.stringify(FNLB_INDEX_URL)});
      // Idle connections would hold the process for a minute, and probes run every 50 ms, unless close() ends both.
      const d = createFallbackDispatcher({ nodes: ['${backends[0].id}', '127.0.0.1:1'], hcInterval: 50, upstreamIdleTimeout: 60000 });
      for (let i = 0; i < 20; i++) {
        const res = await d.request({ origin: 'http://cluster', path: '/r/a/f' + i, method: 'GET' });
        await res.body.dump();
      }
      if (!d.nodes().some((n) => n.state === 'offline')) throw new Error('no node was probed');
      await d.close();
      console.log('closed');
    `;
    const t0 = performance.now();
    const run = await runScript('--input-type=module', ['-e', script], 5000);
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /closed/);
    assert.ok(performance.now() - t0 < 4000, `exited after ${performance.now() - t0} ms`);
  });
});
