import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashBothSeeds, hashString, rankNodes, Ranking, type WeightedNode } from '../../src/hashing/rendezvous.js';
import { GenerationalCache } from '../../src/hashing/generational-cache.js';
import { functionKey, headerKey } from '../../src/hashing/routing-key.js';

const KEYS = 10_000;
const keyOf = (i: number): string => `/r/app${i % 97}/fn${i}`;
const nodesOf = (n: number, weight = 1): WeightedNode[] => Array.from({ length: n }, (_, i) => ({ id: `10.0.0.${i + 1}:8080`, weight }));
const ownerId = (key: string, nodes: readonly WeightedNode[]): string => nodes[rankNodes(key, nodes)[0]].id;
const orderIds = (key: string, nodes: readonly WeightedNode[]): string[] => rankNodes(key, nodes).map((i) => nodes[i].id);

/** Fraction of KEYS owned by each node id. */
function shares(nodes: readonly WeightedNode[]): Map<string, number> {
  const counts = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < KEYS; i++) {
    const id = ownerId(keyOf(i), nodes);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const [id, c] of counts) counts.set(id, c / KEYS);
  return counts;
}

const uniqueIds = (min: number, max: number) =>
  fc.uniqueArray(fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }), { minLength: min, maxLength: max });

describe('hashString', () => {
  it('matches golden values (changing them reshuffles every deployed fleet)', () => {
    assert.equal(hashString('', 0), 0);
    assert.equal(hashString('a', 0), 1867108634);
    assert.equal(hashString('ab', 0), 374890698);
    assert.equal(hashString('abc', 1), 2934356416);
    assert.equal(hashString('héllo wörld', 0x9e3779b9), 3206296295);
    assert.equal(hashString('\u{1F600}', 42), 905716006);
  });

  it('one pass for both ranking seeds equals two passes (any string, odd and even lengths)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        assert.deepEqual(hashBothSeeds(s), [hashString(s, 0x9e3779b9), hashString(s, 0x85ebca77)]);
      }),
      { numRuns: 500 },
    );
  });

  it('is an unsigned 32-bit integer and depends on the seed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
        const h = hashString(s, seed);
        return Number.isInteger(h) && h >= 0 && h <= 0xffffffff && h === hashString(s, seed);
      }),
    );
    assert.notEqual(hashString('/r/app/fn', 1), hashString('/r/app/fn', 2));
  });
});

