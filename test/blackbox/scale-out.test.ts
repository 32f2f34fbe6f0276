/**
 * Several fnlb instances, black-box: real processes sharing one node registry in the machine's
 * PostgreSQL (a table prefix of their own), real backends that say who they are. A change made through
 * any instance's admin API reaches the others within a second, and every instance then routes each of
 * 1,000 functions to the same node; the registry cut off or its connections terminated never stops
 * traffic, admin writes meanwhile get 503, and the instances converge when it is back. Also nodes from
 * DNS (a DNS server the test runs), and the start-up errors of these flags.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { adminCall, servedBy } from '../../harness/admin-client.js';
import { startDnsServer } from '../../harness/dns-server.js';
import { closedPort, cuttableProxy, dropRegistry, sql, terminateBackends, TEST_PG_URL, uniquePrefix } from '../../harness/postgres.js';
import {
  cleanup,
  fastHealthArgs,
  nodesArg,
  startBackends,
  startFnlb,
  type BackendProcess,
  type FnlbProcess,
} from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';

after(cleanup);

const FUNCTIONS = Array.from({ length: 1000 }, (_, i) => `/r/app/fn${i}`);

/** An fnlb instance on the registry at `url` (table prefix `prefix`), with fast health checks. */
function instance(url: string, prefix: string, more: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<FnlbProcess> {
  const flags = env['FNLB_REGISTRY'] === undefined ? ['--registry', url] : [];
  return startFnlb(['--listen', '127.0.0.1:0', ...flags, '--registry-prefix', prefix, ...more, ...fastHealthArgs()], env);
}

/** Which backend serves each function through this instance (20 requests at a time). */
async function routes(lb: FnlbProcess): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < FUNCTIONS.length) {
        const path = FUNCTIONS[next++]!;
        const a = await servedBy(lb, path);
        assert.equal(a.status, 200, `${path} through :${lb.port}`);
        out.set(path, a.node!);
      }
    }),
  );
  return out;
}

/** The node ids (sorted) an instance's /v1/nodes lists, with the draining ones marked "(draining)" and weights other than 1. */
async function memberView(lb: FnlbProcess): Promise<string[]> {
  const a = await adminCall(lb, '/v1/nodes');
  assert.equal(a.status, 200, a.text);
  return (a.json.nodes as Array<{ node: string; draining: boolean; weight: number }>)
    .map((n) => `${n.node}${n.weight === 1 ? '' : ` w${n.weight}`}${n.draining ? ' (draining)' : ''}`)
    .sort();
}

/** Waits until every instance shows `want`; the time it took from `since`. */
async function converge(lbs: FnlbProcess[], want: string[], since: number, limitMs = 5000): Promise<number> {
  await eventually(
    async () => {
      for (const lb of lbs) assert.deepEqual(await memberView(lb), [...want].sort());
    },
    limitMs,
    20,
  );
  return Date.now() - since;
}

/** Every function is served by the same node through every instance, and that node is its owner by rendezvous over `nodes`. */
async function assertSameRouting(
  lbs: FnlbProcess[],
  backends: BackendProcess[],
  nodes: Array<{ b: BackendProcess; weight?: number }>,
): Promise<Map<string, string>> {
  const maps = await Promise.all(lbs.map((lb) => routes(lb)));
  const ranked = nodes.map((n) => ({ id: n.b.id, weight: n.weight ?? 1 }));
  for (const path of FUNCTIONS) {
    const owner = nodes[rankNodes(functionKey(path), ranked)[0]!]!.b.name;
    for (let i = 0; i < lbs.length; i++) assert.equal(maps[i]!.get(path), owner, `${path} through instance ${i}`);
  }
  // Every node in the list gets some of the functions.
  const used = new Set(maps[0]!.values());
  for (const n of nodes) assert.ok(used.has(n.b.name), `${n.b.name} serves no function`);
  assert.ok(backends.length >= nodes.length);
  return maps[0]!;
}

