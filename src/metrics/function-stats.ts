/**
 * Bounded per-function counters: the Space-Saving algorithm (Metwally et al.) over at most K functions,
 * with an admission filter in front of it.
 *
 * Space-Saving: a function not in the table takes over the entry with the smallest count (min) and
 * starts from min + 1, with error = min. The filter: a small count-min sketch counts every request by a
 * hash of its function; once the table is full, a function not in it takes over the minimum only when
 * its estimate (never below its true count) exceeds min. A function whose estimate does not is one with
 * at most min requests so far, which would only have churned the table: with many cold functions (every
 * request a function not kept) that churn was a map miss, delete, insert and a heap walk per request.
 *
 * Error bound: with N requests and K slots, a kept function's `requests` overestimates its true count by
 * at most its `error`, and error <= N / K. So every function with more than N / K requests is kept, and
 * true <= requests <= true + error (a function refused by the filter had at most min requests, so taking
 * over at min + 1 later still covers them). The counts kept sum to at most N (the refused requests of
 * functions not kept are in none). The other counters (ownerHits, spills, retries, nodes) only count since
 * the function entered the table, so they underestimate by at most `error`. Memory: at most K entries
 * (plus one node array each), a table of kept hashes and the sketch (3 x 4096 counters for K = 100).
 */

import { hashString } from '../hashing/rendezvous.js';

export type SpillReason = 'full' | 'wait' | 'down' | 'warmup';
export type FallbackReason = SpillReason | 'retry';

export interface FunctionSnapshot {
  key: string;
  requests: number;
  /** Upper bound of the overcount in `requests` (see the module comment). */
  error: number;
  ownerHits: number;
  spills: Record<SpillReason, number>;
  retries: number;
  /** Requests served, by node slot. */
  nodes: number[];
}

interface Entry {
  key: string;
  requests: number;
  error: number;
  ownerHits: number;
  full: number;
  wait: number;
  down: number;
  warmup: number;
  retries: number;
  nodes: number[];
  /** Index in the heap. */
  pos: number;
  /** Its key's slot in `kept`. */
  slot: number;
}

export const DEFAULT_TOP_K = 100;

/**
 * Width of each sketch row and of the kept-hash table: a power of two at least 16 K (4096 for the
 * default K = 100), so that functions seen once stay far below the table's minimum.
 */
function slotsFor(k: number): number {
  let n = 4096;
  while (n < 16 * k) n *= 2;
  return n;
}

/**
 * Seed of the sketch's hash, apart from the ranking's seeds. Any fixed hash keeps the bounds (only
 * collisions cost precision); the first row indexes by its low bits, the second by the same hash
 * rotated by 16 (its high bits first).
 */
const SKETCH_SEED = 0x27d4eb2f;

export class FunctionStats {
  readonly k: number;
  private readonly entries = new Map<string, Entry>();
  /** Min-heap on requests, so the entry to replace is at the root: O(log K) per request instead of an O(K) scan. */
  private readonly heap: Entry[] = [];
  private readonly mask: number;
  /**
   * Count-min sketch of every request, two rows: an estimate never below a function's true count. Doubles,
   * exact to 2^53: 32-bit counters would wrap after a few days of one busy function, and a wrapped one
   * could hide a heavy function from the filter.
   */
  private readonly sketch: Float64Array;
  /** How many kept functions hash to each slot: 0 means the function is not kept, without a map lookup. */
  private readonly kept: Uint32Array;

