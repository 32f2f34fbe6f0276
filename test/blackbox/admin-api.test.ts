/**
 * The admin listener, black-box: real fnlb processes, real backends that say who they are. Every
 * endpoint and every bad input, token auth and the dashboard session, fnproject's API, the state file,
 * SIGHUP, membership changes and drains under load, and workers following the primary's membership.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import {
  childPids,
  cleanup,
  fastHealthArgs,
  nodesArg,
  runScript,
  FNLB_ENTRY,
  startBackends,
  startFnlb,
  type FnlbProcess,
} from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';
import { adminCall, call, servedBy, type Answer } from '../../harness/admin-client.js';

after(cleanup);

const TOKEN = 'test-token-0123456789abcdef';

const auth = { Authorization: `Bearer ${TOKEN}` };

function admin(lb: FnlbProcess, path: string, method = 'GET', body?: unknown, headers: Record<string, string> = auth): Promise<Answer> {
  return adminCall(lb, path, method, body, headers);
}

/** fnlb in front of these backends, with fast health checks and any more flags. */
function startLb(backends: { id: string }[], more: string[] = [], health = fastHealthArgs()): Promise<FnlbProcess> {
  return startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...more, ...health]);
}

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'fnlb-admin-'));
}

describe('admin API', () => {
  afterEach(cleanup);

  test('nodes, routes, config, events: every endpoint answers with what it says', async () => {
    const backends = await startBackends(3);
    const lb = await startLb(backends.slice(0, 2), ['--admin-token', TOKEN]);
    assert.match(lb.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

    const listed = await admin(lb, '/v1/nodes');
    assert.equal(listed.status, 200);
    assert.equal(listed.json.healthView, 'local');
    assert.deepEqual(
      listed.json.nodes.map((n: any) => n.node),
      backends.slice(0, 2).map((b) => b.id),
    );
    for (const n of listed.json.nodes) {
      for (const field of [
        'state',
        'since',
        'reason',
        'check',
        'weight',
        'draining',
        'share',
        'inFlight',
        'requests',
        'errors',
        'fallbacksFrom',
        'fallbacksTo',
      ]) {
        assert.ok(field in n, `GET /v1/nodes has ${field}`);
      }
      assert.equal(n.state, 'up');
      assert.equal(n.share, 0.5);
    }
    await eventually(async () => assert.equal((await admin(lb, '/v1/nodes')).json.nodes[0].check?.ok, true), 3000);

    // Add the third node with weight 2: it owns half the functions now.
    const added = await admin(lb, '/v1/nodes', 'POST', { node: backends[2].id, weight: 2 });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.json.msg, 'node added');
    const three = (await admin(lb, '/v1/nodes')).json.nodes;
    assert.deepEqual(
      three.map((n: any) => [n.node, n.weight, n.share]),
      [
        [backends[0].id, 1, 0.25],
        [backends[1].id, 1, 0.25],
        [backends[2].id, 2, 0.5],
      ],
    );

    // The lookup gives the ranking fnlb routes by, and fnlb does route that way.
    const weighted = backends.map((b, i) => ({ id: b.id, weight: i === 2 ? 2 : 1 }));
    for (const path of ['/r/app/alpha', '/r/app/beta', '/r/other/gamma?x=1']) {
      const route = await admin(lb, `/v1/route?path=${encodeURIComponent(path)}`);
      assert.equal(route.status, 200);
      const expected = rankNodes(functionKey(path), weighted).map((i) => backends[i].id);
      assert.deepEqual(
        route.json.ranking.map((r: any) => r.node),
        expected,
      );
      assert.equal(route.json.target, expected[0]);
      assert.equal(route.json.key, functionKey(path));
      assert.equal((await servedBy(lb, path)).node, backends.find((b) => b.id === expected[0])!.name);
    }

    const patched = await admin(lb, `/v1/nodes/${encodeURIComponent(backends[2].id)}`, 'PATCH', { weight: 3 });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await admin(lb, `/v1/nodes/${backends[2].id}`)).json.weight, 3);

    const config = await admin(lb, '/v1/config');
    assert.equal(config.status, 200);
    assert.equal(config.json.adminToken, '<redacted>');
    assert.ok(!config.text.includes(TOKEN), 'the token never leaves');
    assert.equal(config.json.hcInterval, 100);
    assert.deepEqual(
      config.json.nodes,
      backends.map((b) => b.id),
    );

    const deleted = await admin(lb, `/v1/nodes/${backends[2].id}`, 'DELETE');
    assert.deepEqual([deleted.status, deleted.json], [200, { msg: 'node deleted' }]);

    const events = await admin(lb, '/v1/events');
    assert.deepEqual(
      events.json.events.map((e: any) => [e.kind, e.node]),
      [
        ['node-added', backends[2].id],
        ['weight', backends[2].id],
        ['node-removed', backends[2].id],
      ],
    );
    const later = await admin(lb, `/v1/events?after=${events.json.events[1].seq}`);
    assert.deepEqual(
      later.json.events.map((e: any) => e.kind),
      ['node-removed'],
    );
    const membership = lb.logs.filter((l) => l.msg === 'membership changed').map((l) => [l.change, l.node]);
    assert.deepEqual(membership, [
      ['added', backends[2].id],
      ['weight', backends[2].id],
      ['removed', backends[2].id],
    ]);
  });

  test('bad input: 400 saying what is wrong, 404, 405 with Allow, 413', async () => {
    const backends = await startBackends(2);
    const lb = await startLb(backends, ['--admin-token', TOKEN]);
    const cases: Array<[string, string, string | undefined, number, RegExp]> = [
      ['POST', '/v1/nodes', '{"node": ', 400, /invalid JSON/],
      ['POST', '/v1/nodes', '[]', 400, /JSON object/],
      ['POST', '/v1/nodes', undefined, 400, /missing JSON body/],
      ['POST', '/v1/nodes', '{}', 400, /missing field "node"/],
      ['POST', '/v1/nodes', '{"node": 5}', 400, /must be a string/],
      ['POST', '/v1/nodes', '{"node": "10.0.0.1"}', 400, /invalid node "10\.0\.0\.1".*port/],
      ['POST', '/v1/nodes', '{"node": "https://10.0.0.1:8443"}', 400, /https/],
      ['POST', '/v1/nodes', JSON.stringify({ node: backends[0].id }), 400, /already a member/],
      ['POST', '/v1/nodes', '{"node": "127.0.0.1:1", "weight": 0}', 400, /invalid weight 0/],
      ['PATCH', `/v1/nodes/${backends[0].id}`, '{"weight": -1}', 400, /invalid weight -1/],
      ['PATCH', `/v1/nodes/${backends[0].id}`, '{"draining": true}', 400, /unknown field "draining"/],
      ['PATCH', `/v1/nodes/${backends[0].id}`, '{}', 400, /missing field "weight"/],
      ['PATCH', '/v1/nodes/127.0.0.1:1', '{"weight": 2}', 404, /unknown node "127\.0\.0\.1:1"/],
      ['DELETE', '/v1/nodes/127.0.0.1:1', undefined, 404, /unknown node/],
      ['POST', '/v1/nodes/127.0.0.1:1/drain', undefined, 404, /unknown node/],
      ['DELETE', '/1/lb/nodes', '{"node": "127.0.0.1:1"}', 400, /unknown node/],
      ['PUT', '/1/lb/nodes', '{"nod": "127.0.0.1:1"}', 400, /missing field "node"/],
      ['GET', '/v1/route', undefined, 400, /missing query parameter "path"/],
      ['GET', '/v1/route?path=r/app/fn', undefined, 400, /must start with \//],
      ['GET', '/v1/events?after=-1', undefined, 400, /invalid "after"/],
      ['GET', '/v1/nope', undefined, 404, /no such endpoint/],
      ['GET', '/nope', undefined, 404, /no such endpoint/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const a = await admin(lb, path, method, body);
      assert.equal(a.status, status, `${method} ${path} ${body}: ${a.text}`);
      assert.match(a.json?.error ?? '', message, `${method} ${path} ${body}`);
    }

    const wrongMethod = await admin(lb, '/v1/nodes', 'PUT', '{}');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'GET, POST, HEAD');
    assert.equal((await admin(lb, '/1/lb/nodes', 'POST', '{}')).headers.allow, 'GET, PUT, DELETE, HEAD');
    assert.equal((await admin(lb, '/healthz', 'POST', '{}')).status, 405);

    const big = await admin(lb, '/v1/nodes', 'POST', JSON.stringify({ node: '127.0.0.1:1', pad: 'x'.repeat(70 * 1024) }));
    assert.equal(big.status, 413);
    assert.match(big.json.error, /over 65536 bytes/);

    // The last node that gets requests can be neither removed nor drained.
    assert.equal((await admin(lb, `/v1/nodes/${backends[0].id}`, 'DELETE')).status, 200);
    const last = await admin(lb, `/v1/nodes/${backends[1].id}`, 'DELETE');
    assert.equal(last.status, 400);
    assert.match(last.json.error, /last node/);
    assert.match((await admin(lb, `/v1/nodes/${backends[1].id}/drain`, 'POST')).json.error, /last node/);
    assert.equal((await servedBy(lb, '/r/app/still')).status, 200);
  });

  test('fnproject fnlb API: GET, PUT and DELETE /1/lb/nodes, on --mgmt-port', async () => {
    const backends = await startBackends(3);
    const [port] = await (await import('../../harness/processes.js')).freePorts(1);
    const lb = await startLb(backends.slice(0, 2), ['--mgmt-port', String(port)]);
    assert.equal(lb.adminUrl, `http://127.0.0.1:${port}`);
    const open = {}; // no token on loopback: open, and the start line says so
    assert.match(String(lb.logs.find((l) => l.msg === 'fnlb listening')?.adminAuth), /open/);
    assert.deepEqual((await admin(lb, '/1/lb/nodes', 'GET', undefined, open)).json, {
      nodes: { [backends[0].id]: 'online', [backends[1].id]: 'online' },
    });
    assert.deepEqual((await admin(lb, '/1/lb/nodes', 'PUT', { node: backends[2].id }, open)).json, { msg: 'node added' });
    assert.deepEqual((await admin(lb, '/1/lb/nodes', 'DELETE', { node: backends[0].id }, open)).json, { msg: 'node deleted' });
    await backends[1].kill('SIGKILL');
    await eventually(async () => {
      const nodes = (await admin(lb, '/1/lb/nodes', 'GET', undefined, open)).json.nodes;
      assert.deepEqual(nodes, { [backends[1].id]: 'offline', [backends[2].id]: 'online' });
    }, 3000);
  });

  test('auth: bearer token in constant time, 401 otherwise; probes open; the dashboard session cookie', async () => {
    const backends = await startBackends(1);
    const lb = await startLb(backends, ['--admin-token', TOKEN]);
    for (const headers of [
      {} as Record<string, string>,
      { Authorization: 'Bearer wrong' },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: `Basic ${TOKEN}` },
    ]) {
      const a = await admin(lb, '/v1/nodes', 'GET', undefined, headers);
      assert.equal(a.status, 401, JSON.stringify(headers));
      assert.equal(a.headers['www-authenticate'], 'Bearer realm="fnlb"');
    }
    assert.equal((await admin(lb, '/metrics', 'GET', undefined, {})).status, 401);
    assert.equal((await admin(lb, '/1/lb/nodes', 'GET', undefined, {})).status, 401);
    assert.equal((await admin(lb, '/v1/nodes')).status, 200);
    assert.deepEqual((await admin(lb, '/healthz', 'GET', undefined, {})).json, { status: 'ok' });
    assert.deepEqual((await admin(lb, '/readyz', 'GET', undefined, {})).json, { ready: true });

    // The dashboard: no session → the login form; ?token= once → a cookie, and the token leaves the address.
    const noSession = await admin(lb, '/', 'GET', undefined, {});
    assert.equal(noSession.status, 303);
    assert.equal(noSession.headers.location, '/login');
    assert.equal((await admin(lb, '/?token=wrong', 'GET', undefined, {})).status, 401);
    const withToken = await admin(lb, `/?token=${TOKEN}`, 'GET', undefined, {});
    assert.equal(withToken.status, 303);
    assert.equal(withToken.headers.location, '/');
    const cookie = String(withToken.headers['set-cookie']?.[0]).split(';')[0];
    assert.match(cookie, /^fnlb_admin=[0-9a-f]{64}$/);
    assert.ok(!cookie.includes(TOKEN));
    assert.match(String(withToken.headers['set-cookie']?.[0]), /HttpOnly; SameSite=Strict/);
    const page = await admin(lb, '/', 'GET', undefined, { Cookie: cookie });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.equal((await admin(lb, '/v1/nodes', 'GET', undefined, { Cookie: cookie })).status, 200);
    assert.equal((await admin(lb, '/v1/nodes', 'GET', undefined, { Cookie: 'fnlb_admin=0000' })).status, 401);

    const form = (token: string) =>
      call(`${lb.adminUrl}/login`, 'POST', `token=${encodeURIComponent(token)}`, { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal((await form('nope')).status, 401);
    const loggedIn = await form(TOKEN);
    assert.equal(loggedIn.status, 303);
    assert.equal(String(loggedIn.headers['set-cookie']?.[0]).split(';')[0], cookie);
  });

  test('metrics and counters after known traffic: requests by node and class, fallbacks, functions', async () => {
    const backends = await startBackends(2);
    const lb = await startLb(backends);
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const path = '/r/app/counted';
    const owner = rankNodes(functionKey(path), nodes)[0]!;
    for (let i = 0; i < 10; i++) assert.equal((await servedBy(lb, path)).status, 200);
    assert.equal((await servedBy(lb, `${path}?status=503`)).status, 503);
    await backends[owner]!.kill('SIGKILL');
    // The owner is down: the next calls go to the other node, as fallbacks from the owner.
    await eventually(async () => assert.equal((await servedBy(lb, path)).node, backends[1 - owner]!.name), 3000);
    for (let i = 0; i < 4; i++) assert.equal((await servedBy(lb, path)).status, 200);

    const text = (await admin(lb, '/metrics', 'GET', undefined, {})).text;
    const value = (line: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(line + ' '))
          ?.slice(line.length + 1),
      );
    const ownerId = backends[owner]!.id;
    const otherId = backends[1 - owner]!.id;
    assert.equal(value(`fnlb_requests_total{node="${ownerId}",code="2xx"}`), 10);
    assert.equal(value(`fnlb_requests_total{node="${ownerId}",code="5xx"}`), 1);
    assert.ok(value(`fnlb_requests_total{node="${otherId}",code="2xx"}`) >= 5);
    assert.ok(value(`fnlb_fallbacks_total{from="${ownerId}",to="${otherId}"}`) >= 5);
    assert.equal(value(`fnlb_node_up{node="${ownerId}"}`), 0);
    assert.equal(value(`fnlb_node_up{node="${otherId}"}`), 1);
    assert.match(text, /# TYPE fnlb_request_duration_seconds histogram/);
    assert.match(text, /# TYPE process_cpu_seconds_total counter/);

    const listed = (await admin(lb, '/v1/nodes', 'GET', undefined, {})).json.nodes;
    const ownerView = listed.find((n: any) => n.node === ownerId);
    assert.equal(ownerView.requests, 11);
    assert.ok(ownerView.fallbacksFrom >= 5);
    const fns = (await admin(lb, '/v1/functions', 'GET', undefined, {})).json.functions;
    const counted = fns.find((f: any) => f.key === functionKey(path));
    assert.ok(counted.requests >= 16, JSON.stringify(counted));
    assert.equal(counted.error, 0, 'kept from its first request: exact');
    assert.ok(counted.spills.down + counted.retries >= 5, JSON.stringify(counted));
    const events = (await admin(lb, '/v1/events', 'GET', undefined, {})).json.events.map((e: any) => e.kind);
    assert.ok(events.includes('node-down') && events.includes('fallback'), events.join());
  });

  test('/readyz is 503 with the reason when no node is up', async () => {
    const backends = await startBackends(1);
    const lb = await startLb(backends);
    assert.equal((await admin(lb, '/readyz', 'GET', undefined, {})).status, 200);
    await backends[0].kill('SIGKILL');
    await eventually(async () => {
      const a = await admin(lb, '/readyz', 'GET', undefined, {});
      assert.equal(a.status, 503);
      assert.deepEqual(a.json, { ready: false, reason: 'no node up - whole cluster seems offline' });
    }, 3000);
    assert.deepEqual((await admin(lb, '/healthz', 'GET', undefined, {})).json, { status: 'ok' });
  });

  test('an admin listener on a non-loopback address without a token: refused at start, exit 2', async () => {
    const r = await runScript(FNLB_ENTRY, ['--nodes', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--admin-listen', '0.0.0.0:0'], 5000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^fnlb: --admin-listen: 0\.0\.0\.0:0 is not a loopback address and no --admin-token is set/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const both = await runScript(FNLB_ENTRY, ['--nodes', '127.0.0.1:1', '--mgmt-port', '9999', '--admin-listen', '127.0.0.1:0'], 5000);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --mgmt-port or --admin-listen/);
  });
});

describe('state file and SIGHUP', () => {
  afterEach(cleanup);

  test('changes survive a restart; the file wins over --nodes', async () => {
    const backends = await startBackends(3);
    const file = join(scratchDir(), 'state.json');
    const args = ['--listen', '127.0.0.1:0', '--state-file', file, ...fastHealthArgs()];
    const first = await startFnlb([...args, '--nodes', nodesArg(backends.slice(0, 2))]);
    assert.equal(first.logs.find((l) => l.msg === 'fnlb listening')?.membersFrom, 'nodes, state file created');
    assert.equal((await admin(first, '/v1/nodes', 'POST', { node: backends[2].id, weight: 2 }, {})).status, 201);
    assert.equal((await admin(first, `/v1/nodes/${backends[0].id}/drain`, 'POST', undefined, {})).status, 200);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      format: 1,
      nodes: [
        { node: backends[0].id, weight: 1, draining: true },
        { node: backends[1].id, weight: 1 },
        { node: backends[2].id, weight: 2 },
      ],
    });
    await first.stop();

    // Restarted with only one node on the command line: the state file's three come back.
    const second = await startFnlb([...args, '--nodes', nodesArg(backends.slice(0, 1))]);
    assert.equal(second.logs.find((l) => l.msg === 'fnlb listening')?.membersFrom, 'state-file');
    const nodes = (await admin(second, '/v1/nodes', 'GET', undefined, {})).json.nodes;
    assert.deepEqual(
      nodes.map((n: any) => [n.node, n.weight, n.draining]),
      [
        [backends[0].id, 1, true],
        [backends[1].id, 1, false],
        [backends[2].id, 2, false],
      ],
    );
    // The drained node gets nothing.
    for (let i = 0; i < 30; i++) assert.notEqual((await servedBy(second, `/r/app/f${i}`)).node, backends[0].name);
    await second.stop();

    // No --nodes at all: the state file alone is enough.
    const third = await startFnlb(args);
    assert.equal((await admin(third, '/v1/nodes', 'GET', undefined, {})).json.nodes.length, 3);
  });

  test('a corrupt or unreadable state file stops the start with exit 2 and a clear line, never an empty list', async () => {
    const dir = scratchDir();
    const cases: Array<[string, RegExp]> = [
      ['{"format": 1, "nodes": [', /invalid JSON/],
      ['{"nodes": []}', /expected \{"format": 1/],
      ['{"format": 1, "nodes": []}', /no node that gets requests/],
      ['{"format": 1, "nodes": [{"node": "10.0.0.1"}]}', /nodes\[0\].*port/],
      ['{"format": 1, "nodes": [{"node": "10.0.0.1:80"}, {"node": "10.0.0.1:80"}]}', /listed twice/],
      ['{"format": 1, "nodes": [{"node": "10.0.0.1:80", "weight": -2}]}', /weight must be a positive number/],
    ];
    for (const [i, [text, why]] of cases.entries()) {
      const file = join(dir, `bad${i}.json`);
      writeFileSync(file, text);
      const r = await runScript(
        FNLB_ENTRY,
        ['--listen', '127.0.0.1:0', '--admin-listen', 'off', '--nodes', '127.0.0.1:1', '--state-file', file],
        5000,
      );
      assert.equal(r.code, 2, `${text}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^fnlb: --state-file: ${file.replaceAll('.', '\\.')} is not a usable state file`));
      assert.match(r.stderr, why);
    }
    const unreadable = await runScript(FNLB_ENTRY, ['--listen', '127.0.0.1:0', '--admin-listen', 'off', '--state-file', dir], 5000);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, /--state-file: cannot read .*EISDIR/);
    const none = await runScript(
      FNLB_ENTRY,
      ['--listen', '127.0.0.1:0', '--admin-listen', 'off', '--state-file', join(dir, 'missing.json')],
      5000,
    );
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no nodes given and no state file yet/);
  });

  test('SIGHUP re-reads the state file and applies it; without one it says so; it never stops fnlb', async () => {
    const backends = await startBackends(3);
    const file = join(scratchDir(), 'state.json');
    const lb = await startLb(backends.slice(0, 2), ['--state-file', file]);
    writeFileSync(file, JSON.stringify({ format: 1, nodes: [{ node: backends[1].id }, { node: backends[2].id, weight: 3 }] }));
    lb.proc.kill('SIGHUP');
    await lb.waitForLog((l) => l.signal === 'SIGHUP' && /reloaded: 2 change/.test(String(l.msg)), 3000);
    const nodes = (await admin(lb, '/v1/nodes', 'GET', undefined, {})).json.nodes;
    assert.deepEqual(
      nodes.map((n: any) => [n.node, n.weight]),
      [
        [backends[1].id, 1],
        [backends[2].id, 3],
      ],
    );
    writeFileSync(file, '{"format": 1, "nodes": [');
    lb.proc.kill('SIGHUP');
    await lb.waitForLog((l) => l.signal === 'SIGHUP' && /not reloaded, membership unchanged: .*invalid JSON/.test(String(l.msg)), 3000);
    assert.equal((await admin(lb, '/v1/nodes', 'GET', undefined, {})).json.nodes.length, 2);
    assert.equal((await servedBy(lb, '/r/app/after-hup')).status, 200);

    const plain = await startLb(backends.slice(0, 1));
    plain.proc.kill('SIGHUP');
    await plain.waitForLog((l) => l.msg === 'nothing to reload (no --state-file, --registry or --nodes-dns)', 3000);
    await sleep(200);
    assert.equal(plain.proc.exitCode, null);
    assert.equal((await servedBy(plain, '/r/app/x')).status, 200);
  });
});

