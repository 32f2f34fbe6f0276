import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RelayedHealth } from '../../src/health/relayed-health.js';
import type { ToPrimary } from '../../src/cluster/messages.js';

describe('RelayedHealth (a worker)', () => {
  const setup = () => {
    const changes: { index: number; up: boolean; reason: string; silent: boolean }[] = [];
    const sent: ToPrimary[] = [];
    const h = new RelayedHealth(
      2,
      (index, up, reason, silent) => changes.push({ index, up, reason, silent }),
      (m) => sent.push(m),
    );
    return { h, changes, sent };
  };

  it("applies the primary's changes with whether the node went silent, once per change", () => {
    const { h, changes } = setup();
    h.receive({ fnlb: 'health', index: 1, up: false, reason: 'health check failed (timeout after 1000 ms)', silent: true });
    h.receive({ fnlb: 'health', index: 1, up: false, reason: 'again', silent: true });
    h.receive({ fnlb: 'health', index: 0, up: false, reason: 'health check failed (HTTP 503)', silent: false });
    h.receive({ fnlb: 'health', index: 1, up: true, reason: 'health check passed (HTTP 200)', silent: false });
    assert.deepEqual(changes, [
      { index: 1, up: false, reason: 'health check failed (timeout after 1000 ms)', silent: true },
      { index: 0, up: false, reason: 'health check failed (HTTP 503)', silent: false },
      { index: 1, up: true, reason: 'health check passed (HTTP 200)', silent: false },
    ]);
    assert.deepEqual([h.isUp(0), h.isUp(1)], [false, true]);
  });

  it("reports its own traffic's failure to the primary, silent or not, and goes down at once", () => {
    const { h, changes, sent } = setup();
    h.markDown(0, 'connect timeout', true);
    h.markDown(0, 'connect timeout', true); // already down: neither applied nor sent again
    h.markDown(1, 'connect ECONNREFUSED', false);
    assert.deepEqual(sent, [
      { fnlb: 'node-failed', index: 0, reason: 'connect timeout', silent: true },
      { fnlb: 'node-failed', index: 1, reason: 'connect ECONNREFUSED', silent: false },
    ]);
    assert.deepEqual(
      changes.map((c) => [c.index, c.up, c.silent]),
      [
        [0, false, true],
        [1, false, false],
      ],
    );
  });

  it('a snapshot sets every node, none of them silent', () => {
    const { h, changes } = setup();
    h.receive({ fnlb: 'health-snapshot', up: [false, true] });
    assert.deepEqual(changes, [{ index: 0, up: false, reason: 'state from primary', silent: false }]);
  });
});
