import type { NodeAddress } from '../membership/address.js';

/** What the balancer needs to know about node health, wherever the probes run. */
export interface HealthView {
  isUp(index: number): boolean;
  /** Passive failure seen by traffic: down at once. */
  markDown(index: number, reason: string): void;
  /** A node joined at this slot (up until checks say otherwise). */
  addNode(slot: number, node: NodeAddress): void;
  /** A node left; its slot is not checked or reported any more. */
  removeNode(slot: number): void;
  start(): void;
  stop(): void;
}

export type HealthChangeListener = (index: number, up: boolean, reason: string) => void;
