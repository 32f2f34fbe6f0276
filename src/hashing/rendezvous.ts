/**
 * Weighted rendezvous (highest random weight) hashing.
 *
 * Every (key, node) pair gets a score; nodes are ranked by score, best first. Rank 0 owns the key,
 * and the rest of the order is the fallback order, so removing a node moves exactly that node's
 * keys (each to its own rank-1 node) and adding one moves only the keys it now wins. (A ring or
 * jump hash moves more: jump hash over a sorted node list moves keys of surviving nodes too.)
 *
 * Scores depend only on the key and node ids, with fixed seeds and fixed hash functions, so every
 * fnlb process given the same node list ranks alike, whatever the order of that list.
 */
import { GenerationalCache } from './generational-cache.js';

/** A node as ranking sees it; NodeAddress fits. */
export interface WeightedNode {
  readonly id: string;
  readonly weight: number;
}

// Fixed seeds: changing any of them reshuffles every key's owner across the whole fleet.
const SEED_A = 0x9e3779b9;
const SEED_B = 0x85ebca77;

const TWO_POW_20 = 1048576;
const TWO_POW_52 = 4503599627370496;

/** murmur3_32 over UTF-16 code units (two units per 32-bit block); unsigned result. */
export function hashString(s: string, seed: number): number {
  const n = s.length;
  let h = seed | 0;
  let i = 0;
  for (; i + 1 < n; i += 2) h = mixH(h, mixK(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)));
  if (i < n) h ^= mixK(s.charCodeAt(i));
  h ^= n * 2; // length in bytes, as murmur3 does
  return fmix32(h);
}

/**
 * hashString(s, SEED_A) and hashString(s, SEED_B) of the last hashPair(s) call, as signed 32-bit
 * values (the same bits): an unsigned one over 2^31 is a heap number, so every call would allocate two
 * and store them into the module's context, an old object (a write barrier each).
 */
let pairA = 0;
let pairB = 0;

/**
 * hashString of `s` under both seeds in one pass (each block read and mixed once): into pairA and
 * pairB. Every ranking needs both.
 */
function hashPair(s: string): void {
  const n = s.length;
  let ha = SEED_A | 0;
  let hb = SEED_B | 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const k = mixK(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    ha = mixH(ha, k);
    hb = mixH(hb, k);
  }
  if (i < n) {
    const k = mixK(s.charCodeAt(i));
    ha ^= k;
    hb ^= k;
  }
  pairA = fmix32(ha ^ (n * 2)) | 0;
  pairB = fmix32(hb ^ (n * 2)) | 0;
}

/** [hashString(s, SEED_A), hashString(s, SEED_B)] by hashPair: for tests. */
export function hashBothSeeds(s: string): [number, number] {
  hashPair(s);
  return [pairA >>> 0, pairB >>> 0];
}

