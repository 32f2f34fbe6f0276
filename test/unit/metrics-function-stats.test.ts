/** Space-Saving top-K: the heavy functions are found, counts stay within the bound, memory stays at K. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FunctionStats, mergeFunctions } from '../../src/metrics/index.js';

/** A Zipf-like stream (weight 1/rank^s) over `distinct` functions, drawn from a seeded generator. */
function zipfStream(distinct: number, s: number, length: number, seed: number): string[] {
  const weights = Array.from({ length: distinct }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) cdf.push((acc += w / total));
  let x = seed >>> 0 || 1;
  const out: string[] = [];
  for (let n = 0; n < length; n++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = (x >>> 0) / 2 ** 32;
    let lo = 0;
    let hi = distinct - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out.push(`fn${lo}`);
  }
  return out;
}

describe('FunctionStats (Space-Saving)', () => {
  it('reports every function over N/K with counts within the bound, in at most K entries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 60 }),
        fc.integer({ min: 50, max: 2000 }),
        fc.double({ min: 0.8, max: 1.6, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (k, distinct, s, seed) => {
          const n = 5000;
          const stream = zipfStream(distinct, s, n, seed);
          const stats = new FunctionStats(k);
          const truth = new Map<string, number>();
          stream.forEach((key, i) => {
            stats.record(key, i % 3, 0, null);
            truth.set(key, (truth.get(key) ?? 0) + 1);
            if (stats.size > k) throw new Error(`size ${stats.size} > ${k}`);
          });
          const reported = new Map(stats.snapshot().map((f) => [f.key, f]));
          assert.ok(reported.size <= k);
          // Requests the admission filter refused are counted in no entry.
          const counted = [...reported.values()].reduce((a, f) => a + f.requests, 0);
          assert.ok(counted <= n, `${counted} counted of ${n}`);
          if (truth.size <= k) assert.equal(counted, n, 'all kept: every request counted');
          // Space-Saving replaces the minimum, so no entry's error exceeds the smallest count kept.
          const min = Math.min(...[...reported.values()].map((f) => f.requests));
          for (const f of reported.values()) assert.ok(f.error <= min, `${f.key}: error ${f.error} > min ${min}`);
          for (const f of reported.values()) {
            const t = truth.get(f.key) ?? 0;
            assert.ok(f.error <= n / k, `error ${f.error} > N/K`);
            assert.ok(t <= f.requests && f.requests <= t + f.error, `${f.key}: true ${t}, reported ${f.requests} ± ${f.error}`);
            assert.ok(f.ownerHits <= t && f.ownerHits >= 0);
          }
          for (const [key, t] of truth) if (t > n / k) assert.ok(reported.has(key), `${key} (${t} > ${n / k}) missing`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts owner hits, spills, retries and nodes per function', () => {
    const stats = new FunctionStats(4);
    stats.record('f', 0, 0, null);
    stats.record('f', 2, 0, 'full');
    stats.record('f', 1, 0, 'wait');
    stats.record('f', 1, 0, 'down');
    stats.record('f', 1, 0, 'warmup');
    stats.record('f', 1, 0, 'retry');
    stats.record('f', -1, 0, null);
    assert.deepEqual(stats.snapshot(), [
      { key: 'f', requests: 7, error: 0, ownerHits: 1, spills: { full: 1, wait: 1, down: 1, warmup: 1 }, retries: 1, nodes: [1, 4, 1] },
    ]);
  });

  it('once full, a new function takes over the smallest entry when its estimate exceeds that entry', () => {
    const stats = new FunctionStats(2);
    const table = () => stats.snapshot().map((f) => [f.key, f.requests, f.error, f.ownerHits, f.nodes]);
    for (const key of ['a', 'a', 'a', 'b', 'c']) stats.record(key, 0, 0, null);
    // c has 1 request, no more than b's count: refused, b stays.
    assert.deepEqual(table(), [
      ['a', 3, 0, 3, [3]],
      ['b', 1, 0, 1, [1]],
    ]);
    stats.record('c', 0, 0, null);
    // Its second request: estimated 2 > 1, it takes b's entry over at 1 + 1, error 1 (true count 2 within it).
    assert.deepEqual(table(), [
      ['a', 3, 0, 3, [3]],
      ['c', 2, 1, 1, [1]],
    ]);
  });

  it('cold functions do not churn the table: a stream of one-off functions leaves the heavy ones exact', () => {
    const stats = new FunctionStats(10);
    let n = 0;
    for (let round = 0; round < 2000; round++) {
      for (let h = 0; h < 5; h++) stats.record(`hot${h}`, 0, 0, null);
      for (let c = 0; c < 20; c++) stats.record(`cold${round * 20 + c}`, 1, 0, null);
      n += 25;
    }
    const snap = stats.snapshot();
    assert.ok(snap.length <= 10);
    for (let h = 0; h < 5; h++) {
      const f = snap.find((x) => x.key === `hot${h}`);
      assert.ok(f, `hot${h} kept`);
      // Kept from its first request (the table was not full): exact, no error.
      assert.deepEqual([f.requests, f.error, f.nodes], [2000, 0, [2000]]);
    }
    // Each cold function came once (40,000 of them, 80% of the requests): the filter lets in only those
    // whose sketch slots other functions share enough to reach the minimum, a few per cent.
    const coldCounted = snap.reduce((a, f) => a + f.requests, 0) - 5 * 2000;
    assert.ok(coldCounted <= 0.05 * (n - 10_000), `${coldCounted} cold requests counted`);
  });

  it('merges by key and keeps the top K', () => {
    const a = new FunctionStats(3);
    const b = new FunctionStats(3);
    for (const key of ['x', 'x', 'y', 'z']) a.record(key, 0, 0, null);
    for (const key of ['y', 'y', 'w']) b.record(key, 1, 0, 'down');
    const merged = mergeFunctions([a.snapshot(), b.snapshot()], 2);
    assert.deepEqual(
      merged.map((f) => [f.key, f.requests, f.nodes, f.spills.down]),
      [
        ['y', 3, [1, 2], 2],
        ['x', 2, [2], 0],
      ],
    );
  });

  it('refuses a K that is not a positive integer', () => {
    assert.throws(() => new FunctionStats(0), RangeError);
    assert.throws(() => new FunctionStats(1.5), RangeError);
  });
});