  constructor(k = DEFAULT_TOP_K) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-K must be a positive integer, got ${k}`);
    this.k = k;
    const slots = slotsFor(k);
    this.mask = slots - 1;
    this.sketch = new Float64Array(2 * slots);
    this.kept = new Uint32Array(slots);
  }

  get size(): number {
    return this.entries.size;
  }

  record(key: string, node: number, owner: number, reason: FallbackReason | null): void {
    const h = hashString(key, SKETCH_SEED);
    const mask = this.mask;
    const slot = h & mask;
    const sketch = this.sketch;
    const a = ++sketch[slot]!;
    const b = ++sketch[mask + 1 + (((h >>> 16) | (h << 16)) & mask)]!;
    let e = this.kept[slot] === 0 ? undefined : this.entries.get(key);
    if (e === undefined) {
      const heap = this.heap;
      // Full: only a function estimated above the minimum takes it over.
      if (heap.length === this.k && (a < b ? a : b) <= heap[0]!.requests) return;
      e = this.admit(key, slot);
    }
    e.requests++;
    this.siftDown(e.pos);
    if (node >= 0) {
      if (node === owner) e.ownerHits++;
      const nodes = e.nodes;
      while (nodes.length <= node) nodes.push(0);
      nodes[node]!++;
    }
    if (reason !== null) {
      if (reason === 'retry') e.retries++;
      else e[reason]++;
    }
  }

  /** A new key: a fresh entry while there is room, otherwise the minimum entry is taken over (reused, no allocation). */
  private admit(key: string, slot: number): Entry {
    this.kept[slot]++;
    if (this.entries.size < this.k) {
      const e: Entry = {
        key,
        requests: 0,
        error: 0,
        ownerHits: 0,
        full: 0,
        wait: 0,
        down: 0,
        warmup: 0,
        retries: 0,
        nodes: [],
        pos: 0,
        slot,
      };
      // Sift up: requests 0 is the smallest there is.
      const heap = this.heap;
      let i = heap.length;
      heap.push(e);
      while (i > 0 && heap[(i - 1) >> 1]!.requests > 0) {
        const p = (i - 1) >> 1;
        heap[i] = heap[p]!;
        heap[i]!.pos = i;
        i = p;
      }
      heap[i] = e;
      e.pos = i;
      this.entries.set(key, e);
      return e;
    }
    const e = this.heap[0]!;
    this.entries.delete(e.key);
    this.kept[e.slot]--;
    e.key = key;
    e.slot = slot;
    e.error = e.requests;
    e.ownerHits = e.full = e.wait = e.down = e.warmup = e.retries = 0;
    // A loop, not fill(): this runs on every request whose function is not kept (a builtin call cost more for a few nodes).
    const nodes = e.nodes;
    for (let i = 0; i < nodes.length; i++) nodes[i] = 0;
    this.entries.set(key, e);
    return e;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]!.requests < heap[c]!.requests) c++;
      if (heap[c]!.requests >= e.requests) break;
      heap[i] = heap[c]!;
      heap[i]!.pos = i;
      i = c;
    }
    heap[i] = e;
    e.pos = i;
  }

  snapshot(): FunctionSnapshot[] {
    const out: FunctionSnapshot[] = [];
    for (const e of this.entries.values()) {
      out.push({
        key: e.key,
        requests: e.requests,
        error: e.error,
        ownerHits: e.ownerHits,
        spills: { full: e.full, wait: e.wait, down: e.down, warmup: e.warmup },
        retries: e.retries,
        nodes: e.nodes.slice(),
      });
    }
    return sortFunctions(out);
  }
}

function sortFunctions(list: FunctionSnapshot[]): FunctionSnapshot[] {
  return list.sort((a, b) => b.requests - a.requests || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Sums several processes' top-K lists by key and keeps the K largest. Errors add up, so the overcount
 * bound still holds; but a function missing from one worker's list may have had up to that worker's
 * smallest kept count there, so a merged count can also be low by that much.
 */
export function mergeFunctions(lists: FunctionSnapshot[][], k: number): FunctionSnapshot[] {
  const byKey = new Map<string, FunctionSnapshot>();
  for (const list of lists) {
    for (const f of list) {
      const m = byKey.get(f.key);
      if (m === undefined) {
        byKey.set(f.key, { ...f, spills: { ...f.spills }, nodes: f.nodes.slice() });
        continue;
      }
      m.requests += f.requests;
      m.error += f.error;
      m.ownerHits += f.ownerHits;
      m.retries += f.retries;
      for (const r of ['full', 'wait', 'down', 'warmup'] as const) m.spills[r] += f.spills[r];
      addInto(m.nodes, f.nodes);
    }
  }
  return sortFunctions([...byKey.values()]).slice(0, k);
}

/** target[i] += source[i], growing target as needed. */
export function addInto(target: number[], source: readonly number[]): void {
  while (target.length < source.length) target.push(0);
  for (let i = 0; i < source.length; i++) target[i]! += source[i]!;
}
