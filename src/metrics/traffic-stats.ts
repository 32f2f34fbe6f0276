/**
 * Per-process traffic counters, cheap on the request path: plain numbers in typed arrays indexed by
 * node slot, no allocation and no clock read per request (only the rare recent-fallback path reads
 * Date.now). Prometheus and the admin API read them through snapshot(), plain JSON so workers can send
 * theirs to the primary, which merges them with mergeSnapshots().
 */
import { addInto, DEFAULT_TOP_K, FunctionStats, mergeFunctions, type FallbackReason, type FunctionSnapshot } from './function-stats.js';

/** Upper bounds (seconds) of the request duration histogram; +Inf is implied. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Status classes 1xx..5xx. */
export const STATUS_CLASSES = 5;
export const RECENT_FALLBACKS = 50;

export interface HistogramSnapshot {
  /** Per bucket, NOT cumulative; one more than the bounds (the last one is +Inf). */
  counts: number[];
  sum: number;
  count: number;
}

export interface NodeTraffic {
  /** Finished requests whose last node was this one, by status class (index 0 = 1xx … 4 = 5xx). */
  requests: number[];
  duration: HistogramSnapshot;
  /** Request bytes received from clients. */
  bytesIn: number;
  /** Response bytes sent to clients. */
  bytesOut: number;
  /** Requests answered with status >= 500. */
  errors: number;
  connectErrors: number;
  inFlight: number;
}

export interface RecentFallback {
  /** Milliseconds since the epoch. */
  at: number;
  key: string | null;
  from: number;
  to: number;
  reason: FallbackReason;
}

export interface StatsSnapshot {
  buckets: number[];
  /** By node slot. */
  nodes: NodeTraffic[];
  /** Requests that reached no node (e.g. the whole cluster down). */
  none: NodeTraffic;
  /** Requests owned by `from` but served by `to` (slots). */
  fallbacks: Array<{ from: number; to: number; count: number }>;
  retries: Record<string, number>;
  /** Requests fnlb answered itself, by status code. */
  rejected: Record<string, number>;
  clientConnections: number;
  /** Oldest first, at most RECENT_FALLBACKS. */
  recentFallbacks: RecentFallback[];
  /** Top-K functions, most requests first. */
  functions: FunctionSnapshot[];
  functionsK: number;
}

const B = DURATION_BUCKETS.length + 1;
const BOUNDS = Float64Array.from(DURATION_BUCKETS);

export class TrafficStats {
  /** Rows are slot + 1; row 0 is "no node". */
  private rows = 0;
  private status = new Float64Array(0);
  private hist = new Float64Array(0);
  private histSum = new Float64Array(0);
  private bytesIn = new Float64Array(0);
  private bytesOut = new Float64Array(0);
  private errors = new Float64Array(0);
  private connectErrors = new Float64Array(0);
  private readonly fallbacks = new Map<number, number>();
  private readonly retries = new Map<string, number>();
  private readonly rejects = new Map<number, number>();
  private readonly recent: RecentFallback[] = [];
  private recentNext = 0;
  readonly functions: FunctionStats;

  constructor(options: { nodes?: number; topK?: number } = {}) {
    this.functions = new FunctionStats(options.topK ?? DEFAULT_TOP_K);
    this.grow(Math.max(options.nodes ?? 0, 1) + 1);
  }

  /** Makes room for slot (arrays grow by doubling, so this is rare). */
  ensureNode(slot: number): void {
    if (slot + 1 >= this.rows) this.grow(Math.max(slot + 2, this.rows * 2));
  }

