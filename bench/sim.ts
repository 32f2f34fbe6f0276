/**
 * A simulated function cluster driven through fnlb's own routing code (the rendezvous ranking, the
 * bounded-load pick and the gradual return), to compare routing strategies on what a FaaS cluster
 * cares about: cold starts, how evenly nodes are loaded, queueing, and what a recovery costs.
 *
 *   npm run sim [-- --seconds 60 --seed 1 --rate 1000 --slots 16 --containers 128 --service-ms 20 --cold-ms 250 --zipf 1.3]
 *
 * The model: nodes with a fixed number of execution slots and a cache of hot containers (one per
 * function execution; an idle one is reused, the least recently used idle one evicted when the node
 * holds too many); a call that finds no idle container of its function on its node pays a cold start.
 * Functions have Zipf popularity; calls arrive as a Poisson stream; a node is down for a while in the
 * middle of the run and comes back. Everything is seeded: the same flags give the same table.
 */
import { parseArgs } from 'node:util';
import { seededRandom } from '../harness/random.js';
import { NodeLoads, pickWithRoom } from '../src/engine/node-loads.js';
import { GradualReturn } from '../src/hashing/gradual-return.js';
import { Ranking } from '../src/hashing/rendezvous.js';
import { DEFAULT_WAIT_SPILL, WaitSpill } from '../src/hashing/wait-spill.js';

interface Settings {
  seconds: number;
  seed: number;
  nodes: number;
  slots: number;
  containers: number;
  functions: number;
  zipf: number;
  rate: number;
  serviceMs: number;
  coldMs: number;
}

interface Strategy {
  name: string;
  balanceFactor: number;
  warmupMs: number;
  /** Wait-aware spill thresholds (ms), or null. */
  waitSpill?: { from: number; full: number };
}

const STRATEGIES: Strategy[] = [
  { name: 'plain HRW', balanceFactor: 0, warmupMs: 0 },
  { name: 'bounded loads 1.25', balanceFactor: 1.25, warmupMs: 0 },
  { name: 'wait-aware 50ms:200ms', balanceFactor: 0, warmupMs: 0, waitSpill: { from: 50, full: 200 } },
  { name: 'gradual return 10s', balanceFactor: 0, warmupMs: 10_000 },
  { name: 'bounded 1.25 + gradual 10s', balanceFactor: 1.25, warmupMs: 10_000 },
];

/** Cumulative Zipf weights: function i has weight 1 / (i + 1)^s. */
function zipfTable(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return cdf;
}

function pickZipf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A min-heap of events by time. */
class Events<T extends { at: number }> {
  private readonly items: T[] = [];
  get size(): number {
    return this.items.length;
  }
  push(e: T): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= e.at) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }
  pop(): T {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]!.at < a[l]!.at ? l + 1 : l;
        if (a[c]!.at >= last.at) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

interface Call {
  fn: number;
  arrived: number;
}

class SimNode {
  busy = 0;
  readonly queue: Call[] = [];
  /** Idle hot containers, least recently used first (function ids); plus those running. */
  readonly idle: number[] = [];
  running = 0;
  served = 0;
  up = true;
}

interface Result {
  calls: number;
  coldStarts: number;
  coldAfterRecovery: number;
  /** The most cold starts in one second of those 15 s: the storm a recovery causes. */
  peakColdPerSecond: number;
  maxOverMean: number;
  p99QueueMs: number;
  movedBack: number;
}

