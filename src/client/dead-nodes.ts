import { HealthChecker } from '../health/health-checker.js';
import type { NodeAddress } from '../membership/address.js';

export interface ProbeOptions {
  /** Milliseconds between two probes of a dead node. */
  readonly interval: number;
  readonly timeout: number;
  /** "" = TCP connect probe. */
  readonly path: string;
}

/**
 * The dead list: nodes that failed a request are out until a probe of them passes. Only dead nodes are
 * probed (live ones prove themselves with traffic), each by the balancer's own health check with
 * rise and fall of 1, so a node is back at its first answer. Probe timers are unref()'d: a dead node
 * never keeps the process alive.
 */
export class DeadNodes {
  private readonly checkers: (HealthChecker | null)[];
  private stopped = false;

  constructor(
    private readonly nodes: readonly NodeAddress[],
    private readonly probe: ProbeOptions,
    private readonly onChange: (index: number, up: boolean, reason: string) => void,
  ) {
    this.checkers = nodes.map(() => null);
  }

  isDead(index: number): boolean {
    return this.checkers[index] !== null;
  }

  /** Takes the node out (if it is not already) and starts probing it. */
  markDead(index: number, reason: string): void {
    if (this.stopped || this.checkers[index] !== null) return;
    const checker = new HealthChecker([this.nodes[index]], { ...this.probe, rise: 1, fall: 1 }, (_, up, why) => {
      if (up) this.revive(index, why);
    });
    checker.markDown(0, reason, false); // only its coming back is listened to
    this.checkers[index] = checker;
    this.onChange(index, false, reason);
    checker.start();
  }

  private revive(index: number, reason: string): void {
    const checker = this.checkers[index];
    if (checker === null) return;
    checker.stop();
    this.checkers[index] = null;
    this.onChange(index, true, reason);
  }

  /** Stops every probe; no node changes state after this. */
  stop(): void {
    this.stopped = true;
    for (const checker of this.checkers) checker?.stop();
  }
}