/** murmur3_32's step for one mixed block `k` into the running hash `h`. */
function mixH(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixK(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/** murmur3 finalizer: full avalanche of a 32-bit value; unsigned result. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Precomputed per-node data plus scratch space for one ranking at a time. Typed arrays so a
 * lookup allocates nothing but its result. `uniform` = all weights equal: ranking by the uniform
 * variate itself then gives the same order as the weighted score (monotonic in u) without a
 * Math.log per node.
 */
class NodeTable {
  readonly ids: string[];
  readonly ha: Uint32Array;
  readonly hb: Uint32Array;
  readonly weights: Float64Array;
  readonly uniform: boolean;
  // Scratch for rankWith: scores, bucket of each node, bucket start offsets, bucket-sorted order,
  // and the ranking itself (copied out, or looked up, by the caller).
  readonly scores: Float64Array;
  readonly bucket: Int32Array;
  readonly starts: Int32Array;
  readonly order: Int32Array;
  readonly ranked: Int32Array;

  constructor(nodes: readonly WeightedNode[]) {
    const n = nodes.length;
    this.ids = new Array<string>(n);
    this.ha = new Uint32Array(n);
    this.hb = new Uint32Array(n);
    this.weights = new Float64Array(n);
    let uniform = true;
    for (let i = 0; i < n; i++) {
      const { id, weight } = nodes[i];
      if (!(weight > 0) || !Number.isFinite(weight)) {
        throw new RangeError(`node ${id}: weight must be a finite number > 0, got ${weight}`);
      }
      this.ids[i] = id;
      this.ha[i] = hashString(id, SEED_A);
      this.hb[i] = hashString(id, SEED_B);
      this.weights[i] = weight;
      if (weight !== nodes[0].weight) uniform = false;
    }
    this.uniform = uniform;
    this.scores = new Float64Array(n);
    this.bucket = new Int32Array(n);
    this.starts = new Int32Array(n + 1);
    this.order = new Int32Array(n);
    this.ranked = new Int32Array(n);
  }
}

/**
 * Full ranking of one key into `t.ranked`: node indices, best first.
 *
 * Sorting dominates the cost, so: a counting sort into n buckets by a monotone map of the score
 * into [0,1) (expected O(1) nodes per bucket), then an insertion pass with the exact comparison,
 * which fixes whatever the buckets left and so alone decides the order. About 3x faster than
 * Array#sort or a plain insertion sort at 100 nodes, with no comparator closure.
 */
function rankWith(t: NodeTable, key: string): void {
  hashPair(key);
  const ka = pairA;
  const kb = pairB;
  const { ids, scores, bucket, starts, order } = t;
  const n = ids.length;
  if (n <= SMALL) {
    rankSmall(t, ka, kb);
    return;
  }
  starts.fill(0);
  for (let i = 0; i < n; i++) {
    const s = score(t, i, ka, kb);
    // Monotone into (0,1), spread enough for bucketing, no Math.exp.
    const v = t.uniform ? s : s / (s + 1);
    scores[i] = s;
    // Best scores in bucket 0. v * n may round up to n when v is within an ulp of 1: clamp.
    const b = v * n < n ? n - 1 - Math.floor(v * n) : 0;
    bucket[i] = b;
    starts[b + 1]++;
  }
  for (let b = 1; b < n; b++) starts[b] += starts[b - 1];
  for (let i = 0; i < n; i++) order[starts[bucket[i]]++] = i;

  insertionRank(t, order, n);
}

/**
 * At or below this many nodes a plain insertion sort beats the bucket pass, and a ranking costs
 * less than a cache lookup (which must hash a fresh key string and miss in the CPU caches once
 * there are many functions): `Ranking` then does not cache at all.
 */
const SMALL = 8;

function rankSmall(t: NodeTable, ka: number, kb: number): void {
  const n = t.ids.length;
  const { scores, order } = t;
  for (let i = 0; i < n; i++) {
    scores[i] = score(t, i, ka, kb);
    order[i] = i;
  }
  insertionRank(t, order, n);
}

/** Score of node i for a key hashed to (ka, kb): uniform in (0,1), or the weighted transform of it. */
function score(t: NodeTable, i: number, ka: number, kb: number): number {
  const hi = fmix32(ka ^ t.ha[i]);
  const lo = fmix32(kb ^ t.hb[i]);
  // 52 random bits as a double strictly inside (0,1): the +0.5 keeps it off 0 and, below 2^52,
  // exact, so it never rounds up to 1 (log(1) = 0 would divide by zero).
  const u = (hi * TWO_POW_20 + (lo >>> 12) + 0.5) / TWO_POW_52;
  return t.uniform ? u : -t.weights[i] / Math.log(u);
}

/**
 * The final order from a nearly sorted `order`: insertion with the exact comparison, which alone
 * decides the result. Ties (vanishingly rare) go to the smaller id, so the order is total and free
 * of the node list's order.
 */
function insertionRank(t: NodeTable, order: Int32Array, n: number): void {
  const { ids, scores } = t;
  const out = t.ranked;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const s = scores[i];
    let j = k;
    while (j > 0) {
      const p = out[j - 1];
      const sp = scores[p];
      if (sp > s || (sp === s && ids[p] <= ids[i])) break;
      out[j] = p;
      j--;
    }
    out[j] = i;
  }
}

/** t.ranked as a fresh array, each index replaced by its label when given. */
function rankedCopy(t: NodeTable, labels: readonly number[] | null): number[] {
  const n = t.ranked.length;
  const out = new Array<number>(n); // exact size: a pushed-to [] reserves 17 slots
  for (let k = 0; k < n; k++) out[k] = labels === null ? t.ranked[k] : labels[t.ranked[k]];
  return out;
}

/**
 * Indices of `nodes` for `key`, best (owner) first, full order. Hashes every node id on each call:
 * for repeated lookups over one node list use `Ranking`.
 */
export function rankNodes(key: string, nodes: readonly WeightedNode[]): number[] {
  const t = new NodeTable(nodes);
  rankWith(t, key);
  return rankedCopy(t, null);
}

/**
 * Small clusters share one array per distinct order (3 nodes have 6): a request's ranking then
 * allocates nothing. Up to this many orders are kept (8 nodes have 40,320); past it, fresh arrays.
 */
const MAX_SHARED_ORDERS = 4096;

/**
 * Rankings over one fixed node list, with node hashes precomputed and recent keys cached.
 * Immutable membership: when nodes join or leave, build a new Ranking (its cache starts empty).
 */
export class Ranking {
  /** Number of nodes ranked. */
  readonly size: number;
  private readonly table: NodeTable;
  private readonly cache: GenerationalCache<readonly number[]>;
  /** At or below SMALL nodes: the orders seen, by their code (three bits per position). */
  private readonly orders = new Map<number, readonly number[]>();

  /**
   * The cache copes with up to cacheCapacity/2 functions in steady use (beyond that its generations
   * thrash and a lookup costs about what an uncached ranking does): 32,768 functions by default.
   */
  constructor(
    nodes: readonly WeightedNode[],
    cacheCapacity = 65536,
    /** What to report for each node instead of its index in `nodes` (membership slots); default the index. */
    private readonly labels: readonly number[] | null = null,
  ) {
    if (labels !== null && labels.length !== nodes.length) throw new RangeError('one label per node');
    this.table = new NodeTable(nodes);
    this.size = nodes.length;
    this.cache = new GenerationalCache(cacheCapacity);
  }

  /**
   * Node indices (or labels) for `key`, best first. The array may be shared (a cached key, or an order
   * a small cluster has produced before): callers must treat it as read-only and never mutate it.
   */
  rank(key: string): readonly number[] {
    const t = this.table;
    if (this.size <= SMALL) {
      rankWith(t, key);
      const ranked = t.ranked;
      let code = 0;
      for (let k = 0; k < ranked.length; k++) code = code * 8 + ranked[k];
      const shared = this.orders.get(code);
      if (shared !== undefined) return shared;
      const order = rankedCopy(t, this.labels);
      if (this.orders.size < MAX_SHARED_ORDERS) this.orders.set(code, order);
      return order;
    }
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    rankWith(t, key);
    const order = rankedCopy(t, this.labels);
    this.cache.set(key, order);
    return order;
  }

  /** Cached rankings (<= cacheCapacity); for tests and stats. */
  get cacheSize(): number {
    return this.cache.size;
  }
}
