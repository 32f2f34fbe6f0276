import { isToWorker, type ToPrimary } from '../cluster/messages.js';
import type { HealthChangeListener, HealthView } from './health-view.js';

/**
 * Health as seen by a worker process: the primary probes and tells every worker, so all workers route
 * alike and each node gets one probe per interval, not one per worker. A failure seen by this worker's
 * traffic takes the node down here at once and is reported to the primary, which tells the others.
 */
export class RelayedHealth implements HealthView {
  private readonly up: boolean[];
  private readonly onMessage = (m: unknown) => this.receive(m);

  constructor(
    nodeCount: number,
    private readonly onChange: HealthChangeListener,
    private readonly send: (m: ToPrimary) => void = (m) => process.send?.(m),
  ) {
    this.up = new Array<boolean>(nodeCount).fill(true);
  }

  isUp(index: number): boolean {
    return this.up[index] ?? false;
  }

  addNode(slot: number): void {
    this.up[slot] = true;
  }

  removeNode(slot: number): void {
    this.up[slot] = false;
  }

  markDown(index: number, reason: string, silent: boolean): void {
    if (!this.up[index]) return;
    this.set(index, false, reason, silent);
    this.send({ fnlb: 'node-failed', index, reason, silent });
  }

  start(): void {
    process.on('message', this.onMessage);
  }

  stop(): void {
    process.off('message', this.onMessage);
  }

  /** Applies a message from the primary (exposed for tests). */
  receive(m: unknown): void {
    if (!isToWorker(m)) return;
    if (m.fnlb === 'health') this.set(m.index, m.up, m.reason, m.silent === true);
    else if (m.fnlb === 'health-snapshot') m.up.forEach((up, i) => this.set(i, up, 'state from primary', false));
  }

  private set(index: number, up: boolean, reason: string, silent: boolean): void {
    if (index < 0 || index >= this.up.length || this.up[index] === up) return;
    this.up[index] = up;
    this.onChange(index, up, reason, silent);
  }
}
