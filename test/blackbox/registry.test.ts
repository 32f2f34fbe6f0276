/**
 * The PostgreSQL registry against the machine's real PostgreSQL: migration and seeding (also with two
 * instances starting at once), changes reaching another instance through NOTIFY within 1 s, the
 * periodic re-read healing a change made behind its back, refusals, and the database going away and
 * coming back (refused at start; a terminated connection; an outage of several retries).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { MembershipError } from '../../src/membership/member-table.js';
import {
  NodeRegistry,
  RegistryRefusal,
  RegistryUnavailableError,
  type NodeRegistryOptions,
  type RegistryEntry,
} from '../../src/registry/registry.js';
import {
  TEST_PG_URL,
  closedPort,
  cuttableProxy,
  dropRegistry,
  memoryLogger,
  sql,
  terminateBackends,
  uniquePrefix,
} from '../../harness/postgres.js';
import { eventually, withTimeout } from '../../harness/wait.js';

const e = (node: string, weight = 1, draining = false): RegistryEntry => ({ node, weight, draining });

/** A registry whose every onMembers list and state change is recorded. */
function registry(prefix: string, extra: Partial<NodeRegistryOptions> = {}) {
  const logs = memoryLogger();
  const lists: { at: number; entries: RegistryEntry[] }[] = [];
  const states: boolean[] = [];
  const r = new NodeRegistry({
    url: TEST_PG_URL,
    tablePrefix: prefix,
    log: logs.log,
    onMembers: (entries) => lists.push({ at: performance.now(), entries }),
    onStateChange: (up) => states.push(up),
    ...extra,
  });
  const last = (): RegistryEntry[] | undefined => lists.at(-1)?.entries;
  const nodes = (): string[] => (last() ?? []).map((x) => x.node);
  return { r, logs, lists, states, last, nodes };
}

const started: NodeRegistry[] = [];
const prefixes: string[] = [];
function track<T extends { r: NodeRegistry }>(x: T): T {
  started.push(x.r);
  return x;
}
function prefix(label: string): string {
  const p = uniquePrefix(label);
  prefixes.push(p);
  return p;
}

after(async () => {
  await Promise.allSettled(started.map((r) => r.stop()));
  for (const p of prefixes) await dropRegistry(p);
});

describe('registry: migration and seeding', () => {
  it('creates the table, seeds it once when empty, and a second start changes nothing; stop leaves nothing open', async () => {
    const handles = (): number => process.getActiveResourcesInfo().filter((h) => h === 'TCPSocketWrap' || h === 'Timeout').length;
    const before = handles();
    const p = prefix('seed');
    const a = track(registry(p));
    assert.deepEqual(await a.r.start([e('10.0.0.2:8080'), e('http://10.0.0.1:8080/', 2)]), { seeded: true });
    // Ordered by address, ids normalized.
    assert.deepEqual(a.last(), [e('10.0.0.1:8080', 2), e('10.0.0.2:8080')]);
    assert.equal(a.r.up, true);
    const b = track(registry(p));
    assert.deepEqual(await b.r.start([e('10.9.9.9:8080')]), { seeded: false });
    assert.deepEqual(b.last(), a.last());
    const cols = await sql<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1', [
      `${p}nodes`,
    ]);
    assert.deepEqual(
      cols.map((c) => c.column_name),
      ['address', 'draining', 'updated_at', 'weight'],
    );
    await a.r.stop();
    await b.r.stop();
    await eventually(() => assert.equal(handles(), before), 2000, 20);
  });

  it('two instances starting at once on no table: one seeds, both see the same list', async () => {
    const p = prefix('race');
    const a = track(registry(p));
    const b = track(registry(p));
    const [ra, rb] = await withTimeout(
      Promise.all([a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]), b.r.start([e('10.0.0.3:8080')])]),
      10_000,
      () => 'concurrent start hung',
    );
    assert.equal(Number(ra.seeded) + Number(rb.seeded), 1, `seeded: ${ra.seeded} ${rb.seeded}`);
    const rows = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${p}nodes"`);
    assert.equal(Number(rows[0]!.n), ra.seeded ? 2 : 1);
    await eventually(() => assert.deepEqual(a.last(), b.last()), 2000);
    await a.r.stop();
    await b.r.stop();
  });

  it('an empty table and no seed: start refuses (fnlb never starts with no node)', async () => {
    const p = prefix('empty');
    const a = track(registry(p));
    await assert.rejects(a.r.start([]), (err: Error) => err instanceof ConfigError && /no node that gets requests/.test(err.message));
  });

  it('refuses a table prefix that is not a plain identifier', () => {
    for (const bad of ['Fnlb_', 'a-b', '1x', 'x"; drop table y; --', 'a'.repeat(42), '']) {
      assert.throws(
        () => new NodeRegistry({ url: TEST_PG_URL, tablePrefix: bad, log: memoryLogger().log, onMembers: () => undefined }),
        ConfigError,
        bad,
      );
    }
  });
});