  private grow(rows: number): void {
    const widen = (a: Float64Array<ArrayBuffer>, width: number): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(rows * width);
      b.set(a);
      return b;
    };
    this.status = widen(this.status, STATUS_CLASSES);
    this.hist = widen(this.hist, B);
    this.histSum = widen(this.histSum, 1);
    this.bytesIn = widen(this.bytesIn, 1);
    this.bytesOut = widen(this.bytesOut, 1);
    this.errors = widen(this.errors, 1);
    this.connectErrors = widen(this.connectErrors, 1);
    this.rows = rows;
  }

  request(
    node: number,
    owner: number,
    status: number,
    seconds: number,
    bytesIn: number,
    bytesOut: number,
    fallbackReason: FallbackReason | null,
    key: string | null,
  ): void {
    if (node + 1 >= this.rows) this.ensureNode(node);
    const row = node < 0 ? 0 : node + 1;
    let cls = ((status / 100) | 0) - 1;
    if (cls < 0) cls = 0;
    else if (cls >= STATUS_CLASSES) cls = STATUS_CLASSES - 1;
    this.status[row * STATUS_CLASSES + cls]!++;
    if (status >= 500) this.errors[row]!++;
    let b = 0;
    while (b < B - 1 && seconds > BOUNDS[b]!) b++;
    this.hist[row * B + b]!++;
    this.histSum[row]! += seconds;
    this.bytesIn[row]! += bytesIn;
    this.bytesOut[row]! += bytesOut;
    if (owner >= 0 && node >= 0 && owner !== node) {
      const k = owner * 65536 + node;
      this.fallbacks.set(k, (this.fallbacks.get(k) ?? 0) + 1);
    }
    if (fallbackReason !== null) this.noteFallback(key, owner, node, fallbackReason);
    if (key !== null) this.functions.record(key, node, owner, fallbackReason);
  }

  /** Rare path: the ring of recent fallbacks. */
  private noteFallback(key: string | null, from: number, to: number, reason: FallbackReason): void {
    const f: RecentFallback = { at: Date.now(), key, from, to, reason };
    if (this.recent.length < RECENT_FALLBACKS) this.recent.push(f);
    else this.recent[this.recentNext] = f;
    this.recentNext = (this.recentNext + 1) % RECENT_FALLBACKS;
  }

  retry(reason: string): void {
    this.retries.set(reason, (this.retries.get(reason) ?? 0) + 1);
  }

  connectError(node: number): void {
    if (node + 1 >= this.rows) this.ensureNode(node);
    this.connectErrors[node < 0 ? 0 : node + 1]!++;
  }

  /** A request fnlb answered itself (bad request, too many connections…). */
  rejected(status: number): void {
    this.rejects.set(status, (this.rejects.get(status) ?? 0) + 1);
  }

  snapshot(gauges: { inFlight: readonly number[]; clientConnections: number }): StatsSnapshot {
    const slots = Math.max(this.usedSlots(), gauges.inFlight.length);
    const nodes: NodeTraffic[] = [];
    for (let slot = 0; slot < slots; slot++) nodes.push(this.rowTraffic(slot + 1, gauges.inFlight[slot] ?? 0));
    const fallbacks = [...this.fallbacks].map(([k, count]) => ({ from: Math.floor(k / 65536), to: k % 65536, count }));
    fallbacks.sort((a, b) => a.from - b.from || a.to - b.to);
    const recent =
      this.recent.length < RECENT_FALLBACKS
        ? this.recent.slice()
        : [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
    return {
      buckets: DURATION_BUCKETS.slice(),
      nodes,
      none: this.rowTraffic(0, 0),
      fallbacks,
      retries: Object.fromEntries(this.retries),
      rejected: Object.fromEntries(this.rejects),
      clientConnections: gauges.clientConnections,
      recentFallbacks: recent.map((f) => ({ ...f })),
      functions: this.functions.snapshot(),
      functionsK: this.functions.k,
    };
  }

  /** Slots that have been seen (capacity rows past the last used one are left out). */
  private usedSlots(): number {
    for (let row = this.rows - 1; row > 0; row--) {
      const used =
        this.histSum[row] !== 0 ||
        this.connectErrors[row] !== 0 ||
        this.status.subarray(row * STATUS_CLASSES, (row + 1) * STATUS_CLASSES).some((n) => n !== 0);
      if (used) return row;
    }
    return 0;
  }

  private rowTraffic(row: number, inFlight: number): NodeTraffic {
    const counts = Array.from(this.hist.subarray(row * B, (row + 1) * B));
    return {
      requests: Array.from(this.status.subarray(row * STATUS_CLASSES, (row + 1) * STATUS_CLASSES)),
      duration: { counts, sum: this.histSum[row]!, count: counts.reduce((a, b) => a + b, 0) },
      bytesIn: this.bytesIn[row]!,
      bytesOut: this.bytesOut[row]!,
      errors: this.errors[row]!,
      connectErrors: this.connectErrors[row]!,
      inFlight,
    };
  }
}

function emptyTraffic(): NodeTraffic {
  return {
    requests: new Array<number>(STATUS_CLASSES).fill(0),
    duration: { counts: new Array<number>(B).fill(0), sum: 0, count: 0 },
    bytesIn: 0,
    bytesOut: 0,
    errors: 0,
    connectErrors: 0,
    inFlight: 0,
  };
}

function addTraffic(into: NodeTraffic, t: NodeTraffic): void {
  addInto(into.requests, t.requests);
  addInto(into.duration.counts, t.duration.counts);
  into.duration.sum += t.duration.sum;
  into.duration.count += t.duration.count;
  into.bytesIn += t.bytesIn;
  into.bytesOut += t.bytesOut;
  into.errors += t.errors;
  into.connectErrors += t.connectErrors;
  into.inFlight += t.inFlight;
}

function addRecords(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Merges the workers' snapshots: counters and gauges add up, histograms bucket by bucket. */
export function mergeSnapshots(snaps: StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = {
    buckets: DURATION_BUCKETS.slice(),
    nodes: [],
    none: emptyTraffic(),
    fallbacks: [],
    retries: {},
    rejected: {},
    clientConnections: 0,
    recentFallbacks: [],
    functions: [],
    functionsK: snaps.length > 0 ? Math.max(...snaps.map((s) => s.functionsK)) : DEFAULT_TOP_K,
  };
  const fallbacks = new Map<number, number>();
  for (const s of snaps) {
    s.nodes.forEach((t, slot) => addTraffic((out.nodes[slot] ??= emptyTraffic()), t));
    addTraffic(out.none, s.none);
    for (const f of s.fallbacks) fallbacks.set(f.from * 65536 + f.to, (fallbacks.get(f.from * 65536 + f.to) ?? 0) + f.count);
    addRecords(out.retries, s.retries);
    addRecords(out.rejected, s.rejected);
    out.clientConnections += s.clientConnections;
    out.recentFallbacks.push(...s.recentFallbacks);
  }
  for (let slot = 0; slot < out.nodes.length; slot++) out.nodes[slot] ??= emptyTraffic();
  out.fallbacks = [...fallbacks].map(([k, count]) => ({ from: Math.floor(k / 65536), to: k % 65536, count }));
  out.fallbacks.sort((a, b) => a.from - b.from || a.to - b.to);
  // Stable sort keeps each worker's order for equal times.
  out.recentFallbacks = out.recentFallbacks.sort((a, b) => a.at - b.at).slice(-RECENT_FALLBACKS);
  out.functions = mergeFunctions(
    snaps.map((s) => s.functions),
    out.functionsK,
  );
  return out;
}
