/**
 * Bounded loads (src/engine/node-loads.ts): the bound ⌈factor × (in flight + 1) / nodes up⌉ always
 * leaves room on some node, and a walk that fills nodes in ranking order never passes it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NodeLoads, pickWithRoom } from '../../src/engine/node-loads.js';

const ALL_UP = { isUp: () => true, warmth: () => 1 };

/** The exchange's first choice: the first node of the ranking with room, else the first node up. */
function choose(loads: NodeLoads, ranking: readonly number[]): number {
  return ranking[pickWithRoom(ranking, 0, null, ALL_UP, loads, ranking.length)]!;
}

describe('bounded loads', () => {
  it('the bound counts the new request: an idle cluster takes it on the owner', () => {
    const loads = new NodeLoads(3, 1.25);
    assert.equal(loads.hasRoom(0, 3), true);
    loads.start(0);
    // 2 in flight over 3 nodes at 1.25: ⌈2.5 / 3⌉ = 1, and node 0 has 1 already.
    assert.equal(loads.hasRoom(0, 3), false);
    assert.equal(loads.hasRoom(1, 3), true);
    loads.end(0);
    assert.equal(loads.hasRoom(0, 3), true);
    assert.equal(loads.of(0), 0);
  });

  it('the pick skips nodes that are down or taken, and takes a full node only when every node left is full', () => {
    const loads = new NodeLoads(4, 1);
    const ranking = [2, 0, 3, 1];
    const down = new Set([0]);
    const health = { isUp: (n: number) => !down.has(n), warmth: () => 1 };
    assert.equal(pickWithRoom(ranking, 0, null, health, loads, 3), 0); // node 2, idle
    loads.start(2); // 1 in flight over 3 nodes up at factor 1: ⌈2 / 3⌉ = 1, node 2 is full
    assert.equal(pickWithRoom(ranking, 0, null, health, loads, 3), 2); // node 0 is down: node 3
    assert.equal(pickWithRoom(ranking, 0, [2], health, loads, 3), 3); // node 3 already taken: node 1
    assert.equal(pickWithRoom(ranking, 0, [2, 3], health, loads, 3), 0); // only node 2 left, full: taken anyway
    down.add(2);
    assert.equal(pickWithRoom(ranking, 0, [2, 3], health, loads, 3), -1);
  });

  it('a warming node has room in proportion to its warmth: spilled calls reach it only as it warms', () => {
    const loads = new NodeLoads(3, 1.25);
    for (let i = 0; i < 8; i++) loads.start(0); // the owner is busy: ⌈1.25 × 9 / 3⌉ = 4, it is full
    const ranking = [0, 1, 2];
    const warming = (w: number) => ({ isUp: () => true, warmth: (n: number) => (n === 1 ? w : 1) });
    assert.equal(ranking[pickWithRoom(ranking, 0, null, warming(0), loads, 3)], 2); // node 1 just came back
    assert.equal(ranking[pickWithRoom(ranking, 0, null, warming(1), loads, 3)], 1); // node 1 warm
    assert.equal(loads.hasRoom(1, 3, 0.2), true); // ⌈0.2 × 3.75⌉ = 1: room for one
  });

  it('some node that is up always has room, whatever the loads (factor >= 1)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 12 }), fc.double({ min: 1, max: 4, noNaN: true }), (inFlight, factor) => {
        const loads = new NodeLoads(inFlight.length, factor);
        inFlight.forEach((n, node) => {
          for (let i = 0; i < n; i++) loads.start(node);
        });
        assert.ok(inFlight.some((_, node) => loads.hasRoom(node, inFlight.length)));
      }),
    );
  });

  it('one hot function filling the cluster: no node passes the bound, and a node is used only when every better-ranked one is full', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 1, max: 200 }),
        fc.constantFrom(1, 1.25, 1.5, 2),
        (nodes, requests, factor) => {
          const loads = new NodeLoads(nodes, factor);
          const ranking = Array.from({ length: nodes }, (_, i) => i);
          for (let r = 0; r < requests; r++) loads.start(choose(loads, ranking));
          const bound = Math.ceil((factor * requests) / nodes);
          const counts = ranking.map((n) => loads.of(n));
          assert.ok(Math.max(...counts) <= bound, `counts ${counts} over bound ${bound}`);
          for (let i = 1; i < nodes; i++) assert.ok(counts[i - 1]! >= counts[i]!, `counts ${counts} not in ranking order`);
        },
      ),
    );
  });
});
