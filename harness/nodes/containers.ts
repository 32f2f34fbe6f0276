/**
 * A function node's containers, as the demo node models them: each function (app + route) has its own
 * containers, at most `limit` of them at once. A call takes an idle warm one if there is one; else it
 * starts one (a cold start: `coldStartMs` before it runs) if the function is under its limit; else it
 * queues until one of the function's containers is free, which it then takes warm. The time spent
 * queued is what fnproject nodes report as XXX-FXLB-WAIT.
 */
export interface ContainerOptions {
  /** Containers per function at most (Infinity: no limit). */
  readonly limit: number;
  readonly coldStartMs: number;
}

export interface Placement {
  /** The call started a container. */
  readonly cold: boolean;
  /** Milliseconds queued for a free container. */
  readonly waitedMs: number;
  /** Give the container back when the call is done. */
  release(): void;
}

interface FunctionContainers {
  idle: number;
  running: number;
  readonly queue: Array<() => void>;
}

export class Containers {
  private readonly functions = new Map<string, FunctionContainers>();
  /** Cold starts so far, all functions. */
  coldStarts = 0;

  constructor(private readonly options: ContainerOptions) {}

  async acquire(fn: string): Promise<Placement> {
    let f = this.functions.get(fn);
    if (f === undefined) {
      f = { idle: 0, running: 0, queue: [] };
      this.functions.set(fn, f);
    }
    const release = () => this.release(f!);
    if (f.idle > 0) {
      f.idle--;
      f.running++;
      return { cold: false, waitedMs: 0, release };
    }
    if (f.running < this.options.limit) {
      f.running++;
      this.coldStarts++;
      if (this.options.coldStartMs > 0) await new Promise((r) => setTimeout(r, this.options.coldStartMs));
      return { cold: true, waitedMs: 0, release };
    }
    const queuedAt = performance.now();
    // The container a finishing call hands over is already running: it counts for us from then on.
    await new Promise<void>((resolve) => f!.queue.push(resolve));
    return { cold: false, waitedMs: performance.now() - queuedAt, release };
  }

  private release(f: FunctionContainers): void {
    const next = f.queue.shift();
    if (next !== undefined) return next();
    f.running--;
    f.idle++;
  }
}
