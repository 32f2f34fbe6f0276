/**
 * Microbenchmark of Ranking.rank at 100 nodes: a cached lookup (ns) and an uncached one (µs, fresh
 * keys, which also pays the cache insert), and lookups over 100,000 functions called uniformly or with
 * Zipf popularity (the cache's real hit rate), each the median of several timed runs after one
 * discarded JIT warm-up run. `node dist/bench/ranking.js [--smoke]` prints JSON.
 *
 * Cached lookups cycle over 1,000 hot keys, and again over 10,000: the default cache holds 16,384
 * keys in two generations of 8,192, and a hot set larger than one generation is promoted back and
 * forth on every hit, which the second number shows.
 */
import { fileURLToPath } from 'node:url';
import { Ranking, type WeightedNode } from '../src/hashing/rendezvous.js';

export interface RankingResult {
  nodes: number;
  runs: number;
  /** Cached lookup, 1,000 hot keys. */
  cachedNs: number;
  /** Cached lookup, 10,000 hot keys (more than one cache generation). */
  cached10kNs: number;
  uncachedUs: number;
  uncachedWeightedUs: number;
  /** 3 nodes, the typical cluster: ranked directly, never cached (fresh keys). */
  direct3Ns: number;
  /** 100,000 functions called uniformly at random (the throughput scenarios' paths): mostly cache misses. */
  uniform100kNs: number;
  /** 100,000 functions with Zipf(1) popularity (a few hot, a long tail): what a FaaS cluster sees. */
  zipf100kNs: number;
}

const NODES = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** ns per call of `fn(i)` for i in [0, ops); the sum keeps the results observable so nothing is optimised away. */
function time(ops: number, fn: (i: number) => readonly number[]): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) sink += fn(i)[0];
  const ns = Number(process.hrtime.bigint() - t0) / ops;
  if (sink < 0) console.log(sink);
  return ns;
}

export function runRanking(opts: { runs: number; cachedOps: number; uncachedOps: number }): RankingResult {
  const nodes = (weighted: boolean): WeightedNode[] =>
    Array.from({ length: NODES }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:8080`, weight: weighted ? 1 + (i % 3) : 1 }));
  const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `/r/app/f${i}`);
  const hot = [keys(1000), keys(10_000)];
  const cached: number[][] = [[], []];
  const uncached: number[] = [];
  const weighted: number[] = [];
  const direct3: number[] = [];
  const uniform100k: number[] = [];
  const zipf100k: number[] = [];
  const all = keys(100_000);
  // Draws fixed beforehand (a seeded generator), so only rank() is timed.
  const draws = opts.uncachedOps * 4;
  const uniform = Int32Array.from({ length: draws }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 0) % all.length);
  const zipf = zipfDraws(all.length, draws);
  for (let run = 0; run <= opts.runs; run++) {
    const c = hot.map((ks) => {
      const r = new Ranking(nodes(false));
      for (const k of ks) r.rank(k);
      return time(opts.cachedOps, (i) => r.rank(ks[i % ks.length]));
    });
    const r = new Ranking(nodes(false));
    // Fresh keys built beforehand, so string building is not timed.
    const fresh = Array.from({ length: opts.uncachedOps }, (_, i) => `/r/app${run}/g${i}`);
    const u = time(opts.uncachedOps, (i) => r.rank(fresh[i]));
    const rw = new Ranking(nodes(true));
    const w = time(opts.uncachedOps, (i) => rw.rank(fresh[i]));
    const r3 = new Ranking(nodes(false).slice(0, 3));
    const d3 = time(opts.uncachedOps, (i) => r3.rank(fresh[i]));
    const ru = new Ranking(nodes(false));
    const u100k = time(draws, (i) => ru.rank(all[uniform[i]!]!));
    const rz = new Ranking(nodes(false));
    const z100k = time(draws, (i) => rz.rank(all[zipf[i]!]!));
    if (run === 0) continue; // JIT warm-up
    cached[0].push(c[0]);
    cached[1].push(c[1]);
    uncached.push(u / 1000);
    weighted.push(w / 1000);
    direct3.push(d3);
    uniform100k.push(u100k);
    zipf100k.push(z100k);
  }
  return {
    nodes: NODES,
    runs: opts.runs,
    cachedNs: median(cached[0]),
    cached10kNs: median(cached[1]),
    uncachedUs: median(uncached),
    uncachedWeightedUs: median(weighted),
    direct3Ns: median(direct3),
    uniform100kNs: median(uniform100k),
    zipf100kNs: median(zipf100k),
  };
}

/** `n` indices into [0, size) with P(i) ∝ 1/(i+1), by inverse transform over the cumulative weights. */
function zipfDraws(size: number, n: number): Int32Array {
  const cumulative = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) cumulative[i] = sum += 1 / (i + 1);
  let seed = 12345;
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const target = (seed / 4294967296) * sum;
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    out[k] = lo;
  }
  return out;
}

export const RANKING_FULL = { runs: 7, cachedOps: 2_000_000, uncachedOps: 50_000 };
export const RANKING_SMOKE = { runs: 3, cachedOps: 200_000, uncachedOps: 5_000 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(runRanking(process.argv.includes('--smoke') ? RANKING_SMOKE : RANKING_FULL)));
}
