/**
 * The retry budget (src/engine/retry-budget.ts) with a fake clock: its examples, then its bound as a
 * property over any sequence of requests and retries.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { RetryBudget } from '../../src/engine/retry-budget.js';

describe('retry budget', () => {
  it('a quiet cluster: the floor (per second × window) and nothing more', () => {
    const b = new RetryBudget(0.2, 10, 10_000); // 100 retries per 10 s without requests
    assert.equal(b.floor, 100);
    let now = 1_000_000;
    for (let i = 0; i < 100; i++) assert.ok(b.tryRetry(now), `retry ${i}`);
    assert.equal(b.tryRetry(now), false);
    // Still spent 9.9 s later (same window)...
    now += 9_000;
    assert.equal(b.tryRetry(now), false);
    // ...free again once the bucket of those retries left the window.
    now += 1_000;
    assert.ok(b.tryRetry(now));
  });

  it('20% of the requests on top of the floor', () => {
    const b = new RetryBudget(0.2, 0, 10_000);
    const now = 5_000;
    for (let i = 0; i < 50; i++) b.request(now);
    for (let i = 0; i < 10; i++) assert.ok(b.tryRetry(now + i), `retry ${i}`);
    assert.equal(b.tryRetry(now + 20), false);
    b.request(now + 30);
    b.request(now + 30);
    b.request(now + 30);
    b.request(now + 30);
    b.request(now + 30);
    assert.ok(b.tryRetry(now + 40));
    assert.equal(b.tryRetry(now + 40), false);
    assert.deepEqual(b.window(), { requests: 55, retries: 11 });
  });

  it('0% and no floor: no retry at all', () => {
    const b = new RetryBudget(0, 0, 10_000);
    for (let i = 0; i < 1000; i++) b.request(i);
    assert.equal(b.tryRetry(1000), false);
  });

  it('off (Infinity): every retry, even with no request at all', () => {
    const b = new RetryBudget(Infinity, 0, 10_000);
    for (let i = 0; i < 10_000; i++) assert.ok(b.tryRetry(i));
  });

  it('a long pause empties the window; the clock going back changes nothing', () => {
    const b = new RetryBudget(0, 1, 1_000); // 1 retry per second
    assert.ok(b.tryRetry(10_000));
    assert.equal(b.tryRetry(10_000), false);
    assert.equal(b.tryRetry(9_000), false);
    assert.ok(b.tryRetry(10_000_000));
    assert.deepEqual(b.window(), { requests: 0, retries: 1 });
  });
});

/** One event: a request, or a retry asked, `dt` ms after the previous one. */
const events = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 700 }), retry: fc.boolean() }), { maxLength: 400 });

describe('retry budget: the bound', () => {
  it('in the window of every accepted retry, retries ≤ floor + ratio × requests; a refusal only at the bound', () => {
    fc.assert(
      fc.property(
        events,
        fc.constantFrom(0, 0.1, 0.2, 1),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(1_000, 2_000, 10_000),
        fc.integer({ min: 0, max: 1e9 }),
        (evs, ratio, minPerSecond, windowMs, start) => {
          const b = new RetryBudget(ratio, minPerSecond, windowMs);
          const bucket = b.bucketMs;
          const log: Array<{ at: number; retry: boolean }> = [];
          let now = start;
          for (const e of evs) {
            now += e.dt;
            // The window at `now`: the current bucket and the RetryBudget.BUCKETS - 1 before it.
            const from = now - (now % bucket) - (RetryBudget.BUCKETS - 1) * bucket;
            const inWindow = log.filter((x) => x.at >= from);
            const requests = inWindow.filter((x) => !x.retry).length;
            const retries = inWindow.length - requests;
            const limit = b.floor + ratio * requests;
            if (!e.retry) {
              b.request(now);
              log.push({ at: now, retry: false });
              continue;
            }
            const ok = b.tryRetry(now);
            if (ok) {
              log.push({ at: now, retry: true });
              assert.ok(retries + 1 <= limit, `accepted past the bound: ${retries + 1} > ${limit}`);
            } else {
              assert.ok(retries + 1 > limit, `refused under the bound: ${retries + 1} <= ${limit}`);
            }
            assert.deepEqual(b.window(), { requests, retries: retries + (ok ? 1 : 0) });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
