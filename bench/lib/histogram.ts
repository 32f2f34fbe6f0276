/**
 * Log-linear histogram in the manner of HdrHistogram: values below 2·SUB are counted exactly, above
 * that each power of two is split into SUB equal buckets, so any reported value is within 1/SUB
 * (0.8%) of the recorded one, whatever the range, in a few thousand counters.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;

export class Histogram {
  private counts = new Float64Array(64 * SUB);
  private n = 0;
  private sum = 0;
  private maxValue = 0;

  /** Records a non-negative value (e.g. nanoseconds). */
  record(value: number): void {
    const v = Math.max(0, Math.round(value));
    this.counts[indexOf(v)]++;
    this.n++;
    this.sum += v;
    if (v > this.maxValue) this.maxValue = v;
  }

  get count(): number {
    return this.n;
  }

  get mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }

  get max(): number {
    return this.maxValue;
  }

  /** The value at quantile q (0 < q <= 1): the middle of the bucket holding the ceil(q·n)-th value. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.maxValue);
    }
    return this.maxValue;
  }
}

function indexOf(v: number): number {
  const shift = Math.max(0, Math.floor(Math.log2(v || 1)) - SUB_BITS);
  return shift * SUB + Math.floor(v / 2 ** shift);
}

function valueOf(index: number): number {
  const shift = Math.max(0, Math.floor(index / SUB) - 1);
  const base = index - shift * SUB;
  return shift === 0 ? base : (base + 0.5) * 2 ** shift;
}
