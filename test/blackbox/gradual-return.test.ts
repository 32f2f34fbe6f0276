/**
 * Gradual return (--warmup), black-box: a node is killed, its functions move to their fallbacks; it is
 * restarted, and its functions come back over the warmup, a growing share at a time (never all at
 * once), until every one of them is home. Real processes; the backends say which node answered.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { cleanup, fastHealthArgs, nodesArg, startBackends, startFnlb } from '../../harness/processes.js';
import { eventually } from '../../harness/wait.js';

after(cleanup);

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
after(() => agent.destroy());

function nodeOf(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(String(res.headers['x-node'])) : reject(new Error(`${path}: ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`timeout ${path}`)));
    req.end();
  });
}

describe('gradual return after recovery (--warmup)', () => {
  test("a recovered node's functions return over the warmup, a growing share at a time, then all", async () => {
    const WARMUP_MS = 3000;
    const backends = await startBackends(4);
    const lb = await startFnlb([
      '--listen',
      '127.0.0.1:0',
      '--nodes',
      nodesArg(backends),
      ...fastHealthArgs(),
      '--warmup',
      `${WARMUP_MS}ms`,
    ]);
    const victim = backends[1]!;
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const owned = Array.from({ length: 400 }, (_, i) => `/r/app/fn${i}`).filter(
      (p) => backends[rankNodes(functionKey(p), nodes)[0]!] === victim,
    );
    assert.ok(owned.length > 50, `only ${owned.length} functions on the victim`);
    const shareHome = async (): Promise<number> => {
      let home = 0;
      for (const path of owned) if ((await nodeOf(lb.port, path)) === victim.name) home++;
      return home / owned.length;
    };
    assert.equal(await shareHome(), 1);

    await victim.kill('SIGKILL');
    await eventually(async () => assert.equal(await shareHome(), 0), 5000);

    await victim.restart();
    const samples: Array<{ ms: number; share: number }> = [];
    const t0 = Date.now();
    for (;;) {
      const share = await shareHome();
      samples.push({ ms: Date.now() - t0, share });
      if (share === 1 || Date.now() - t0 > WARMUP_MS + 4000) break;
    }
    const shown = samples.map((s) => `${s.ms}ms:${s.share.toFixed(2)}`).join(' ');
    assert.equal(samples.at(-1)!.share, 1, `not all home: ${shown}`);
    for (let i = 1; i < samples.length; i++) assert.ok(samples[i]!.share >= samples[i - 1]!.share, `share fell: ${shown}`);
    assert.ok(
      samples.some((s) => s.share > 0.05 && s.share < 0.95),
      `no partial return seen: ${shown}`,
    );
    // All home no sooner than most of the warmup after the first function returned.
    const firstBack = samples.find((s) => s.share > 0)!.ms;
    assert.ok(samples.at(-1)!.ms - firstBack >= WARMUP_MS * 0.6, `returned too fast: ${shown}`);
  });

  test('a node added at run time (admin API) takes its functions over gradually too', async () => {
    const WARMUP_MS = 2500;
    const backends = await startBackends(4);
    const lb = await startFnlb([
      '--listen',
      '127.0.0.1:0',
      '--nodes',
      nodesArg(backends.slice(0, 3)),
      ...fastHealthArgs(),
      '--warmup',
      `${WARMUP_MS}ms`,
    ]);
    const added = backends[3]!;
    const nodes = backends.map((b) => ({ id: b.id, weight: 1 }));
    const wins = Array.from({ length: 400 }, (_, i) => `/r/app/new${i}`).filter(
      (p) => backends[rankNodes(functionKey(p), nodes)[0]!] === added,
    );
    assert.ok(wins.length > 50, `only ${wins.length} functions for the new node`);
    const shareOnNew = async (): Promise<number> => {
      let on = 0;
      for (const path of wins) if ((await nodeOf(lb.port, path)) === added.name) on++;
      return on / wins.length;
    };
    assert.equal(await shareOnNew(), 0);
    const res = await fetch(`${lb.adminUrl}/v1/nodes`, { method: 'POST', body: JSON.stringify({ node: added.id }) });
    assert.equal(res.status, 201);
    const t0 = Date.now();
    const samples: Array<{ ms: number; share: number }> = [];
    for (;;) {
      const share = await shareOnNew();
      samples.push({ ms: Date.now() - t0, share });
      if (share === 1 || Date.now() - t0 > WARMUP_MS + 4000) break;
    }
    const shown = samples.map((s) => `${s.ms}ms:${s.share.toFixed(2)}`).join(' ');
    assert.equal(samples.at(-1)!.share, 1, `not all moved: ${shown}`);
    for (let i = 1; i < samples.length; i++) assert.ok(samples[i]!.share >= samples[i - 1]!.share, `share fell: ${shown}`);
    assert.ok(samples[0]!.share < 0.5, `moved at once: ${shown}`);
    assert.ok(samples.at(-1)!.ms >= WARMUP_MS * 0.6, `moved too fast: ${shown}`);
  });
});
