/** Something with a deadline in ms on the coarse clock (0 = none). */
export interface Timed {
  deadline: number;
  onDeadline(): void;
}

/**
 * One coarse timer for every connection instead of a timer per socket: connections keep a numeric
 * deadline (a property write on the hot path) and a single interval expires them. Resolution is `tickMs`.
 */
export class Deadlines {
  /** Coarse "now" in ms, refreshed every tick; good enough for timeouts measured in 100s of ms. */
  now = Date.now();
  private readonly items = new Set<Timed>();
  private readonly timer: NodeJS.Timeout;

  constructor(tickMs = 50) {
    this.timer = setInterval(() => this.sweep(), tickMs);
    this.timer.unref();
  }

  add(item: Timed): void {
    this.items.add(item);
  }

  delete(item: Timed): void {
    this.items.delete(item);
  }

  private sweep(): void {
    const now = (this.now = Date.now());
    for (const item of this.items) {
      if (item.deadline !== 0 && item.deadline <= now) {
        item.deadline = 0;
        item.onDeadline();
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
