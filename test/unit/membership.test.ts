/** Runtime membership: slots that stay, the changes each operation makes, snapshots, the state file's format. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseNodeAddress } from '../../src/config/parse-address.js';
import { functionKey } from '../../src/hashing/routing-key.js';
import { MemberTable, MembershipError, routableRanking } from '../../src/membership/member-table.js';
import { formatState, parseState } from '../../src/membership/state-file.js';
import { ConfigError } from '../../src/errors.js';

const addr = (port: number, weight = 1) => ({ ...parseNodeAddress(`127.0.0.1:${port}`), weight });

describe('MemberTable', () => {
  it('gives each node a slot for good: removed slots are not reused, added nodes go at the end', () => {
    const t = new MemberTable([addr(1), addr(2), addr(3)]);
    assert.deepEqual(t.remove('127.0.0.1:2'), [{ kind: 'removed', slot: 1 }]);
    assert.deepEqual(t.add(addr(4)), [{ kind: 'added', slot: 3 }]);
    assert.deepEqual(t.add(addr(2)), [{ kind: 'added', slot: 4 }], 'a node added again gets a new slot');
    assert.deepEqual(
      t.current().map((m) => [m.slot, m.address.id]),
      [
        [0, '127.0.0.1:1'],
        [2, '127.0.0.1:3'],
        [3, '127.0.0.1:4'],
        [4, '127.0.0.1:2'],
      ],
    );
    assert.equal(t.all()[1]!.removed, true);
    assert.equal(t.version, 3);
  });

  it('refuses what would break routing, with a reason', () => {
    const t = new MemberTable([addr(1), addr(2)]);
    assert.throws(() => t.add(addr(1)), /already a member/);
    assert.throws(
      () => t.remove('127.0.0.1:9'),
      (e: unknown) => e instanceof MembershipError && e.kind === 'unknown',
    );
    assert.throws(() => t.setWeight('127.0.0.1:1', 0), /invalid weight 0/);
    assert.throws(() => t.setWeight('127.0.0.1:1', NaN), /invalid weight/);
    t.drain('127.0.0.1:1');
    assert.throws(() => t.drain('127.0.0.1:2'), /last node that gets requests/);
    assert.throws(() => t.remove('127.0.0.1:2'), /last node that gets requests/);
    // A draining node can go: it gets nothing anyway.
    assert.deepEqual(t.remove('127.0.0.1:1'), [{ kind: 'removed', slot: 0 }]);
    assert.throws(() => t.replaceAll([{ address: addr(5), draining: true }]), /no node that gets requests/);
    assert.throws(
      () =>
        t.replaceAll([
          { address: addr(5), draining: false },
          { address: addr(5), draining: false },
        ]),
      /listed twice/,
    );
  });

  it('no-op changes change nothing and keep the version', () => {
    const t = new MemberTable([addr(1), addr(2)]);
    assert.deepEqual(t.setWeight('127.0.0.1:1', 1), []);
    assert.deepEqual(t.undrain('127.0.0.1:1'), []);
    assert.equal(t.version, 0);
  });

  it('replaceAll keeps the slots of the nodes it keeps', () => {
    const t = new MemberTable([addr(1), addr(2), addr(3)]);
    const changes = t.replaceAll([
      { address: addr(3, 2), draining: false },
      { address: addr(4), draining: false },
      { address: addr(1), draining: true },
    ]);
    assert.deepEqual(changes, [
      { kind: 'removed', slot: 1 },
      { kind: 'weight', slot: 2 },
      { kind: 'added', slot: 3 },
      { kind: 'draining', slot: 0 },
    ]);
    assert.equal(t.version, 1, 'one change of the table');
  });

  it('a follower fed snapshots ends in the same state and hears the same changes (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), port: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('remove' as const), port: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('drain' as const), port: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('undrain' as const), port: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('weight' as const), port: fc.integer({ min: 1, max: 12 }), weight: fc.integer({ min: 1, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (ops, every) => {
        const leader = new MemberTable([addr(1), addr(2)]);
        const follower = MemberTable.fromSnapshot(JSON.parse(JSON.stringify(leader.snapshot())));
        ops.forEach((o, i) => {
          const id = `127.0.0.1:${o.port}`;
          try {
            if (o.kind === 'add') leader.add(addr(o.port));
            else if (o.kind === 'remove') leader.remove(id);
            else if (o.kind === 'drain') leader.drain(id);
            else if (o.kind === 'undrain') leader.undrain(id);
            else leader.setWeight(id, o.weight);
          } catch (err) {
            if (!(err instanceof MembershipError)) throw err;
          }
          // Snapshots travel as JSON, and not every one arrives (a worker may miss some).
          if (i % every === 0) follower.applySnapshot(JSON.parse(JSON.stringify(leader.snapshot())));
          assert.ok(leader.routable().length >= 1, 'never without a routable node');
        });
        follower.applySnapshot(JSON.parse(JSON.stringify(leader.snapshot())));
        assert.deepEqual(follower.all(), leader.all());
        assert.equal(follower.version, leader.version);
        assert.deepEqual(routableRanking(follower).rank('/r/a/b'), routableRanking(leader).rank('/r/a/b'));
      }),
    );
  });

  it("the routable ranking reports slots and moves only the removed node's keys (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 12 }), fc.nat(), (n, pick) => {
        const t = new MemberTable(Array.from({ length: n }, (_, i) => addr(i + 1)));
        const before = routableRanking(t);
        const gone = pick % n;
        t.remove(`127.0.0.1:${gone + 1}`);
        const afterRemoval = routableRanking(t);
        for (let k = 0; k < 300; k++) {
          const key = functionKey(`/r/app/f${k}`);
          const was = before.rank(key);
          const now = afterRemoval.rank(key);
          assert.ok(!now.includes(gone));
          // Everyone else keeps their order: the removed slot is simply left out.
          assert.deepEqual(
            now,
            was.filter((s) => s !== gone),
          );
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('state file format', () => {
  it('round-trips the current members, weights and draining; removed ones are left out', () => {
    const t = new MemberTable([addr(1), addr(2), addr(3)]);
    t.setWeight('127.0.0.1:2', 2.5);
    t.drain('127.0.0.1:3');
    t.remove('127.0.0.1:1');
    const text = formatState(t.all());
    assert.deepEqual(JSON.parse(text), {
      format: 1,
      nodes: [
        { node: '127.0.0.1:2', weight: 2.5 },
        { node: '127.0.0.1:3', weight: 1, draining: true },
      ],
    });
    const back = parseState(text, 'x.json');
    assert.deepEqual(
      back.map((e) => [e.address.id, e.address.weight, e.draining]),
      [
        ['127.0.0.1:2', 2.5, false],
        ['127.0.0.1:3', 1, true],
      ],
    );
  });

  it('accepts the address spellings --nodes accepts, and defaults the weight to 1', () => {
    const back = parseState('{"format":1,"nodes":[{"node":"http://10.0.0.1:8080/base/"},{"node":"[::1]:9"}]}', 'x');
    assert.deepEqual(
      back.map((e) => [e.address.id, e.address.weight]),
      [
        ['10.0.0.1:8080/base', 1],
        ['[::1]:9', 1],
      ],
    );
  });

  for (const [text, why] of [
    ['', /invalid JSON/],
    ['null', /expected \{"format": 1/],
    ['{"format":2,"nodes":[]}', /expected \{"format": 1/],
    ['{"format":1,"nodes":{}}', /"nodes" is not a list/],
    ['{"format":1,"nodes":[{"node":"a:1","draining":"yes"}]}', /draining must be true or false/],
    ['{"format":1,"nodes":[{"address":"a:1"}]}', /nodes\[0\] has no "node" address/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseState(text, 'state.json'),
        (e: unknown) => e instanceof ConfigError && why.test(e.message),
      );
    });
  }
});