describe('membership under load', () => {
  afterEach(cleanup);

  /** Keeps GETs over `functions` going until stopped; every answer recorded. */
  function load(lb: FnlbProcess, functions: string[]) {
    const answers: Array<{ path: string; status: number; node?: string; at: number }> = [];
    let running = true;
    const loops = Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; running; i += 8) {
        const path = functions[i % functions.length];
        const a = await servedBy(lb, path);
        answers.push({ path, status: a.status, node: a.node, at: Date.now() });
      }
    });
    return {
      answers,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  test('adding a node under load: 0 failed requests, and only the functions it now owns move', async () => {
    const backends = await startBackends(4);
    const lb = await startLb(backends.slice(0, 3));
    const functions = Array.from({ length: 200 }, (_, i) => `/r/app/fn${i}`);
    const traffic = load(lb, functions);
    await sleep(400);
    const changedAt = Date.now();
    assert.equal((await admin(lb, '/v1/nodes', 'POST', { node: backends[3].id }, {})).status, 201);
    await sleep(600);
    await traffic.stop();

    assert.ok(traffic.answers.length > 200, `${traffic.answers.length} requests`);
    assert.deepEqual(
      traffic.answers.filter((a) => a.status !== 200),
      [],
    );
    const before = backends.slice(0, 3).map((b) => ({ id: b.id, weight: 1 }));
    const afterNodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    let moved = 0;
    for (const a of traffic.answers) {
      const key = functionKey(a.path);
      const oldOwner = backends[rankNodes(key, before)[0]].name;
      const newOwner = backends[rankNodes(key, afterNodes)[0]].name;
      if (a.at < changedAt) assert.equal(a.node, oldOwner, a.path);
      else if (a.at > changedAt + 100) {
        assert.equal(a.node, newOwner, a.path);
        if (newOwner !== oldOwner) moved++;
      }
    }
    assert.ok(moved > 0, 'some functions moved to the new node');
    // Exactly the functions the new node wins moved, each from its old owner to the new node.
    for (const path of functions) {
      const key = functionKey(path);
      const oldOwner = rankNodes(key, before)[0];
      const newOwner = rankNodes(key, afterNodes)[0];
      assert.ok(newOwner === oldOwner || newOwner === 3, `${path} moved between old nodes`);
    }
  });

  test('draining a node under load: its requests in flight finish, new ones go to fallbacks, 0 failed', async () => {
    const backends = await startBackends(3);
    const lb = await startLb(backends);
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const functions = Array.from({ length: 60 }, (_, i) => `/r/app/d${i}`);
    const owned = functions.filter((p) => rankNodes(functionKey(p), nodes)[0] === 0);
    assert.ok(owned.length > 5);
    // Slow calls in flight on the node being drained.
    const slow = owned.slice(0, 4).map((p) => servedBy(lb, `${p}?delay=800`));
    const traffic = load(lb, functions);
    await sleep(300);
    const drained = await admin(lb, `/v1/nodes/${backends[0].id}/drain`, 'POST', undefined, {});
    assert.deepEqual([drained.status, drained.json], [200, { msg: 'node draining' }]);
    const drainedAt = Date.now();
    await sleep(700);
    await traffic.stop();
    for (const s of await Promise.all(slow)) assert.deepEqual(s, { status: 200, node: backends[0].name });
    assert.deepEqual(
      traffic.answers.filter((a) => a.status !== 200),
      [],
    );
    const late = traffic.answers.filter((a) => a.at > drainedAt + 50);
    assert.ok(late.length > 50);
    for (const a of late) {
      assert.notEqual(a.node, backends[0].name, `${a.path} after the drain`);
      const ranking = rankNodes(functionKey(a.path), nodes);
      assert.equal(a.node, backends[ranking[0] === 0 ? ranking[1] : ranking[0]].name, `${a.path}: its own fallback`);
    }
    const view = (await admin(lb, '/v1/nodes', 'GET', undefined, {})).json.nodes[0];
    assert.equal(view.draining, true);
    assert.equal(view.share, 0);
    // Back in rotation: its functions return.
    assert.equal((await admin(lb, `/v1/nodes/${backends[0].id}/undrain`, 'POST', undefined, {})).status, 200);
    assert.equal((await servedBy(lb, owned[0])).node, backends[0].name);
  });

  test('with --workers 2 every worker applies a change at once, and a new worker starts from it', async () => {
    const backends = await startBackends(3);
    const lb = await startLb(backends.slice(0, 2), ['--workers', '2'], fastHealthArgs('100ms', 'on'));
    assert.equal((await admin(lb, '/v1/nodes', 'GET', undefined, {})).json.healthView, 'primary');
    assert.equal((await admin(lb, '/v1/nodes', 'POST', { node: backends[2].id }, {})).status, 201);
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const toNew = Array.from({ length: 200 }, (_, i) => `/r/app/w${i}`)
      .filter((p) => rankNodes(functionKey(p), nodes)[0] === 2)
      .slice(0, 20);
    // New connection each time: both workers answer, and both send the new node's functions to it.
    const seen = new Set<number>();
    await eventually(async () => {
      for (const p of toNew) assert.equal((await servedBy(lb, p)).node, backends[2].name, p);
      for (const l of lb.logs) if (l.msg === 'request' && typeof l.worker === 'number') seen.add(l.worker);
      assert.ok(seen.size >= 2, 'both workers answered');
    }, 5000);
    // The primary's view lists the new node, and the routes agree.
    const route = await admin(lb, `/v1/route?path=${toNew[0]}`, 'GET', undefined, {});
    assert.equal(route.json.target, backends[2].id);
    // A worker started after the change (one killed and replaced) routes by the changed membership too.
    const before = childPids(lb.pid);
    process.kill(before[0]!, 'SIGKILL');
    await eventually(() => {
      const now = childPids(lb.pid);
      assert.equal(now.length, 2);
      assert.ok(!now.includes(before[0]!));
    }, 5000);
    await sleep(300);
    for (let round = 0; round < 3; round++) for (const p of toNew) assert.equal((await servedBy(lb, p)).node, backends[2].name, p);
  });
});
