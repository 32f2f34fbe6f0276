/**
 * FaaS routing under load, black-box: demo nodes that model containers (at most a few per function, a
 * cold start for each new one, calls over the limit queue and report their wait as XXX-FXLB-WAIT), one
 * Zipf-hot function among others, a closed loop of clients through a real fnlb. Plain affinity queues
 * the hot function on its owner; bounded loads (--balance-factor) spill it to its next ranked node,
 * which warms once and then serves warm; wait-aware spill does the same from the nodes' reported waits.
 * Prints calls served, p50/p99 (ms) and cold starts while measuring, per configuration.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { cleanup, nodesArg, startBackends, startFnlb } from '../../harness/processes.js';
import { seededRandom } from '../../harness/random.js';

after(cleanup);

const CLIENTS = 16;
const WORK_MS = 25;
const CONTAINERS = 3;
const COLD_START_MS = 120;
const OTHER_FUNCTIONS = 8;
const HOT_SHARE = 0.75;
const WARMUP_MS = 1500;
const MEASURE_MS = 3000;

interface Sample {
  ms: number;
  cold: boolean;
  status: number;
}

function call(port: number, path: string, agent: http.Agent): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let cold = false;
        try {
          cold = (JSON.parse(Buffer.concat(chunks).toString()) as { cold?: boolean }).cold === true;
        } catch {
          // not the demo node's JSON: counted by status
        }
        resolve({ ms: performance.now() - t0, cold, status: res.statusCode ?? 0 });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface RunResult {
  requests: number;
  failed: number;
  p50: number;
  p99: number;
  coldStarts: number;
}

/** Warm up, then measure: CLIENTS keep one call each in flight; the hot function gets HOT_SHARE of them. */
async function run(flags: string[], seed: number): Promise<RunResult> {
  const backends = await startBackends(3, 'F', () => ({ demo: true, containers: CONTAINERS, coldStartMs: COLD_START_MS }));
  const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--access-log', 'off', ...flags]);
  const random = seededRandom(seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const pick = (): string => {
    if (random() < HOT_SHARE) return '/r/app/hot';
    // Zipf-like over the others: function i with weight 1/(i+1).
    const weights = Array.from({ length: OTHER_FUNCTIONS }, (_, i) => 1 / (i + 1));
    let r = random() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < OTHER_FUNCTIONS; i++) if ((r -= weights[i]!) <= 0) return `/r/app/f${i}`;
    return '/r/app/f0';
  };
  const samples: Sample[] = [];
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const end = measureFrom + MEASURE_MS;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const s = await call(lb.port, `${pick()}?work=${WORK_MS}`, agent);
        if (t >= measureFrom) samples.push(s);
      }
    }),
  );
  agent.destroy();
  await lb.stop();
  await Promise.all(backends.map((b) => b.stop()));
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    requests: samples.length,
    failed: samples.filter((s) => s.status !== 200).length,
    p50: percentile(ms, 0.5),
    p99: percentile(ms, 0.99),
    coldStarts: samples.filter((s) => s.cold).length,
  };
}

describe('FaaS routing under load: containers per function, cold starts, one hot function', () => {
  test("bounded loads cut the hot function's queueing (p99) at a bounded cost in cold starts", async () => {
    const plain = await run(['--wait-spill', 'off'], 7);
    const bounded = await run(['--wait-spill', 'off', '--balance-factor', '1.25'], 7);
    const waitAware = await run(['--wait-spill', '20ms:200ms'], 7);
    const row = (name: string, r: RunResult) =>
      `${name.padEnd(26)} ${String(r.requests).padStart(6)} ${r.p50.toFixed(0).padStart(6)} ${r.p99.toFixed(0).padStart(6)} ${String(r.coldStarts).padStart(6)}`;
    console.log(
      `${CLIENTS} clients, ${CONTAINERS} containers per function per node, cold start ${COLD_START_MS} ms, work ${WORK_MS} ms, hot share ${HOT_SHARE}`,
    );
    console.log(`${'configuration'.padEnd(26)} ${'calls'.padStart(6)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'cold'.padStart(6)}`);
    console.log(`${row('plain affinity', plain)}`);
    console.log(`${row('--balance-factor 1.25', bounded)}`);
    console.log(`${row('--wait-spill 20ms:200ms', waitAware)}`);
    for (const r of [plain, bounded, waitAware]) assert.equal(r.failed, 0);
    // The hot function queues behind its owner's few containers without a bound.
    assert.ok(bounded.p99 < plain.p99 * 0.8, `p99 ${bounded.p99.toFixed(0)} ms with the factor vs ${plain.p99.toFixed(0)} ms without`);
    assert.ok(bounded.requests > plain.requests, 'more calls served in the same time');
    // Wait-aware spill reacts to the waits the nodes report: it hands on a share of the hot function's calls
    // (the owner keeps some, so its queue and the p99 remain), serving more in the same time.
    assert.ok(waitAware.requests > plain.requests, `${waitAware.requests} calls with wait-aware spill vs ${plain.requests} without`);
    // Spills go to the same warm fallbacks: after the warm-up, few new containers start.
    assert.ok(bounded.coldStarts <= 3 * CONTAINERS, `${bounded.coldStarts} cold starts while measuring`);
  });
});
