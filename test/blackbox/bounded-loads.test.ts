/**
 * Bounded loads (--balance-factor), black-box: one hot function with many calls in flight at once, a
 * real fnlb in front of real backends that say which node answered. Without a factor its owner takes
 * every call; with 1.25 no node carries more than ⌈1.25 × average⌉, the calls spill along the function's
 * own ranking (always the same warm fallbacks), and nodes past what the load needs stay untouched.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { cleanup, nodesArg, startBackends, startFnlb, type BackendProcess } from '../../harness/processes.js';

after(cleanup);

const HOT = '/r/app/hot';
const CALLS = 20;

/** One call on its own connection; resolves with the node that answered. */
function call(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(String(res.headers['x-node'])) : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** CALLS calls of the hot function, all in flight together (each held 600 ms by its node): calls per node, in ranking order. */
async function hotBurst(port: number, backends: BackendProcess[]): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: CALLS }, (_, i) => call(port, `${HOT}?delay=600&i=${i}`)));
  const ranking = rankNodes(
    functionKey(HOT),
    backends.map((b) => ({ id: b.id, weight: 1 })),
  );
  return ranking.map((index) => answers.filter((node) => node === backends[index]!.name).length);
}

describe('bounded loads (--balance-factor)', () => {
  test('without a factor, the owner takes every call of a hot function', async () => {
    const backends = await startBackends(5);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--access-log', 'off']);
    assert.deepEqual(await hotBurst(lb.port, backends), [CALLS, 0, 0, 0, 0]);
  });

  test('with 1.25, no node passes the bound and the calls fill the ranking in order, leaving the last node out', async () => {
    const backends = await startBackends(5);
    const lb = await startFnlb([
      '--listen',
      '127.0.0.1:0',
      '--nodes',
      nodesArg(backends),
      '--access-log',
      'off',
      '--balance-factor',
      '1.25',
    ]);
    const perNode = await hotBurst(lb.port, backends);
    // ⌈1.25 × 20 / 5⌉ = 5 per node: four nodes carry the function, in its ranking order; the fifth is not needed.
    assert.deepEqual(perNode, [5, 5, 5, 5, 0]);
    // Once the burst is over, calls one at a time go to the owner again.
    const owner =
      backends[
        rankNodes(
          functionKey(HOT),
          backends.map((b) => ({ id: b.id, weight: 1 })),
        )[0]!
      ]!.name;
    for (let i = 0; i < 3; i++) assert.equal(await call(lb.port, HOT), owner);
  });
});