describe('registry: changes between instances', () => {
  it('a write through A reaches B within 1 s via NOTIFY (add, weight, drain, undrain, remove)', async () => {
    const p = prefix('notify');
    // A resync far away: only the notification can carry the change in time.
    const a = track(registry(p, { resyncMs: 600_000 }));
    const b = track(registry(p, { resyncMs: 600_000 }));
    await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
    await b.r.start([]);
    const latencies: number[] = [];
    type R = ReturnType<typeof registry>;
    /** The writer has its change applied when the write resolves; the other instance gets it by NOTIFY. */
    const step = async (w: R, o: R, write: (r: NodeRegistry) => Promise<boolean>, check: (l: RegistryEntry[]) => boolean, what: string) => {
      const before = o.lists.length;
      const t0 = performance.now();
      assert.equal(await write(w.r), true, what);
      assert.ok(check(w.last()!), `${what}: not applied by the writer: ${JSON.stringify(w.last())}`);
      await eventually(
        () => assert.ok(o.lists.length > before && check(o.last()!), `${what}: other has ${JSON.stringify(o.last())}`),
        1000,
        5,
      );
      latencies.push(o.lists.at(-1)!.at - t0);
    };
    const has = (node: string, weight: number) => (l: RegistryEntry[]) => l.some((x) => x.node === node && x.weight === weight);
    await step(a, b, (r) => r.add(e('10.0.0.3:8080', 3)), has('10.0.0.3:8080', 3), 'add');
    await step(a, b, (r) => r.setWeight('10.0.0.3:8080', 5), has('10.0.0.3:8080', 5), 'weight');
    await step(
      a,
      b,
      (r) => r.setDraining('10.0.0.1:8080', true),
      (l) => l.some((x) => x.node === '10.0.0.1:8080' && x.draining),
      'drain',
    );
    await step(
      a,
      b,
      (r) => r.setDraining('10.0.0.1:8080', false),
      (l) => l.every((x) => !x.draining),
      'undrain',
    );
    await step(
      b,
      a,
      (r) => r.remove('10.0.0.2:8080'),
      (l) => !l.some((x) => x.node === '10.0.0.2:8080'),
      'remove (through B)',
    );
    assert.deepEqual(b.last(), a.last());
    // Unchanged writes announce nothing.
    assert.equal(await a.r.setWeight('10.0.0.3:8080', 5), false);
    assert.equal(await a.r.setDraining('10.0.0.3:8080', false), false);
    const sorted = [...latencies].sort((x, y) => x - y);
    console.log(
      `# NOTIFY -> onMembers latency (write start to the other instance applied), ms: ${latencies.map((l) => l.toFixed(1)).join(', ')}; max ${sorted.at(-1)!.toFixed(1)}`,
    );
    assert.ok(sorted.at(-1)! < 1000);
    await a.r.stop();
    await b.r.stop();
  });

  it('the periodic re-read heals a change made behind its back (plain SQL, no NOTIFY)', async () => {
    const p = prefix('resync');
    const a = track(registry(p, { resyncMs: 300 }));
    await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
    const calls = a.lists.length;
    const t0 = performance.now();
    await sql(`INSERT INTO "${p}nodes" (address, weight) VALUES ('10.0.0.7:8080', 4)`);
    await eventually(() => assert.ok(a.nodes().includes('10.0.0.7:8080')), 2000, 10);
    console.log(`# resync picked up a silent change after ${(performance.now() - t0).toFixed(0)} ms (resyncMs 300)`);
    assert.equal(a.lists.length, calls + 1, 'one call for the change, none for the unchanged re-reads');
    // A row fnlb cannot route to is skipped (and said), not fatal.
    await sql(`INSERT INTO "${p}nodes" (address) VALUES ('not an address')`);
    await sql(`UPDATE "${p}nodes" SET draining = true WHERE address = '10.0.0.7:8080'`);
    await eventually(() => assert.ok(a.last()!.some((x) => x.node === '10.0.0.7:8080' && x.draining)), 2000, 10);
    assert.ok(a.logs.count('registry row skipped') >= 1);
    assert.ok(!a.nodes().includes('not an address'));
    await a.r.stop();
  });

  it('refuses the last node that gets requests, duplicates, unknown nodes and bad weights, as MemberTable does', async () => {
    const p = prefix('refuse');
    const a = track(registry(p));
    await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080', 1, true)]);
    const refused = async (p: Promise<unknown>, re: RegExp, kind: 'invalid' | 'unknown' = 'invalid'): Promise<void> => {
      await assert.rejects(p, (err: Error) => {
        assert.ok(err instanceof RegistryRefusal && err instanceof MembershipError, String(err));
        assert.match(err.message, re);
        assert.equal(err.kind, kind);
        return true;
      });
    };
    await refused(
      a.r.remove('10.0.0.1:8080'),
      /^node 10\.0\.0\.1:8080 is the last node that gets requests; add another before removing it$/,
    );
    await refused(a.r.setDraining('10.0.0.1:8080', true), /last node that gets requests; add another before draining it$/);
    await refused(a.r.add(e('http://10.0.0.1:8080')), /^node 10\.0\.0\.1:8080 is already a member$/);
    await refused(a.r.remove('10.0.0.9:8080'), /^node 10\.0\.0\.9:8080 is not a member$/, 'unknown');
    await refused(a.r.setWeight('10.0.0.9:8080', 2), /is not a member/, 'unknown');
    await refused(a.r.setWeight('10.0.0.1:8080', 0), /invalid weight 0; must be a positive number/);
    await refused(a.r.add(e('10.0.0.5:8080', Number.NaN)), /invalid weight/);
    await refused(a.r.add(e('https://10.0.0.5:8080')), /https nodes are not supported/);
    // A draining node can go; the list never loses its last routable node.
    assert.equal(await a.r.remove('10.0.0.2:8080'), true);
    assert.deepEqual(a.last(), [e('10.0.0.1:8080')]);
    const rows = await sql(`SELECT address FROM "${p}nodes"`);
    assert.equal(rows.length, 1);
    await a.r.stop();
  });

  it('two instances draining the last two nodes at once: one is refused', async () => {
    const p = prefix('drainrace');
    const a = track(registry(p));
    const b = track(registry(p));
    await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
    await b.r.start([]);
    const results = await Promise.allSettled([a.r.setDraining('10.0.0.1:8080', true), b.r.setDraining('10.0.0.2:8080', true)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rows = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${p}nodes" WHERE NOT draining`);
    assert.equal(Number(rows[0]!.n), 1);
    await a.r.stop();
    await b.r.stop();
  });
});

describe('registry: unreachable', () => {
  it('start against a closed port rejects at once with a clear error, password redacted', async () => {
    const port = await closedPort();
    const logs = memoryLogger();
    const r = new NodeRegistry({
      url: `postgres://fnlb:s3cret@127.0.0.1:${port}/test`,
      log: logs.log,
      onMembers: () => assert.fail('no list'),
    });
    const t0 = performance.now();
    await assert.rejects(
      withTimeout(r.start([e('10.0.0.1:8080')]), 8000, () => 'start hung'),
      (err: Error) => {
        assert.ok(err instanceof RegistryUnavailableError, String(err));
        assert.match(
          err.message,
          new RegExp(`^registry unreachable at postgres://fnlb:<redacted>@127\\.0\\.0\\.1:${port}/test: .*ECONNREFUSED`),
        );
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(r.up, false);
    await assert.rejects(r.add(e('10.0.0.2:8080')), RegistryUnavailableError);
  });

  it('a terminated connection: down (writes 503-able), logged once, back by itself with what changed meanwhile', async () => {
    const p = prefix('terminate');
    const app = `fnlb_test_${process.pid}_term`;
    // A first retry after ≥ 1 s leaves room to see the outage.
    const a = track(registry(p, { applicationName: app, backoffMs: { min: 2000, max: 4000 }, resyncMs: 600_000 }));
    const w = track(registry(p, { applicationName: `${app}_writer` }));
    await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
    await w.r.start([]);
    assert.ok((await terminateBackends(app)) >= 1);
    await eventually(() => assert.deepEqual(a.states, [false]), 2000, 10);
    assert.equal(a.r.up, false);
    await assert.rejects(
      a.r.add(e('10.0.0.5:8080')),
      (err: Error) => err instanceof RegistryUnavailableError && /unreachable/.test(err.message),
    );
    // The last list stays; another instance changes the registry meanwhile.
    assert.deepEqual(a.nodes(), ['10.0.0.1:8080', '10.0.0.2:8080']);
    await w.r.add(e('10.0.0.3:8080'));
    await eventually(() => assert.deepEqual(a.states, [false, true]), 8000, 20);
    assert.equal(a.r.up, true);
    await eventually(() => assert.deepEqual(a.nodes(), ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']), 1000, 10);
    assert.equal(a.logs.count('registry unreachable'), 1);
    assert.equal(a.logs.count('registry back'), 1);
    const warn = a.logs.lines.find((l) => l.msg === 'registry unreachable')!;
    assert.equal(warn.level, 40);
    // LISTEN again: a change through W arrives by notification.
    await w.r.remove('10.0.0.3:8080');
    await eventually(() => assert.deepEqual(a.nodes(), ['10.0.0.1:8080', '10.0.0.2:8080']), 1000, 10);
    assert.ok(await a.r.add(e('10.0.0.4:8080')));
    await a.r.stop();
    await w.r.stop();
  });

  it('an outage of several retries logs once, keeps the list, and converges when the database is back', async () => {
    const p = prefix('outage');
    const proxy = await cuttableProxy();
    try {
      const a = track(registry(p, { url: proxy.url, backoffMs: { min: 100, max: 400 }, connectTimeoutMs: 1000 }));
      const w = track(registry(p));
      await a.r.start([e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
      await w.r.start([]);
      await proxy.cut();
      await eventually(() => assert.equal(a.r.up, false), 2000, 10);
      await w.r.setWeight('10.0.0.2:8080', 7);
      // Over 2 s at 100..400 ms: several failed reconnects, one log line.
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(a.logs.count('registry reconnect failed') >= 3, `${a.logs.count('registry reconnect failed')} retries`);
      assert.equal(a.logs.count('registry unreachable'), 1);
      assert.deepEqual(a.last(), [e('10.0.0.1:8080'), e('10.0.0.2:8080')]);
      await proxy.restore();
      await eventually(() => assert.deepEqual(a.last(), [e('10.0.0.1:8080'), e('10.0.0.2:8080', 7)]), 3000, 20);
      assert.deepEqual(a.states, [false, true]);
      assert.equal(a.logs.count('registry back'), 1);
      await a.r.stop();
      await w.r.stop();
    } finally {
      await proxy.close();
    }
  });
});
