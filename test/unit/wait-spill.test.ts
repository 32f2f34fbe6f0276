/**
 * Wait-aware spill (src/hashing/wait-spill.ts), with a fake clock and a seeded random: the owner keeps
 * everything below the threshold, hands on a growing share as its wait grows (to rank 1, then past rank
 * 1 to rank 2 when that one waits too), takes the function back as the waits fall, forgets cold
 * functions, and reads Go durations as fnproject nodes write them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseGoDuration as parseWaitDuration } from '../../src/engine/http1/go-duration.js';
import { WaitSpill } from '../../src/hashing/wait-spill.js';
import { seededRandom } from '../../harness/random.js';

const RANKING = [2, 0, 1];
const KEY = '/r/app/fn';

/** Share of 10,000 calls that go first to each node. */
function shares(w: WaitSpill): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < 10_000; i++) {
    const first = w.order(KEY, RANKING)[0]!;
    out.set(first, (out.get(first) ?? 0) + 1 / 10_000);
  }
  return out;
}

describe('wait-aware spill', () => {
  it('no report, or waits under the threshold: the ranking as it is (the same array)', () => {
    const now = 0;
    const w = new WaitSpill(3, undefined, () => now, seededRandom(1));
    assert.equal(w.order(KEY, RANKING), RANKING);
    w.report(KEY, 2, 400);
    assert.equal(w.order(KEY, RANKING), RANKING);
  });

  it('the owner hands on a share that grows with its wait, to rank 1; past 2 s it keeps 10%', () => {
    let now = 0;
    const w = new WaitSpill(3, undefined, () => now, seededRandom(2));
    w.report(KEY, 2, 1250); // halfway from 500 ms to 2 s: keeps 55%
    let s = shares(w);
    assert.ok(Math.abs(s.get(2)! - 0.55) < 0.03, `owner kept ${s.get(2)}`);
    assert.ok(Math.abs(s.get(0)! - 0.45) < 0.03, `rank 1 took ${s.get(0)}`);
    assert.equal(s.get(1), undefined);
    now = 1;
    w.report(KEY, 2, 5000);
    now = 100_000; // long after: reports move the average fully
    w.report(KEY, 2, 5000);
    s = shares(w);
    assert.ok(s.get(2)! < 0.15 && s.get(2)! > 0.05, `owner kept ${s.get(2)}`);
  });

  it('when rank 1 waits too, the function grows onto rank 2', () => {
    const now = 0;
    const w = new WaitSpill(3, undefined, () => now, seededRandom(3));
    w.report(KEY, 2, 3000);
    w.report(KEY, 0, 3000);
    const s = shares(w);
    assert.ok(s.get(1)! > 0.75, `rank 2 took ${s.get(1)}`);
    assert.ok(s.get(2)! < 0.15 && s.get(0)! < 0.15, JSON.stringify([...s]));
  });

  it('without reports the average fades and the owner takes the function back', () => {
    let now = 0;
    const w = new WaitSpill(3, undefined, () => now, seededRandom(4));
    w.report(KEY, 2, 3000);
    assert.ok(w.average(KEY, 2) > 2000);
    now = 30_000; // six time constants
    assert.ok(w.average(KEY, 2) < 500);
    assert.equal(w.order(KEY, RANKING), RANKING);
  });

  it('the average follows the reports with the time constant', () => {
    let now = 0;
    const w = new WaitSpill(3, { spillFrom: 500, spillFull: 2000, minKeep: 0.1, tauMs: 1000, maxFunctions: 100 }, () => now);
    w.report(KEY, 1, 1000);
    now = 1000;
    w.report(KEY, 1, 0);
    assert.ok(Math.abs(w.average(KEY, 1) - 1000 * Math.exp(-1)) < 1, `${w.average(KEY, 1)}`);
  });

  it('memory is bounded: functions not reported on for a generation are forgotten', () => {
    const w = new WaitSpill(3, { spillFrom: 500, spillFull: 2000, minKeep: 0.1, tauMs: 1000, maxFunctions: 100 });
    for (let i = 0; i < 10_000; i++) w.report(`/r/app/f${i}`, 0, 10);
    assert.ok(w.size <= 100, `${w.size}`);
    assert.ok(Number.isNaN(w.average('/r/app/f0', 0)));
    assert.ok(!Number.isNaN(w.average('/r/app/f9999', 0)));
  });

  it('the kept share falls monotonically with the wait and stays within [minKeep, 1]', () => {
    const w = new WaitSpill(3);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (a, b) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const k1 = w.keepShare(lo);
        const k2 = w.keepShare(hi);
        return k1 >= k2 && k2 >= 0.1 && k1 <= 1;
      }),
    );
  });

  it('Go durations as fnproject nodes send them', () => {
    assert.equal(parseWaitDuration('1.5s'), 1500);
    assert.equal(parseWaitDuration('250ms'), 250);
    assert.equal(parseWaitDuration('2m3.5s'), 123_500);
    assert.equal(parseWaitDuration('800us'), 0.8);
    assert.equal(parseWaitDuration('800µs'), 0.8);
    // As a Go node sends it: "µs" in UTF-8, read byte for byte from the header.
    assert.equal(parseWaitDuration(Buffer.from('244216µs', 'utf8').toString('latin1')), 244.216);
    assert.equal(parseWaitDuration(Buffer.from('1.5μs', 'utf8').toString('latin1')), 0.0015);
    assert.equal(parseWaitDuration('1h'), 3_600_000);
    assert.equal(parseWaitDuration('120ns'), 0.00012);
    assert.equal(parseWaitDuration('42'), 42);
    assert.ok(Number.isNaN(parseWaitDuration('')));
    assert.ok(Number.isNaN(parseWaitDuration('1.5 s')));
    assert.ok(Number.isNaN(parseWaitDuration('-1s')));
    assert.ok(Number.isNaN(parseWaitDuration('soon')));
  });
});