describe('several instances, one registry', () => {
  const prefixes: string[] = [];
  afterEach(async () => {
    await cleanup();
    for (const p of prefixes.splice(0)) await dropRegistry(p);
  });

  test('add, drain, reweight and remove through any instance: all three apply it within 1 s and route 1,000 functions identically', async () => {
    const prefix = uniquePrefix('three');
    prefixes.push(prefix);
    const backends = await startBackends(4);
    const [b1, b2, b3, b4] = backends as [BackendProcess, BackendProcess, BackendProcess, BackendProcess];
    // A seeds the empty table; B names other nodes (not used: the table has nodes), through FNLB_REGISTRY; C names none.
    const a = await instance(TEST_PG_URL, prefix, ['--nodes', nodesArg([b1, b2, b3])]);
    const b = await instance('', prefix, ['--nodes', nodesArg([b4])], { FNLB_REGISTRY: TEST_PG_URL });
    const c = await instance(TEST_PG_URL, prefix);
    const lbs = [a, b, c];
    assert.match(String(a.logs.find((l) => l.msg === 'fnlb listening')?.membersFrom), /seeded from --nodes/);
    assert.match(String(b.logs.find((l) => l.msg === 'fnlb listening')?.membersFrom), /--nodes not used/);
    assert.equal((await sql(`SELECT count(*)::int AS n FROM "${prefix}nodes"`))[0]!.n, 3);
    await converge(lbs, [b1.id, b2.id, b3.id], Date.now());
    const before = await assertSameRouting(lbs, backends, [{ b: b1 }, { b: b2 }, { b: b3 }]);

    // Add through A.
    let t0 = Date.now();
    assert.equal((await adminCall(a, '/v1/nodes', 'POST', { node: b4.id })).status, 201);
    const addMs = await converge(lbs, [b1.id, b2.id, b3.id, b4.id], t0);
    assert.ok(addMs < 1000, `add reached every instance in ${addMs} ms`);
    const afterAdd = await assertSameRouting(lbs, backends, [{ b: b1 }, { b: b2 }, { b: b3 }, { b: b4 }]);
    // Only the functions the new node now owns moved.
    for (const path of FUNCTIONS) {
      if (afterAdd.get(path) !== before.get(path)) assert.equal(afterAdd.get(path), b4.name, `${path} moved between old nodes`);
    }

    // Drain through B.
    t0 = Date.now();
    assert.equal((await adminCall(b, `/v1/nodes/${encodeURIComponent(b2.id)}/drain`, 'POST')).status, 200);
    const drainMs = await converge(lbs, [b1.id, `${b2.id} (draining)`, b3.id, b4.id], t0);
    assert.ok(drainMs < 1000, `drain reached every instance in ${drainMs} ms`);
    await assertSameRouting(lbs, backends, [{ b: b1 }, { b: b3 }, { b: b4 }]);

    // Weight through C, then remove through C with fnproject's API.
    t0 = Date.now();
    assert.equal((await adminCall(c, `/v1/nodes/${encodeURIComponent(b3.id)}`, 'PATCH', { weight: 3 })).status, 200);
    const weightMs = await converge(lbs, [b1.id, `${b2.id} (draining)`, `${b3.id} w3`, b4.id], t0);
    assert.ok(weightMs < 1000, `weight reached every instance in ${weightMs} ms`);
    await assertSameRouting(lbs, backends, [{ b: b1 }, { b: b3, weight: 3 }, { b: b4 }]);
    t0 = Date.now();
    const removed = await adminCall(c, '/1/lb/nodes', 'DELETE', { node: b1.id });
    assert.deepEqual([removed.status, removed.json], [200, { msg: 'node deleted' }]);
    const removeMs = await converge(lbs, [`${b2.id} (draining)`, `${b3.id} w3`, b4.id], t0);
    assert.ok(removeMs < 1000, `remove reached every instance in ${removeMs} ms`);
    await assertSameRouting(lbs, backends, [{ b: b3, weight: 3 }, { b: b4 }]);

    // Refusals come from the registry, as they would from one instance: a duplicate, an unknown node.
    assert.equal((await adminCall(b, '/v1/nodes', 'POST', { node: b4.id })).status, 400);
    assert.equal((await adminCall(b, '/v1/nodes/127.0.0.1:1', 'DELETE')).status, 404);
    // Each instance says where its list comes from and whose health view it shows.
    const view = (await adminCall(b, '/v1/nodes')).json;
    assert.equal(view.healthView, 'local');
    assert.deepEqual(view.membership, { source: 'registry', registry: { up: true, url: TEST_PG_URL } });
    console.log(`# registry propagation: add ${addMs} ms, drain ${drainMs} ms, weight ${weightMs} ms, remove ${removeMs} ms`);
  });

  test('the registry cut off, then its connections terminated: traffic never stops, admin writes get 503, the instances converge when it is back', async () => {
    const prefix = uniquePrefix('outage');
    prefixes.push(prefix);
    const proxy = await cuttableProxy();
    const backends = await startBackends(3);
    const [b1, b2, b3] = backends as [BackendProcess, BackendProcess, BackendProcess];
    // A password in the URL (trust auth ignores it) must never be shown.
    const url = proxy.url.replace('postgres@', 'postgres:s3cret-pw@');
    const a = await instance(url, prefix, ['--nodes', nodesArg([b1, b2])]);
    const b = await instance(url, prefix);
    const lbs = [a, b];
    await converge(lbs, [b1.id, b2.id], Date.now());

    // Requests keep going through both instances during the whole test.
    let running = true;
    const failures: string[] = [];
    let served = 0;
    const traffic = Promise.all(
      lbs.flatMap((lb) =>
        Array.from({ length: 3 }, async (_, w) => {
          for (let i = w; running; i += 3) {
            const r = await servedBy(lb, FUNCTIONS[i % FUNCTIONS.length]!).catch((err: Error) => ({ status: 0, node: err.message }));
            if (r.status === 200) served++;
            else failures.push(`${r.status} ${r.node}`);
          }
        }),
      ),
    );

    await proxy.cut();
    await eventually(async () => assert.equal((await adminCall(a, '/readyz')).json.registry.up, false), 10_000, 50);
    const refused = await adminCall(a, '/v1/nodes', 'POST', { node: b3.id });
    assert.equal(refused.status, 503, refused.text);
    assert.match(refused.json.error, /registry unavailable, nothing changed/);
    const ready = await adminCall(a, '/readyz');
    assert.equal(ready.status, 200, 'still ready: it routes on the last list');
    assert.match((await adminCall(a, '/metrics')).text, /^fnlb_registry_up 0$/m);
    assert.equal((await adminCall(b, '/v1/nodes/' + encodeURIComponent(b1.id) + '/drain', 'POST')).status, 503);
    // Meanwhile someone changes the table directly: the instances learn it when they reconnect.
    await sql(`INSERT INTO "${prefix}nodes" (address, weight, draining) VALUES ($1, 1, false)`, [b3.id]);
    await sleep(1000);
    assert.deepEqual(await memberView(a), [b1.id, b2.id].sort(), 'the last list is kept');

    await proxy.restore();
    await converge(lbs, [b1.id, b2.id, b3.id], Date.now(), 20_000);
    assert.match((await adminCall(b, '/metrics')).text, /^fnlb_registry_up 1$/m);
    assert.equal((await adminCall(a, '/readyz')).json.registry.up, true);

    // Every registry connection terminated by the database: they reconnect, and changes flow again.
    assert.ok((await terminateBackends('fnlb')) >= 2, 'the instances had registry connections');
    await eventually(
      async () => {
        const r = await adminCall(b, `/v1/nodes/${encodeURIComponent(b1.id)}`, 'PATCH', { weight: 2 });
        assert.equal(r.status, 200, r.text);
      },
      20_000,
      200,
    );
    await converge(lbs, [`${b1.id} w2`, b2.id, b3.id], Date.now(), 2000);

    running = false;
    await traffic;
    assert.deepEqual(failures, [], 'no request failed while the registry was away');
    assert.ok(served > 200, `${served} requests served`);
    await assertSameRouting(lbs, backends, [{ b: b1, weight: 2 }, { b: b2 }, { b: b3 }]);

    // The password never reaches /v1/config or a log line.
    const config = (await adminCall(a, '/v1/config')).json;
    assert.equal(config.registry, url.replace('s3cret-pw', '<redacted>'));
    for (const lb of lbs) assert.ok(!lb.stdout.includes('s3cret-pw') && !lb.stderr.includes('s3cret-pw'), 'password in the output');
    // One line per change of state, not one per reconnect attempt.
    const unreachable = a.logs.filter((l) => l.msg === 'registry unreachable').length;
    assert.ok(unreachable >= 1 && unreachable <= 2, `${unreachable} "registry unreachable" lines`);
    await proxy.close();
  });

  test('SIGHUP re-reads the registry table', async () => {
    const prefix = uniquePrefix('sighup');
    prefixes.push(prefix);
    const [b1, b2] = (await startBackends(2)) as [BackendProcess, BackendProcess];
    // A resync far away: only the notification or the reload can bring a change.
    const a = await instance(TEST_PG_URL, prefix, ['--nodes', b1.id, '--registry-resync', '1h']);
    // A change that sends no notification (as a lost one would look).
    await sql(`INSERT INTO "${prefix}nodes" (address, weight, draining) VALUES ($1, 1, false)`, [b2.id]);
    await sleep(300);
    assert.deepEqual(await memberView(a), [b1.id]);
    a.proc.kill('SIGHUP');
    await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('registry ') && l.msg.includes('re-read'), 5000);
    assert.deepEqual(await memberView(a), [b1.id, b2.id].sort());
    assert.equal(a.proc.exitCode, null);
  });

  test('with --workers 2, the primary follows the registry and every worker routes by it', async () => {
    const prefix = uniquePrefix('workers');
    prefixes.push(prefix);
    const backends = await startBackends(3);
    const [b1, b2, b3] = backends as [BackendProcess, BackendProcess, BackendProcess];
    const a = await instance(TEST_PG_URL, prefix, ['--nodes', nodesArg([b1, b2])]);
    const w = await instance(TEST_PG_URL, prefix, ['--workers', '2']);
    await converge([a, w], [b1.id, b2.id], Date.now());
    const t0 = Date.now();
    assert.equal((await adminCall(a, '/v1/nodes', 'POST', { node: b3.id })).status, 201);
    const ms = await converge([a, w], [b1.id, b2.id, b3.id], t0);
    assert.ok(ms < 1000, `${ms} ms`);
    // One connection per request: the kernel spreads them over both workers.
    await assertSameRouting([a, w], backends, [{ b: b1 }, { b: b2 }, { b: b3 }]);
    assert.equal((await adminCall(w, '/v1/nodes')).json.healthView, 'primary');
  });
});