describe('rankNodes', () => {
  const three = ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'].map((id) => ({ id, weight: 1 }));
  const goldenKeys = ['/r/myapp/hello', '/r/myapp/a/b', '/v1/apps', '/version', 'user-42'];

  it('matches a golden vector (catches cross-process and cross-version changes)', () => {
    assert.deepEqual(
      goldenKeys.map((k) => rankNodes(k, three)),
      [
        [1, 0, 2],
        [1, 0, 2],
        [1, 2, 0],
        [0, 2, 1],
        [1, 2, 0],
      ],
    );
    const weighted = three.map((n, i) => ({ ...n, weight: i + 1 }));
    assert.deepEqual(
      goldenKeys.map((k) => rankNodes(k, weighted)),
      [
        [1, 2, 0],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ],
    );
  });

  it('is a full permutation, deterministic, and independent of the node list order', () => {
    fc.assert(
      fc.property(uniqueIds(1, 12), fc.string(), fc.nat(), (ids, key, rot) => {
        const nodes = ids.map((id) => ({ id, weight: 1 }));
        const order = rankNodes(key, nodes);
        assert.deepEqual(
          [...order].sort((a, b) => a - b),
          nodes.map((_, i) => i),
        );
        assert.deepEqual(rankNodes(key, nodes), order);
        const r = rot % nodes.length;
        const rotated = [...nodes.slice(r), ...nodes.slice(0, r)].reverse();
        assert.deepEqual(orderIds(key, rotated), orderIds(key, nodes));
      }),
    );
  });

  it('removing a node keeps the relative order of all others (property, weighted too)', () => {
    fc.assert(
      fc.property(
        uniqueIds(2, 10),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 10, maxLength: 10 }),
        fc.string(),
        fc.nat(),
        (ids, ws, key, k) => {
          const nodes = ids.map((id, i) => ({ id, weight: ws[i] }));
          const dead = nodes[k % nodes.length].id;
          const without = nodes.filter((n) => n.id !== dead);
          assert.deepEqual(
            orderIds(key, without),
            orderIds(key, nodes).filter((id) => id !== dead),
          );
        },
      ),
    );
  });

  it('adding a node only inserts it into the existing order (property)', () => {
    fc.assert(
      fc.property(uniqueIds(2, 10), fc.string(), (ids, key) => {
        const nodes = ids.map((id) => ({ id, weight: 1 }));
        const before = orderIds(key, nodes.slice(1));
        assert.deepEqual(
          orderIds(key, nodes).filter((id) => id !== nodes[0].id),
          before,
        );
      }),
    );
  });

  it('removing one of 5 nodes moves only its keys, each to its old rank-1, spread over all survivors', () => {
    const nodes = nodesOf(5);
    const dead = nodes[2].id;
    const survivors = nodes.filter((n) => n.id !== dead);
    const gained = new Map<string, number>(survivors.map((n) => [n.id, 0]));
    let deadKeys = 0;
    for (let i = 0; i < KEYS; i++) {
      const key = keyOf(i);
      const [first, second] = orderIds(key, nodes);
      const now = ownerId(key, survivors);
      if (first !== dead) {
        assert.equal(now, first, `key ${key} moved although its owner survived`);
      } else {
        assert.equal(now, second, `key ${key} did not go to its rank-1 node`);
        gained.set(now, (gained.get(now) ?? 0) + 1);
        deadKeys++;
      }
    }
    assert.ok(deadKeys > KEYS * 0.17 && deadKeys < KEYS * 0.23, `dead node owned ${deadKeys}`);
    for (const [id, c] of gained) {
      const share = c / deadKeys;
      assert.ok(share >= 0.2 && share <= 0.3, `${id} took ${(share * 100).toFixed(1)}% of the dead node's keys`);
    }
  });

  it('adding a 5th node moves about 1/5 of the keys, all to the new node', () => {
    const nodes = nodesOf(5);
    const old = nodes.slice(0, 4);
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      const before = ownerId(keyOf(i), old);
      const after = ownerId(keyOf(i), nodes);
      if (before !== after) {
        assert.equal(after, nodes[4].id);
        moved++;
      }
    }
    assert.ok(Math.abs(moved / KEYS - 1 / 5) < 0.02, `moved ${moved} of ${KEYS}`);
  });

  it('3 nodes each own 33% ± 3% of 10,000 keys', () => {
    for (const [id, share] of shares(nodesOf(3))) {
      assert.ok(Math.abs(share - 1 / 3) <= 0.03, `${id} owns ${(share * 100).toFixed(1)}%`);
    }
  });

  it('a weight-2 node among weight-1 nodes gets about twice the share', () => {
    const nodes = nodesOf(4);
    nodes[0] = { ...nodes[0], weight: 2 };
    const s = shares(nodes);
    const heavy = s.get(nodes[0].id)!;
    assert.ok(Math.abs(heavy - 0.4) <= 0.03, `heavy node owns ${(heavy * 100).toFixed(1)}%`);
    for (const n of nodes.slice(1)) {
      const light = s.get(n.id)!;
      assert.ok(Math.abs(light - 0.2) <= 0.03, `${n.id} owns ${(light * 100).toFixed(1)}%`);
      assert.ok(heavy / light > 1.7 && heavy / light < 2.3, `ratio ${heavy / light}`);
    }
  });

  it('equal weights rank exactly as the weighted formula does (no-log shortcut is consistent)', () => {
    const uniform = nodesOf(6, 3);
    const nearly = uniform.map((n, i) => (i === 5 ? { ...n, weight: 3 * (1 + 1e-12) } : n));
    for (let i = 0; i < 2000; i++) assert.deepEqual(rankNodes(keyOf(i), nearly), rankNodes(keyOf(i), uniform));
  });

  it('handles 0 and 1 nodes and rejects bad weights', () => {
    assert.deepEqual(rankNodes('/x', []), []);
    assert.deepEqual(rankNodes('/x', nodesOf(1)), [0]);
    for (const weight of [0, -1, NaN, Infinity]) {
      assert.throws(() => rankNodes('/x', [{ id: 'a', weight }]), RangeError);
    }
  });
});

