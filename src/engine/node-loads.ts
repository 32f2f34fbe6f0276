/** What node choice needs to know of health. */
export interface NodeHealth {
  isUp(index: number): boolean;
  /**
   * The share of a full load the node may carry now, in [0, 1]: below 1 while it warms up after coming
   * back (gradual return), so spilled calls do not reach it before its own functions do.
   */
  warmth(index: number): number;
}

/**
 * The position in `ranking`, from `from` on and skipping positions in `taken`, of the first node that is
 * up and has room; if every node left that is up is full, of the first of those (load alone never
 * refuses a request); -1 if none is up. A full node passed over stays in the walk for a retry.
 */
export function pickWithRoom(
  ranking: readonly number[],
  from: number,
  taken: readonly number[] | null,
  health: NodeHealth,
  loads: NodeLoads,
  upNodes: number,
): number {
  let firstFull = -1;
  for (let p = from; p < ranking.length; p++) {
    if (taken !== null && taken.includes(p)) continue;
    const node = ranking[p];
    if (!health.isUp(node)) continue;
    if (loads.hasRoom(node, upNodes, health.warmth(node))) return p;
    if (firstFull === -1) firstFull = p;
  }
  return firstFull;
}

/**
 * Requests in flight per node, for bounded loads (consistent hashing with bounded loads, Mirrokni,
 * Thorup and Zadimoghaddam 2016; HAProxy's hash-balance-factor): a node may carry at most
 * ⌈factor × (in flight + 1) / nodes up⌉ requests, the new one counted. Since the bound is at least the
 * average, some node that is up always has room, so a request is never refused for load alone.
 *
 * An attempt counts from the moment a node is chosen until its response is complete or the attempt is
 * dropped: this is what the node is busy with, as far as fnlb can see.
 */
export class NodeLoads {
  private inFlight: Int32Array;
  private total = 0;

  constructor(
    nodeCount: number,
    private readonly factor: number,
  ) {
    this.inFlight = new Int32Array(nodeCount);
  }

  /** Room for nodes 0..count-1 (nodes join at runtime). */
  ensure(count: number): void {
    if (count <= this.inFlight.length) return;
    const grown = new Int32Array(count);
    grown.set(this.inFlight);
    this.inFlight = grown;
  }

  start(node: number): void {
    this.inFlight[node]++;
    this.total++;
  }

  end(node: number): void {
    this.inFlight[node]--;
    this.total--;
  }

  /**
   * The node can take one more request without passing the bound, with `upNodes` nodes sharing the
   * load; `warmth` (0..1) scales a warming node's bound down (its functions are still coming back).
   */
  hasRoom(node: number, upNodes: number, warmth = 1): boolean {
    const bound = Math.ceil((warmth * this.factor * (this.total + 1)) / (upNodes > 0 ? upNodes : 1));
    return this.inFlight[node] < bound;
  }

  /** In flight on one node (for tests and, later, the admin API). */
  of(node: number): number {
    return this.inFlight[node];
  }
}
