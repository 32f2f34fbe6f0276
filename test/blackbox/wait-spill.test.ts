/**
 * Wait-aware spill (--wait-spill), black-box: a real fnlb in front of raw nodes that report how long
 * each call waited (XXX-FXLB-WAIT, as fnproject nodes do). While a function's owner reports long waits,
 * most of its calls go to the function's rank-1 node; the header never reaches a client; as the owner
 * reports short waits again the function comes home. With --wait-spill off the header is not ours.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { cleanup, startFnlb, type FnlbProcess } from '../../harness/processes.js';
import { startRawBackend, type RawBackend } from '../../harness/nodes/raw-backend.js';
import { httpRequest } from '../../harness/client/raw-client.js';

after(cleanup);
const raws: RawBackend[] = [];
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close()));
});

const FN = '/r/app/busy';

/** A node that answers "n<index>", reporting `wait()` as its XXX-FXLB-WAIT. */
async function node(index: number, wait: () => string): Promise<RawBackend> {
  const r = await startRawBackend({
    script: () => [{ write: `HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Node: n${index}\r\nXXX-FXLB-WAIT: ${wait()}\r\n\r\nn${index}` }],
  });
  raws.push(r);
  return r;
}

/** fnlb before the raw nodes, with rare TCP health checks (the raw nodes answer only the test's script). */
function balancer(nodes: RawBackend[], extra: string[] = []): Promise<FnlbProcess> {
  const args = ['--listen', '127.0.0.1:0', '--nodes', nodes.map((n) => n.id).join(','), '--access-log', 'off'];
  return startFnlb([...args, '--hc-path=', '--hc-interval', '10s', ...extra]);
}

async function calls(port: number, n: number): Promise<{ byNode: Map<string, number>; sawWaitHeader: boolean }> {
  const byNode = new Map<string, number>();
  let sawWaitHeader = false;
  for (let i = 0; i < n; i++) {
    const res = await httpRequest(port, { path: `${FN}?i=${i}` });
    assert.equal(res.status, 200);
    const who = String(res.headers['x-node']);
    byNode.set(who, (byNode.get(who) ?? 0) + 1);
    if (res.headers['xxx-fxlb-wait'] !== undefined) sawWaitHeader = true;
  }
  return { byNode, sawWaitHeader };
}

describe('wait-aware spill (--wait-spill)', () => {
  test("an owner reporting long waits hands most of the function's calls to its rank-1 node, then takes them back", async () => {
    let ownerWait = '3s';
    const nodes = [await node(0, () => '5ms'), await node(1, () => '5ms'), await node(2, () => '5ms')];
    const ranking = rankNodes(
      functionKey(FN),
      nodes.map((n) => ({ id: n.id, weight: 1 })),
    );
    // The owner reports what the test says; the others report short waits.
    const owner = nodes[ranking[0]!]!;
    owner.setScript(() => [
      { write: `HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Node: n${ranking[0]}\r\nXXX-FXLB-WAIT: ${ownerWait}\r\n\r\nn${ranking[0]}` },
    ]);
    const lb = await balancer(nodes);
    const first = await calls(lb.port, 200);
    assert.equal(first.sawWaitHeader, false, 'XXX-FXLB-WAIT reached a client');
    const ownerName = `n${ranking[0]}`;
    const rank1Name = `n${ranking[1]}`;
    // The first call has no average yet; after it, the owner keeps ~10% (its wait is past 2 s).
    assert.ok((first.byNode.get(ownerName) ?? 0) < 50, `owner kept ${first.byNode.get(ownerName)} of 200`);
    assert.ok((first.byNode.get(rank1Name) ?? 0) > 140, `rank 1 took ${first.byNode.get(rank1Name)} of 200`);

    // The owner's queue is gone: its short reports (on the ~10% it kept) pull its average down.
    ownerWait = '1ms';
    let home = 0;
    for (let round = 0; round < 40 && home < 95; round++) {
      await new Promise((r) => setTimeout(r, 250));
      home = (await calls(lb.port, 100)).byNode.get(ownerName) ?? 0;
    }
    assert.ok(home >= 95, `the owner took back only ${home} of 100`);
  });

  test('--wait-spill off: the header is an ordinary header and nothing spills', async () => {
    const nodes = [await node(0, () => '3s'), await node(1, () => '3s')];
    const lb = await balancer(nodes, ['--wait-spill', 'off']);
    const r = await calls(lb.port, 40);
    assert.equal(r.sawWaitHeader, true);
    assert.equal(r.byNode.size, 1, `calls spread: ${JSON.stringify([...r.byNode])}`);
  });
});