describe('Ranking', () => {
  it('answers as rankNodes, returns the same array on a hit, and stays bounded', () => {
    const nodes = nodesOf(20);
    nodes[3] = { ...nodes[3], weight: 2.5 };
    const ranking = new Ranking(nodes, 64);
    assert.equal(ranking.size, 20);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 1000; i++) {
        const key = keyOf(i);
        const r = ranking.rank(key);
        assert.deepEqual(r, rankNodes(key, nodes));
        assert.equal(ranking.rank(key), r, 'hit must return the cached array');
        assert.ok(ranking.cacheSize <= 64);
      }
    }
  });

  it('ranks up to 8 nodes directly, without caching, exactly as rankNodes', () => {
    for (let n = 1; n <= 9; n++) {
      const nodes = nodesOf(n);
      if (n > 2) nodes[1] = { ...nodes[1], weight: 3 };
      const ranking = new Ranking(nodes, 64);
      for (let i = 0; i < 300; i++) assert.deepEqual(ranking.rank(keyOf(i)), rankNodes(keyOf(i), nodes));
      assert.equal(ranking.cacheSize === 0, n <= 8);
    }
  });

  it('small clusters share one array per order, labelled, and stay right past the number of orders kept', () => {
    // 3 nodes: at most 3! = 6 distinct orders, each one array, labels applied.
    const three = nodesOf(3);
    const labels = [7, 2, 9];
    const labelled = new Ranking(three, 64, labels);
    const seen = new Set<readonly number[]>();
    for (let i = 0; i < 2000; i++) {
      const r = labelled.rank(keyOf(i));
      assert.deepEqual(
        r,
        rankNodes(keyOf(i), three).map((k) => labels[k]),
      );
      seen.add(r);
    }
    assert.equal(seen.size, 6, 'one shared array per order of 3 nodes');
    // 8 nodes have 40,320 orders, more than are kept: later ones are fresh arrays, still exact.
    const eight = nodesOf(8);
    const ranking = new Ranking(eight, 64);
    const arrays = new Set<readonly number[]>();
    for (let i = 0; i < 30000; i++) {
      const r = ranking.rank(keyOf(i));
      assert.deepEqual(r, rankNodes(keyOf(i), eight));
      arrays.add(r);
    }
    const orders = new Set([...arrays].map((r) => r.join())).size;
    assert.ok(orders > 4096, `only ${orders} orders: the cap was not reached`);
    assert.ok(arrays.size > orders, 'past the cap, orders get fresh arrays');
  });

  it('works with no nodes and validates its cache capacity', () => {
    assert.deepEqual(new Ranking([]).rank('/x'), []);
    assert.throws(() => new Ranking(nodesOf(2), 1), RangeError);
  });
});

describe('GenerationalCache', () => {
  it('never exceeds capacity and never returns a stale or foreign value (model check)', () => {
    const op = fc.oneof(
      fc.record({ set: fc.constant(true), key: fc.integer({ min: 0, max: 40 }), value: fc.integer() }),
      fc.record({ set: fc.constant(false), key: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const cache = new GenerationalCache<number>(capacity);
        const model = new Map<string, number>();
        for (const o of ops) {
          const key = String(o.key);
          if ('value' in o) {
            cache.set(key, o.value);
            model.set(key, o.value);
          } else {
            const got = cache.get(key);
            if (got !== undefined) assert.equal(got, model.get(key));
          }
          assert.ok(cache.size <= capacity);
        }
      }),
    );
  });

  it('keeps a key in steady use across rotations and evicts cold ones', () => {
    const cache = new GenerationalCache<string>(10);
    cache.set('hot', 'h');
    cache.set('cold', 'c');
    for (let i = 0; i < 1000; i++) {
      cache.set(`k${i}`, 'v');
      assert.equal(cache.get('hot'), 'h');
    }
    assert.equal(cache.get('cold'), undefined);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.get('hot'), undefined);
  });

  it('rejects capacities below 2', () => {
    for (const c of [0, 1, 2.5, NaN]) assert.throws(() => new GenerationalCache(c), RangeError);
  });
});

describe('routing keys', () => {
  it('functionKey: the path without query or fragment', () => {
    const cases: [string, string][] = [
      ['/r/myapp/hello?x=1', '/r/myapp/hello'],
      ['/r/myapp/a/b?q', '/r/myapp/a/b'],
      ['/r/myapp/hello', '/r/myapp/hello'],
      ['/r/myapp/hello#frag', '/r/myapp/hello'],
      ['/r/myapp/hello#f?x', '/r/myapp/hello'],
      ['/r/myapp/hello?a=1#f', '/r/myapp/hello'],
      ['/r/myapp/hello?', '/r/myapp/hello'],
      ['/r/myapp/hello?next=/r/other/x', '/r/myapp/hello'],
      ['/v1/apps?page=2', '/v1/apps'],
      ['/version', '/version'],
      ['/', '/'],
      ['?x', '/'],
      ['', '/'],
      ['*', '*'],
      ['http://lb:8081/r/myapp/hello?x=1', '/r/myapp/hello'],
      ['HTTPS://lb/r/a/b', '/r/a/b'],
      ['http://lb:8081', '/'],
      ['http://lb:8081?x', '/'],
    ];
    for (const [target, key] of cases) assert.equal(functionKey(target), key, target);
  });

  it('functionKey: all calls of one function share a key (property)', () => {
    const segment = fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom('a', 'b', '-', '_', '.', '1') });
    fc.assert(
      fc.property(segment, fc.array(segment, { minLength: 1, maxLength: 4 }), fc.string(), (app, route, query) => {
        const path = `/r/${app}/${route.join('/')}`;
        assert.equal(functionKey(`${path}?${query}`), path);
        assert.equal(functionKey(path), path);
      }),
    );
  });

  it('headerKey: the header value, else the function key of the target', () => {
    assert.equal(headerKey('tenant-7', '/r/a/b?x'), 'tenant-7');
    assert.equal(headerKey(undefined, '/r/a/b?x'), '/r/a/b');
    assert.equal(headerKey('', '/r/a/b?x'), '/r/a/b');
  });
});
