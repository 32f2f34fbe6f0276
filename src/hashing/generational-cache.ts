/**
 * Approximate LRU with O(1) operations and no delete-on-hit.
 *
 * Two generations: `young` takes every insert; when it holds capacity/2 entries it becomes `old`
 * and a fresh `young` starts, dropping the previous `old` wholesale. A hit in `old` is copied into
 * `young`, so a key in steady use survives every rotation. Each generation holds at most
 * capacity/2 entries, so the total never exceeds `capacity` (a promoted key may sit in both maps
 * and counts twice, which only makes the bound conservative).
 *
 * `undefined` cannot be stored: it is what a miss returns.
 */
export class GenerationalCache<V extends {} | null> {
  readonly capacity: number;
  private readonly half: number;
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) {
      throw new RangeError(`cache capacity must be an integer >= 2, got ${capacity}`);
    }
    this.capacity = capacity;
    this.half = Math.floor(capacity / 2);
  }

  get(key: string): V | undefined {
    const y = this.young.get(key);
    if (y !== undefined) return y;
    const o = this.old.get(key);
    // Promote without deleting from `old`: the whole generation is dropped at the next rotation anyway.
    if (o !== undefined) this.insert(key, o);
    return o;
  }

  set(key: string, value: V): void {
    this.insert(key, value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  /** Entries held in both generations (a promoted key may count twice); always <= capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(key: string, value: V): void {
    // Rotate only for a new key; overwriting an existing young entry does not grow it.
    if (this.young.size >= this.half && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
