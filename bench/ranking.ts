/**
 * Microbenchmark of Ranking.rank at 100 nodes: a cached lookup (ns) and an uncached one (µs, fresh
 * keys, which also pays the cache insert), each the median of several timed runs after one
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
    if (run === 0) continue; // JIT warm-up
    cached[0].push(c[0]);
    cached[1].push(c[1]);
    uncached.push(u / 1000);
    weighted.push(w / 1000);
    direct3.push(d3);
  }
  return {
    nodes: NODES,
    runs: opts.runs,
    cachedNs: median(cached[0]),
    cached10kNs: median(cached[1]),
    uncachedUs: median(uncached),
    uncachedWeightedUs: median(weighted),
    direct3Ns: median(direct3),
  };
}

export const RANKING_FULL = { runs: 7, cachedOps: 2_000_000, uncachedOps: 50_000 };
export const RANKING_SMOKE = { runs: 3, cachedOps: 200_000, uncachedOps: 5_000 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(runRanking(process.argv.includes('--smoke') ? RANKING_SMOKE : RANKING_FULL)));
}
