/**
 * Gradual return after recovery (src/hashing/gradual-return.ts), with a fake clock: the share of a
 * recovered node's functions that walk to it first grows monotonically over the warmup and reaches all
 * of them by its end; the order is stable; nothing changes when no node is warming.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GradualReturn, returnSlot } from '../../src/hashing/gradual-return.js';
import { rankNodes } from '../../src/hashing/rendezvous.js';

const NODES = [0, 1, 2, 3].map((i) => ({ id: `10.0.0.${i + 1}:8080`, weight: 1 }));
const KEYS = Array.from({ length: 2000 }, (_, i) => `/r/app/fn${i}`);
/** The functions node 2 owns. */
const OWNED = KEYS.filter((k) => rankNodes(k, NODES)[0] === 2);

function returnedShare(g: GradualReturn): number {
  return OWNED.filter((k) => g.order(k, rankNodes(k, NODES))[0] === 2).length / OWNED.length;
}

describe('gradual return', () => {
  it('the returned share grows monotonically with time and reaches 100% at the end of the warmup', () => {
    let now = 1_000_000;
    const g = new GradualReturn(4, 30_000, () => now);
    g.nodeDown(2);
    g.nodeUp(2);
    assert.equal(g.active, true);
    let last = -1;
    for (let t = 0; t <= 30_000; t += 1000) {
      now = 1_000_000 + t;
      const share = returnedShare(g);
      assert.ok(share >= last, `share fell from ${last} to ${share} at ${t} ms`);
      // Slots are uniform: the share follows the elapsed fraction closely.
      assert.ok(Math.abs(share - t / 30_000) < 0.08, `share ${share} at ${t} ms`);
      last = share;
    }
    assert.equal(last, 1);
    assert.equal(g.active, false);
  });

  it('functions not yet returned walk past the warming node but keep it as the last resort', () => {
    let now = 0;
    const g = new GradualReturn(4, 10_000, () => now);
    g.nodeUp(2);
    now = 1; // almost nothing returned yet
    for (const key of OWNED.slice(0, 50)) {
      const ranking = rankNodes(key, NODES);
      const order = g.order(key, ranking);
      assert.deepEqual(order, [...ranking.filter((n) => n !== 2), 2]);
    }
  });

  it('no node warming, or warmup 0: the ranking is used as it is (the same array)', () => {
    const ranking = rankNodes('/r/a/b', NODES);
    assert.equal(new GradualReturn(4, 30_000).order('/r/a/b', ranking), ranking);
    const off = new GradualReturn(4, 0);
    off.nodeUp(1);
    assert.equal(off.active, false);
  });

  it('a node that goes down again while warming stops warming; coming back restarts its clock', () => {
    let now = 1;
    const g = new GradualReturn(4, 10_000, () => now);
    g.nodeUp(2);
    now = 8000;
    assert.ok(g.progress(2) > 0.7);
    g.nodeDown(2);
    assert.equal(g.active, false);
    g.nodeUp(2);
    assert.ok(g.progress(2) < 0.01);
  });

  it('return slots are stable and spread evenly', () => {
    fc.assert(fc.property(fc.string(), (key) => returnSlot(key) === returnSlot(key) && returnSlot(key) >= 0 && returnSlot(key) < 1));
    const below = KEYS.filter((k) => returnSlot(k) < 0.5).length / KEYS.length;
    assert.ok(Math.abs(below - 0.5) < 0.05, `${below}`);
  });
});
