import { hashString } from './rendezvous.js';

/** Seed of a function's return slot; independent of the ranking's seeds, fixed so every fnlb instance agrees. */
const SLOT_SEED = 0x2545f491;
const TWO_POW_32 = 4294967296;

/** Where a function stands in the return order, in [0, 1): the same for every fnlb instance. */
export function returnSlot(key: string): number {
  return hashString(key, SLOT_SEED) / TWO_POW_32;
}

/**
 * Gradual return after a node recovers (--warmup). A node that comes back does not take all its
 * functions back at once (every one of them would start cold there while its fallback still has it
 * warm): over the warmup, a growing share of them returns, function by function in a stable order. A
 * function whose slot is below the elapsed share walks its ranking as usual; the others keep walking
 * past the warming node, which they still reach last if every other node is down.
 */
export class GradualReturn {
  /** When each node came back (clock ms); 0 = not warming. */
  private since: Float64Array;
  private warmingCount = 0;

  constructor(
    nodeCount: number,
    private readonly warmupMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.since = new Float64Array(nodeCount);
  }

  /** Some node is warming: rankings must go through order(). */
  get active(): boolean {
    return this.warmingCount > 0;
  }

  nodeUp(node: number): void {
    if (this.warmupMs === 0) return;
    if (node >= this.since.length) {
      // A node added at runtime: it warms up as one that came back.
      const grown = new Float64Array(node + 1);
      grown.set(this.since);
      this.since = grown;
    }
    if (this.since[node] === 0) this.warmingCount++;
    this.since[node] = this.now() || 1;
  }

  nodeDown(node: number): void {
    this.stopWarming(node);
  }

  /** The share of a node's functions that have returned to it, in [0, 1]; 1 when it is not warming. */
  progress(node: number): number {
    const t0 = this.since[node];
    if (t0 === 0 || t0 === undefined) return 1;
    const share = (this.now() - t0) / this.warmupMs;
    if (share < 1) return share;
    this.stopWarming(node);
    return 1;
  }

  /** The ranking to walk for `key`: nodes still warming for this function moved to its end, in order. */
  order(key: string, ranking: readonly number[]): readonly number[] {
    let held: number[] | null = null;
    let slot = -1;
    for (let i = 0; i < ranking.length; i++) {
      const node = ranking[i];
      if (!(this.since[node] > 0)) continue;
      if (slot === -1) slot = returnSlot(key);
      if (slot >= this.progress(node)) (held ??= []).push(node);
    }
    if (held === null) return ranking;
    const order: number[] = [];
    for (let i = 0; i < ranking.length; i++) if (!held.includes(ranking[i])) order.push(ranking[i]);
    return order.concat(held);
  }

  private stopWarming(node: number): void {
    if (!(this.since[node] > 0)) return;
    this.since[node] = 0;
    this.warmingCount--;
  }
}
