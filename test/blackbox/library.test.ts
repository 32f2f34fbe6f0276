/** The library API, in-process: createBalancer and the original's consistentHashProxy. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import pino from 'pino';
import { ConfigError, consistentHashProxy, createBalancer, functionKey, NoFallbackNodeError, rankNodes } from '../../src/index.js';
import { cleanup, FNLB_ENTRY, nodesArg, runScript, startBackends } from '../../harness/processes.js';

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
});