function simulate(s: Settings, strategy: Strategy): Result {
  const rnd = seededRandom(s.seed);
  const cdf = zipfTable(s.functions, s.zipf);
  const ids = Array.from({ length: s.nodes }, (_, i) => ({ id: `10.0.0.${i + 1}:8080`, weight: 1 }));
  const ranking = new Ranking(ids);
  const keys = Array.from({ length: s.functions }, (_, i) => `/r/app/fn${i}`);
  const nodes = Array.from({ length: s.nodes }, () => new SimNode());
  let now = 0;
  const loads = new NodeLoads(s.nodes, strategy.balanceFactor || 1);
  const gradual = new GradualReturn(s.nodes, strategy.warmupMs, () => now);
  const health = { isUp: (i: number) => nodes[i]!.up, warmth: (i: number) => gradual.progress(i) };
  const waits =
    strategy.waitSpill === undefined
      ? null
      : new WaitSpill(
          s.nodes,
          { ...DEFAULT_WAIT_SPILL, spillFrom: strategy.waitSpill.from, spillFull: strategy.waitSpill.full },
          () => now,
          // Its own generator, so the arrivals and service times stay those of the other strategies.
          seededRandom(s.seed + 1),
        );
  const end = s.seconds * 1000;
  // The first fifth warms the cluster up (every function starts cold) and is not measured.
  const measureFrom = end * 0.2;
  const downAt = end * 0.4;
  const upAt = end * 0.6;
  const victim = 1;
  const waitTimes: number[] = [];
  let coldStarts = 0;
  let coldAfterRecovery = 0;
  const coldPerSecond: number[] = [];
  let movedBack = 0;
  let calls = 0;
  type Ev = { at: number; kind: 'arrive' } | { at: number; kind: 'done'; node: number; fn: number } | { at: number; kind: 'down' | 'up' };
  const events = new Events<Ev>();
  events.push({ at: 0, kind: 'arrive' });
  events.push({ at: downAt, kind: 'down' });
  events.push({ at: upAt, kind: 'up' });

  const start = (n: number, call: Call): void => {
    // (n is the node the call runs on; its report below feeds the wait-aware strategy.)
    const node = nodes[n]!;
    node.busy++;
    const at = node.idle.lastIndexOf(call.fn);
    let ms = -Math.log(1 - rnd()) * s.serviceMs;
    const measured = call.arrived >= measureFrom;
    if (at !== -1) node.idle.splice(at, 1);
    else {
      if (measured) coldStarts++;
      if (now >= upAt && now < upAt + 15_000) {
        coldAfterRecovery++;
        const second = Math.floor((now - upAt) / 1000);
        coldPerSecond[second] = (coldPerSecond[second] ?? 0) + 1;
      }
      ms += s.coldMs;
      // A new container: the node holds at most `containers`; the least recently used idle one goes.
      if (node.idle.length + node.running >= s.containers && node.idle.length > 0) node.idle.shift();
    }
    node.running++;
    if (measured) waitTimes.push(now - call.arrived);
    // The node says how long the call waited before it started, as fnproject nodes do.
    waits?.report(keys[call.fn]!, n, now - call.arrived);
    events.push({ at: now + ms, kind: 'done', node: n, fn: call.fn });
  };

  while (events.size > 0) {
    const ev = events.pop();
    now = ev.at;
    if (ev.kind === 'arrive') {
      if (now >= end) continue;
      events.push({ at: now - Math.log(1 - rnd()) * (1000 / s.rate), kind: 'arrive' });
      const fn = pickZipf(cdf, rnd());
      const order0 = ranking.rank(keys[fn]!);
      let order = gradual.active ? gradual.order(keys[fn]!, order0) : order0;
      if (waits !== null && waits.size > 0) order = waits.order(keys[fn]!, order);
      let upNodes = 0;
      for (let i = 0; i < s.nodes; i++) if (nodes[i]!.up) upNodes += gradual.progress(i);
      let n: number;
      if (strategy.balanceFactor > 0) {
        const p = pickWithRoom(order, 0, null, health, loads, upNodes);
        n = p === -1 ? -1 : order[p]!;
      } else n = order.find((i) => nodes[i]!.up) ?? -1;
      if (n === -1) continue;
      if (now >= measureFrom) calls++;
      if (n === victim && now >= upAt && now < upAt + 15_000) movedBack++;
      loads.start(n);
      if (now >= measureFrom) nodes[n]!.served++;
      const call = { fn, arrived: now };
      if (nodes[n]!.busy < s.slots) start(n, call);
      else nodes[n]!.queue.push(call);
    } else if (ev.kind === 'done') {
      const node = nodes[ev.node]!;
      node.busy--;
      node.running--;
      node.idle.push(ev.fn);
      loads.end(ev.node);
      const next = node.queue.shift();
      if (next !== undefined) start(ev.node, next);
    } else if (ev.kind === 'down') {
      // The node dies: its containers are gone; what it was running still finishes in this model.
      nodes[victim]!.up = false;
      nodes[victim]!.idle.length = 0;
      gradual.nodeDown(victim);
    } else {
      nodes[victim]!.up = true;
      gradual.nodeUp(victim);
    }
  }
  waitTimes.sort((a, b) => a - b);
  const served = nodes.map((x) => x.served);
  const mean = served.reduce((a, b) => a + b, 0) / served.length;
  return {
    calls,
    coldStarts,
    coldAfterRecovery,
    peakColdPerSecond: Math.max(0, ...Array.from(coldPerSecond, (n) => n ?? 0)),
    maxOverMean: Math.max(...served) / mean,
    p99QueueMs: waitTimes[Math.floor(waitTimes.length * 0.99)] ?? 0,
    movedBack,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      seed: { type: 'string' },
      rate: { type: 'string' },
      slots: { type: 'string' },
      containers: { type: 'string' },
      'service-ms': { type: 'string' },
      'cold-ms': { type: 'string' },
      zipf: { type: 'string' },
    },
  });
  const s: Settings = {
    seconds: Number(values.seconds ?? 60),
    seed: Number(values.seed ?? 1),
    nodes: 5,
    slots: Number(values.slots ?? 16),
    containers: Number(values.containers ?? 128),
    functions: 300,
    zipf: Number(values.zipf ?? 1.3),
    rate: Number(values.rate ?? 1000),
    serviceMs: Number(values['service-ms'] ?? 20),
    coldMs: Number(values['cold-ms'] ?? 250),
  };
  console.log(
    `fnlb routing simulation: ${s.nodes} nodes x ${s.slots} slots, ${s.containers} containers each, ${s.functions} functions (Zipf ${s.zipf}),` +
      ` ${s.rate} calls/s, ${s.serviceMs} ms mean service, ${s.coldMs} ms cold start, ${s.seconds} s; node 2 down from 40% to 60% of the run; figures from 20% on (the cluster starts cold); seed ${s.seed}`,
  );
  console.log('');
  console.log(
    '| strategy | calls | cold starts | cold starts in 15 s after recovery | peak cold starts in 1 s | calls back on the recovered node in those 15 s | max node load / mean | p99 queueing ms |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const strategy of STRATEGIES) {
    const r = simulate(s, strategy);
    console.log(
      `| ${strategy.name} | ${r.calls.toLocaleString('en-US')} | ${r.coldStarts.toLocaleString('en-US')} | ${r.coldAfterRecovery.toLocaleString('en-US')} | ${r.peakColdPerSecond} | ${r.movedBack.toLocaleString('en-US')} | ${r.maxOverMean.toFixed(2)} | ${r.p99QueueMs.toFixed(1)} |`,
    );
  }
}

main();