describe('nodes from DNS', () => {
  afterEach(cleanup);

  test('SRV records: nodes come and go with them, a failing server keeps the last answer, the admin API cannot change them', async () => {
    const backends = await startBackends(3);
    const [b1, b2, b3] = backends as [BackendProcess, BackendProcess, BackendProcess];
    const name = '_http._tcp.fn.test.local';
    const srv = (bs: BackendProcess[]) => ({ srv: { [name]: bs.map((b) => ({ weight: 1, port: b.port, target: '127.0.0.1' })) } });
    const dns = await startDnsServer(srv([b1, b2]));
    try {
      const lb = await startFnlb([
        '--listen',
        '127.0.0.1:0',
        '--nodes-dns',
        `srv:${name}`,
        '--dns-servers',
        dns.address,
        '--dns-interval',
        '200ms',
        ...fastHealthArgs(),
      ]);
      assert.match(String(lb.logs.find((l) => l.msg === 'fnlb listening')?.membersFrom), /^dns srv:/);
      await converge([lb], [b1.id, b2.id], Date.now());
      await assertSameRouting([lb], backends, [{ b: b1 }, { b: b2 }]);

      dns.records = srv([b1, b2, b3]);
      await converge([lb], [b1.id, b2.id, b3.id], Date.now(), 3000);
      await assertSameRouting([lb], backends, [{ b: b1 }, { b: b2 }, { b: b3 }]);
      dns.records = srv([b2, b3]);
      await converge([lb], [b2.id, b3.id], Date.now(), 3000);

      dns.servfail = true;
      await lb.waitForLog((l) => l.msg === 'dns lookup failed; keeping the last nodes', 3000);
      await sleep(500);
      assert.deepEqual(await memberView(lb), [b2.id, b3.id].sort());
      await assertSameRouting([lb], backends, [{ b: b2 }, { b: b3 }]);
      dns.servfail = false;

      const refused = await adminCall(lb, '/v1/nodes', 'POST', { node: b1.id });
      assert.equal(refused.status, 409);
      assert.match(refused.json.error, /come from DNS/);
      assert.equal((await adminCall(lb, '/v1/nodes')).json.membership.source, 'dns');
    } finally {
      await dns.stop();
    }
  });
});

