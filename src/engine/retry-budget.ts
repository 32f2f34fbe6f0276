/**
 * The retry budget: at most `minPerSecond` × window + `ratio` × requests retries in a sliding window,
 * so that a cluster that fails everything (overloaded, every node answering "not executed" or timing
 * out) does not get each request two or three times. One per engine (per worker process): with
 * `--workers N` each worker has its own budget over its own requests.
 *
 * The window is BUCKETS buckets of window/BUCKETS ms on the caller's clock (the engine's coarse
 * `Deadlines.now`: no clock read of its own); a bucket leaves the window whole. Counting a request is a
 * compare and two adds; only a retry looks at the sums. Pure apart from its counters: time comes in as an
 * argument, so a test drives it with any clock.
 */
export class RetryBudget {
  static readonly BUCKETS = 10;

  /** Length of one bucket, ms. */
  readonly bucketMs: number;
  /** Retries always allowed per window. */
  readonly floor: number;
  private readonly requests: number[];
  private readonly retries: number[];
  /** The current bucket. */
  private index = 0;
  /** End of the current bucket on the caller's clock (0 = not started). */
  private bucketEnd = 0;
  /** Sums over the buckets of the window. */
  private requestSum = 0;
  private retrySum = 0;

  /**
   * `ratio`: retries per request (0.2 for 20%), or Infinity for no limit at all. `minPerSecond`: retries
   * per second allowed whatever the requests. `windowMs`: the sliding window.
   */
  constructor(
    readonly ratio: number,
    minPerSecond: number,
    windowMs: number,
  ) {
    const n = RetryBudget.BUCKETS;
    this.bucketMs = Math.max(1, Math.ceil(windowMs / n));
    this.floor = (minPerSecond * this.bucketMs * n) / 1000;
    this.requests = new Array<number>(n).fill(0);
    this.retries = new Array<number>(n).fill(0);
  }

  /** Counts one request (every request, retried or not) at `now`. */
  request(now: number): void {
    if (now >= this.bucketEnd) this.advance(now);
    this.requests[this.index]++;
    this.requestSum++;
  }

  /** A retry at `now`: true (and counted) if the window has room for it, false if the budget is spent. */
  tryRetry(now: number): boolean {
    if (this.ratio === Infinity) return true;
    if (now >= this.bucketEnd) this.advance(now);
    if (this.retrySum + 1 > this.floor + this.ratio * this.requestSum) return false;
    this.retries[this.index]++;
    this.retrySum++;
    return true;
  }

  /** Requests and retries in the current window (for tests and diagnostics). */
  window(): { requests: number; retries: number } {
    return { requests: this.requestSum, retries: this.retrySum };
  }

  /** Moves to the bucket holding `now`, emptying the buckets that left the window. */
  private advance(now: number): void {
    const n = this.requests.length;
    const bucketMs = this.bucketMs;
    const start = now - (now % bucketMs);
    let steps = this.bucketEnd === 0 ? n : Math.round((start + bucketMs - this.bucketEnd) / bucketMs);
    if (steps > n) steps = n;
    for (let s = 0; s < steps; s++) {
      const i = (this.index + 1) % n;
      this.index = i;
      this.requestSum -= this.requests[i];
      this.retrySum -= this.retries[i];
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    this.bucketEnd = start + bucketMs;
  }
}
