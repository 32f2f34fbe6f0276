/** The library API, in-process: createBalancer and the original's consistentHashProxy. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import pino from 'pino';
import {
  ConfigError,
  consistentHashProxy,
  createBalancer,
  functionKey,
  MembershipError,
  NoFallbackNodeError,
  openMembership,
  parseNodeAddress,
  resolveOptions,
  rankNodes,
  type RequestInfo,
} from '../../src/index.js';
import { cleanup, FNLB_ENTRY, FNLB_INDEX_URL, nodesArg, runScript, startBackends, type BackendProcess } from '../../harness/processes.js';
import { dropRegistry, sql, TEST_PG_URL, uniquePrefix } from '../../harness/postgres.js';

after(cleanup);

const quiet = pino({ level: 'silent' });

function get(port: number, path: string): Promise<{ status: number; node?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, node: res.headers['x-node'] as string | undefined, body }));
      })
      .on('error', reject);
  });
}

describe('library', () => {
  afterEach(cleanup);

  test('createBalancer: listen, route by rankNodes, report node state and events, close gracefully', async () => {
    const backends = await startBackends(3);
    const lb = createBalancer({ nodes: backends.map((b) => b.id), hcInterval: 100, hcTimeout: 200, logger: quiet });
    const downs: string[] = [];
    lb.on('node-down', (node) => downs.push(node));
    const { host, port } = await lb.listen(0, '127.0.0.1');
    assert.equal(host, '127.0.0.1');
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    for (const path of ['/r/a/one', '/r/a/two', '/r/b/three']) {
      const a = await get(port, path);
      assert.equal(a.status, 200);
      assert.equal(a.node, backends[rankNodes(functionKey(path), nodes)[0]].name);
    }
    assert.deepEqual(
      lb.nodes().map((n) => n.state),
      ['online', 'online', 'online'],
    );
    await backends[1].kill('SIGKILL');
    const deadline = Date.now() + 3000;
    while (!downs.includes(backends[1].id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(downs, [backends[1].id]);
    assert.equal(lb.nodes()[1].state, 'offline');
    await lb.close();
    await assert.rejects(get(port, '/r/a/one'), /ECONNREFUSED/);
  });

  test('all nodes down: 503 with NoFallbackNodeError’s message', async () => {
    const backends = await startBackends(1);
    await backends[0].kill('SIGKILL');
    const lb = createBalancer({ nodes: nodesArg(backends).split(','), logger: quiet });
    const { port } = await lb.listen(0, '127.0.0.1');
    const a = await get(port, '/r/a/b');
    assert.equal(a.status, 503);
    assert.equal(JSON.parse(a.body).error, new NoFallbackNodeError().message);
    await lb.close();
  });

  test('consistentHashProxy returns a net.Server; close() stops it gracefully', async () => {
    const backends = await startBackends(2);
    const server = consistentHashProxy(
      backends.map((b) => b.id),
      { logger: quiet },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    assert.equal((await get(port, '/r/x/y')).status, 200);
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    await assert.rejects(get(port, '/r/x/y'), /ECONNREFUSED/);
  });

  test('a shared registry: openMembership, then edit() writes to it and the balancer follows', async () => {
    const backends = await startBackends(2);
    const [b1, b2] = backends as [BackendProcess, BackendProcess];
    const prefix = uniquePrefix('library');
    const options = { nodes: [b1.id], registry: TEST_PG_URL, registryPrefix: prefix, hcInterval: 100, logger: quiet };
    assert.throws(() => createBalancer(options), /--registry: open it with openMembership\(\)/);
    const membership = await openMembership({ ...resolveOptions(options) }, { log: quiet });
    const lb = createBalancer({ ...options, membership });
    try {
      const { port } = await lb.listen(0, '127.0.0.1');
      assert.deepEqual(
        lb.nodes().map((n) => n.node),
        [b1.id],
      );
      await lb.edit({ op: 'add', address: parseNodeAddress(b2.id) });
      assert.deepEqual(
        lb
          .nodes()
          .map((n) => n.node)
          .sort(),
        [b1.id, b2.id].sort(),
      );
      assert.deepEqual(
        (await sql(`SELECT address FROM "${prefix}nodes" ORDER BY address`)).map((r) => r['address']),
        [b1.id, b2.id].sort(),
      );
      await assert.rejects(lb.edit({ op: 'remove', node: '127.0.0.1:1' }), MembershipError);
      assert.equal((await get(port, '/r/app/x')).status, 200);
    } finally {
      await lb.close();
      await dropRegistry(prefix);
    }
  });

  test('bad configuration throws ConfigError', () => {
    assert.throws(() => createBalancer({ nodes: [] }), /no nodes given/);
    assert.throws(() => createBalancer({ nodes: ['127.0.0.1:1', '127.0.0.1:1'] }), /duplicate node/);
    assert.throws(() => createBalancer({ nodes: ['nope'] }), /invalid node/);
  });

  test('options are checked as the command line checks its flags: the same ConfigError message', async () => {
    const cli = await runScript(FNLB_ENTRY, ['--nodes', '127.0.0.1:1', '--hc-interval', '0'], 5000);
    assert.equal(cli.code, 2);
    const message = cli.stderr.replace(/^fnlb: /, '').trimEnd();
    assert.equal(message, '--hc-interval: invalid duration "0" (must be greater than 0)');
    const nodes = ['127.0.0.1:1'];
    assert.throws(
      () => createBalancer({ nodes, hcInterval: 0, logger: quiet }),
      (err) => err instanceof ConfigError && err.message === message,
    );
    assert.throws(
      () => createBalancer({ nodes, workers: 2, logger: quiet }),
      (err) => err instanceof ConfigError && /--workers/.test(err.message),
    );
  });

  test("'request' event: one per request with the access line's fields, none after the listener is removed", async () => {
    const backends = await startBackends(2);
    const lb = createBalancer({ nodes: backends.map((b) => b.id), logger: quiet });
    const { port } = await lb.listen(0, '127.0.0.1');
    const seen: RequestInfo[] = [];
    const listener = (info: RequestInfo): void => void seen.push(info);
    lb.on('request', listener);
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    for (const path of ['/r/a/one?x=1', '/r/b/two']) assert.equal((await get(port, path)).status, 200);
    assert.equal(seen.length, 2);
    for (const [i, path] of ['/r/a/one?x=1', '/r/b/two'].entries()) {
      const info = seen[i];
      assert.equal(info.method, 'GET');
      assert.equal(info.key, functionKey(path));
      assert.equal(info.node, backends[rankNodes(functionKey(path), nodes)[0]].id);
      assert.equal(info.status, 200);
      assert.equal(info.attempts, 1);
      assert.ok(info.ms > 0 && info.ms < 5000, `ms ${info.ms}`);
      assert.equal(info.cut, undefined);
    }
    lb.off('request', listener);
    await get(port, '/r/a/three');
    assert.equal(seen.length, 2);
    await Promise.all(backends.map((b) => b.kill('SIGKILL')));
    lb.on('request', listener);
    await get(port, '/r/a/four');
    assert.equal(seen[2].status, 503);
    await lb.close();
  });

  test('createBalancer is quiet unless asked: nothing on stdout by default, access lines with accessLog', async () => {
    const backends = await startBackends(1);
    const script = (extra: string): string => `
      const { createBalancer } = await import(${JSON.stringify(FNLB_INDEX_URL)});
      const http = await import('node:http');
      const lb = createBalancer({ nodes: ['${backends[0].id}', '127.0.0.1:1'], hcInterval: 50 ${extra} });
      const { port } = await lb.listen(0, '127.0.0.1');
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve, reject) =>
          http.get({ host: '127.0.0.1', port, path: '/r/a/f' + i, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject));
      }
      await new Promise((r) => setTimeout(r, 200));
      await lb.close();
    `;
    const silent = await runScript('--input-type=module', ['-e', script('')], 10_000);
    assert.equal(silent.code, 0, silent.output);
    assert.equal(silent.stdout, '', silent.output);
    const loud = await runScript('--input-type=module', ['-e', script(", accessLog: { kind: 'on' }, logLevel: 'info'")], 10_000);
    assert.equal(loud.code, 0, loud.output);
    const lines = loud.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    assert.equal(lines.filter((l) => l.msg === 'request').length, 3, loud.output);
    assert.ok(
      lines.some((l) => l.msg === 'node down'),
      loud.output,
    );
  });
});
