/**
 * Up/down state of one node, fed by probe results and by traffic. Pure: no timers, no I/O.
 * Hysteresis (HAProxy's rise/fall) keeps one lost probe or one slow answer from flapping a node.
 */
export class HealthState {
  private isUp: boolean;
  private successes = 0;
  private failures = 0;

  constructor(
    private readonly rise: number,
    private readonly fall: number,
    up = true,
  ) {
    if (!Number.isInteger(rise) || rise < 1) throw new RangeError(`rise must be an integer >= 1, got ${rise}`);
    if (!Number.isInteger(fall) || fall < 1) throw new RangeError(`fall must be an integer >= 1, got ${fall}`);
    this.isUp = up;
  }

  get up(): boolean {
    return this.isUp;
  }

  /** A passed probe. Up again after `rise` in a row. Returns true when the state changed. */
  recordSuccess(): boolean {
    this.failures = 0;
    if (this.successes < this.rise) this.successes++; // capped: only "reached rise" matters
    if (!this.isUp && this.successes >= this.rise) {
      this.isUp = true;
      return true;
    }
    return false;
  }

  /** A failed probe. Down after `fall` in a row. Returns true when the state changed. */
  recordFailure(): boolean {
    this.successes = 0;
    if (this.failures < this.fall) this.failures++;
    if (this.isUp && this.failures >= this.fall) {
      this.isUp = false;
      return true;
    }
    return false;
  }

  /**
   * A failure seen by live traffic (connect refused, reset): real requests are failing now, so go
   * down at once instead of waiting for `fall` probes; coming back still takes `rise` good probes.
   * Returns true when the state changed.
   */
  markDown(): boolean {
    this.successes = 0;
    this.failures = this.fall;
    if (!this.isUp) return false;
    this.isUp = false;
    return true;
  }
}
