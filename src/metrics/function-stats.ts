/**
 * Bounded per-function counters: the Space-Saving algorithm (Metwally et al.) over at most K functions.
 *
 * Error bound: with N requests recorded and K slots, a kept function's `requests` overestimates its true
 * count by at most its `error` (the count of the entry it replaced), and error <= N / K. So every
 * function with more than N / K requests is always kept, and true <= requests <= true + error. The other
 * counters (ownerHits, spills, retries, nodes) only count since the function entered the table, so they
 * underestimate by at most `error`. Memory never exceeds K entries (plus one node array each).
 */

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
}

export const DEFAULT_TOP_K = 100;

export class FunctionStats {
  readonly k: number;
  private readonly entries = new Map<string, Entry>();
  /** Min-heap on requests, so the entry to replace is at the root: O(log K) per request instead of an O(K) scan. */
  private readonly heap: Entry[] = [];

  constructor(k = DEFAULT_TOP_K) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-K must be a positive integer, got ${k}`);
    this.k = k;
  }

  get size(): number {
    return this.entries.size;
  }

  record(key: string, node: number, owner: number, reason: FallbackReason | null): void {
    let e = this.entries.get(key);
    if (e === undefined) e = this.admit(key);
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
  private admit(key: string): Entry {
    if (this.entries.size < this.k) {
      const e: Entry = { key, requests: 0, error: 0, ownerHits: 0, full: 0, wait: 0, down: 0, warmup: 0, retries: 0, nodes: [], pos: 0 };
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
    e.key = key;
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
