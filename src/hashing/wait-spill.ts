/**
 * Wait-aware spill. Nodes may say how long a call waited before it started (fnproject nodes send
 * `XXX-FXLB-WAIT`, the time from call creation to start): a node whose queue grows for one function
 * is the first to know it is overloaded for that function, long before health checks or timeouts do.
 *
 * fnlb keeps a decaying average of that wait per (function, node), bounded in memory, and while the
 * owner's average is above `spillFrom`, sends a growing share of the function's calls past it to the
 * next node of the function's own ranking (and past that one too if it also waits), so the function
 * grows onto its warm fallbacks one rank at a time and shrinks back as the waits fall. The share kept
 * by a waiting node goes linearly from all of them at `spillFrom` to `minKeep` at `spillFull`; it never
 * reaches zero, so the node keeps reporting and its average can fall again.
 */

/** One function's averages, indexed by node; NaN = no report from that node. */
interface FunctionWaits {
  readonly avg: Float64Array;
  /** Clock (ms) of the last report, per node. */
  readonly at: Float64Array;
}

export interface WaitSpillOptions {
  /** A node's average wait (ms) above which it starts to hand calls of the function on. */
  spillFrom: number;
  /** The average wait (ms) at which it keeps only `minKeep` of them. */
  spillFull: number;
  /** The share of calls a node keeps however long its wait (so it keeps reporting). */
  minKeep: number;
  /** Time constant of the average (ms): a report weighs 1 - e^(-dt/tau) against the past. */
  tauMs: number;
  /** Functions remembered; the ones not reported on longest are forgotten first. */
  maxFunctions: number;
}

export const DEFAULT_WAIT_SPILL: Readonly<WaitSpillOptions> = Object.freeze({
  spillFrom: 500,
  spillFull: 2000,
  minKeep: 0.1,
  tauMs: 5000,
  maxFunctions: 10_000,
});

export class WaitSpill {
  /** Two generations: a function not reported on for a whole generation is dropped. */
  private young = new Map<string, FunctionWaits>();
  private old = new Map<string, FunctionWaits>();

  constructor(
    private readonly nodeCount: number,
    private readonly options: WaitSpillOptions = DEFAULT_WAIT_SPILL,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Functions with averages held (for tests and visibility). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** A node reported how long a call of `key` waited before it started. */
  report(key: string, node: number, waitMs: number): void {
    if (!(waitMs >= 0)) return;
    let f = this.entry(key);
    if (node >= f.avg.length) f = this.grow(key, f, node + 1);
    const now = this.now();
    const prev = f.avg[node];
    if (Number.isNaN(prev)) f.avg[node] = waitMs;
    else f.avg[node] = prev + (waitMs - prev) * (1 - Math.exp(-(now - f.at[node]) / this.options.tauMs));
    f.at[node] = now;
  }

  /** The average wait of `key` on `node` as of now (decayed toward 0 since its last report), NaN if unknown. */
  average(key: string, node: number): number {
    const f = this.young.get(key) ?? this.old.get(key);
    if (f === undefined) return NaN;
    return this.decayed(f, node);
  }

  /**
   * The ranking to walk for `key`: the same array when no node of it waits too long; otherwise the
   * node that takes this call moved to the front (the rest in order, as fallbacks).
   */
  order(key: string, ranking: readonly number[]): readonly number[] {
    const f = this.young.get(key) ?? this.old.get(key);
    if (f === undefined) return ranking;
    for (let i = 0; i < ranking.length - 1; i++) {
      const keep = this.keepShare(this.decayed(f, ranking[i]));
      if (keep >= 1 || this.random() < keep) return i === 0 ? ranking : moveToFront(ranking, i);
    }
    // Every node but the last waits: the last of the ranking takes the call.
    return moveToFront(ranking, ranking.length - 1);
  }

  /** The share of a function's calls a node keeps at this average wait. */
  keepShare(avg: number): number {
    const o = this.options;
    if (!(avg > o.spillFrom)) return 1;
    if (avg >= o.spillFull) return o.minKeep;
    return 1 - ((1 - o.minKeep) * (avg - o.spillFrom)) / (o.spillFull - o.spillFrom);
  }

  /** Without reports the average fades (a node that stopped being sent the function recovers). */
  private decayed(f: FunctionWaits, node: number): number {
    if (node >= f.avg.length) return NaN; // a node that joined after this function's last report
    const avg = f.avg[node];
    if (Number.isNaN(avg)) return avg;
    return avg * Math.exp(-(this.now() - f.at[node]) / this.options.tauMs);
  }

  /** Room for a node that joined at runtime (the entry was made for fewer nodes). */
  private grow(key: string, f: FunctionWaits, count: number): FunctionWaits {
    const g = { avg: new Float64Array(count).fill(NaN), at: new Float64Array(count) };
    g.avg.set(f.avg);
    g.at.set(f.at);
    this.young.set(key, g);
    return g;
  }

  private entry(key: string): FunctionWaits {
    let f = this.young.get(key);
    if (f !== undefined) return f;
    f = this.old.get(key);
    if (f === undefined) {
      f = { avg: new Float64Array(this.nodeCount).fill(NaN), at: new Float64Array(this.nodeCount) };
    } else this.old.delete(key);
    if (this.young.size >= this.options.maxFunctions / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, f);
    return f;
  }
}

function moveToFront(ranking: readonly number[], i: number): number[] {
  const out = [ranking[i]];
  for (let j = 0; j < ranking.length; j++) if (j !== i) out.push(ranking[j]);
  return out;
}
