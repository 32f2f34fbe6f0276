/**
 * DNS discovery against a DNS server the test runs on 127.0.0.1 (harness/dns-server.ts): nodes appear
 * and disappear as A, AAAA and SRV records change; a failed lookup keeps the last answer, logged once
 * per streak of failures.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { DnsDiscovery } from '../../src/discovery/dns.js';
import type { RegistryEntry } from '../../src/registry/registry.js';
import { startDnsServer, type TestDnsServer } from '../../harness/dns-server.js';
import { memoryLogger } from '../../harness/postgres.js';
import { eventually, sleep } from '../../harness/wait.js';

const servers: TestDnsServer[] = [];
const discoveries: DnsDiscovery[] = [];
after(async () => {
  for (const d of discoveries) d.stop();
  await Promise.allSettled(servers.map((s) => s.stop()));
});

async function setup(spec: string, records: Parameters<typeof startDnsServer>[0], intervalMs = 100) {
  const server = await startDnsServer(records);
  servers.push(server);
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([server.address]);
  const logs = memoryLogger();
  const lists: RegistryEntry[][] = [];
  const d = new DnsDiscovery({ spec, intervalMs, log: logs.log, resolver, onMembers: (l) => lists.push(l) });
  discoveries.push(d);
  const nodes = (): string[] => (lists.at(-1) ?? []).map((e) => e.node);
  return { server, d, logs, lists, nodes };
}

describe('DNS discovery', () => {
  it('name:port: every A and AAAA address is a node; nodes come and go with the records', async () => {
    const t = await setup('fn.test.local:8080', {
      a: { 'fn.test.local': ['10.0.0.2', '10.0.0.1'] },
      aaaa: { 'fn.test.local': ['fd00:0:0::1'] },
    });
    const first = await t.d.start();
    assert.deepEqual(first, [
      { node: '10.0.0.1:8080', weight: 1, draining: false },
      { node: '10.0.0.2:8080', weight: 1, draining: false },
      { node: '[fd00::1]:8080', weight: 1, draining: false },
    ]);
    assert.equal(t.lists.length, 1);
    t.server.records = { a: { 'fn.test.local': ['10.0.0.1', '10.0.0.3'] } };
    await eventually(() => assert.deepEqual(t.nodes(), ['10.0.0.1:8080', '10.0.0.3:8080']), 3000, 20);
    // Unchanged answers call nothing.
    const calls = t.lists.length;
    await sleep(400);
    assert.equal(t.lists.length, calls);
    assert.ok(t.server.queries >= 6);
  });

  it('srv: targets resolved to addresses at the record port, SRV weight as node weight', async () => {
    const t = await setup('srv:_http._tcp.fn.test.local', {
      srv: {
        '_http._tcp.fn.test.local': [
          { weight: 3, port: 8080, target: 'pod-a.fn.test.local' },
          { weight: 0, port: 9090, target: 'pod-b.fn.test.local' },
          { weight: 1, port: 8080, target: 'gone.fn.test.local' },
        ],
      },
      a: { 'pod-a.fn.test.local': ['10.0.0.1'], 'pod-b.fn.test.local': ['10.0.0.2'] },
      aaaa: { 'pod-b.fn.test.local': ['::1'] },
    });
    assert.deepEqual(await t.d.start(), [
      { node: '10.0.0.1:8080', weight: 3, draining: false },
      { node: '10.0.0.2:9090', weight: 1, draining: false },
      { node: '[::1]:9090', weight: 1, draining: false },
    ]);
    t.server.records = {
      srv: { '_http._tcp.fn.test.local': [{ weight: 2, port: 8081, target: 'pod-c.fn.test.local' }] },
      a: { 'pod-c.fn.test.local': ['10.0.0.9'] },
    };
    await eventually(() => assert.deepEqual(t.lists.at(-1), [{ node: '10.0.0.9:8081', weight: 2, draining: false }]), 3000, 20);
  });

  it('a failed lookup keeps the last answer (logged once per streak), then follows the records again', async () => {
    const t = await setup('fn.test.local:8080', { a: { 'fn.test.local': ['10.0.0.1', '10.0.0.2'] } });
    await t.d.start();
    // SERVFAIL, then a name that no longer exists (an empty answer is kept out too), then no server at all.
    t.server.servfail = true;
    await sleep(400);
    t.server.servfail = false;
    t.server.records = {};
    await sleep(400);
    assert.deepEqual(t.nodes(), ['10.0.0.1:8080', '10.0.0.2:8080']);
    assert.equal(t.lists.length, 1);
    assert.equal(t.logs.count('dns lookup failed; keeping the last nodes'), 1);
    t.server.records = { a: { 'fn.test.local': ['10.0.0.2'] } };
    await eventually(() => assert.deepEqual(t.nodes(), ['10.0.0.2:8080']), 3000, 20);
    assert.equal(t.logs.count('dns lookup ok again'), 1);
    await t.server.stop();
    await sleep(1000);
    assert.deepEqual(t.nodes(), ['10.0.0.2:8080']);
    assert.equal(t.logs.count('dns lookup failed; keeping the last nodes'), 2);
    t.d.stop();
  });

  it('start rejects when the first lookup fails (no last answer to keep)', async () => {
    const t = await setup('nothing.test.local:8080', { a: {} });
    await assert.rejects(t.d.start(), /^Error: --nodes-dns nothing\.test\.local:8080: /);
  });
});