describe('start-up errors', () => {
  afterEach(cleanup);

  const exits = async (args: string[]): Promise<{ code: number | null; stderr: string }> => {
    const lb = await startFnlb(args, {}, { waitReady: false });
    const exit = await lb.exited;
    return { code: exit.code, stderr: lb.stderr };
  };

  test('one node list source at a time; a registry that cannot be reached; a name DNS does not know', async () => {
    const both = await exits(['--registry', TEST_PG_URL, '--state-file', '/tmp/x.json', '--nodes', '127.0.0.1:1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give only one of --state-file, --registry/);
    const dnsAndNodes = await exits(['--nodes-dns', 'fn.local:8080', '--nodes', '127.0.0.1:1']);
    assert.equal(dnsAndNodes.code, 2);
    assert.match(dnsAndNodes.stderr, /--nodes-dns: the nodes come from DNS; leave out --nodes/);
    const badUrl = await exits(['--registry', 'mysql://u:pw@db/x']);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--registry: unsupported scheme "mysql"/);
    assert.ok(!badUrl.stderr.includes(':pw@'));

    const port = await closedPort();
    const down = await exits([
      '--listen',
      '127.0.0.1:0',
      '--registry',
      `postgres://postgres:pw@127.0.0.1:${port}/test`,
      '--nodes',
      '127.0.0.1:1',
    ]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /registry unreachable at postgres:\/\/postgres:<redacted>@127\.0\.0\.1/);

    const dns = await startDnsServer({});
    try {
      const unknown = await exits(['--listen', '127.0.0.1:0', '--nodes-dns', 'nothing.test.local:8080', '--dns-servers', dns.address]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /--nodes-dns nothing\.test\.local:8080: .*no address/);
    } finally {
      await dns.stop();
    }
  });
});
