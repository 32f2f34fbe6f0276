import type { NodeAddress } from '../membership/address.js';

/** What the balancer needs to know about node health, wherever the probes run. */
export interface HealthView {
  isUp(index: number): boolean;
  /** Passive failure seen by traffic: down at once. `silent`: as for HealthChangeListener. */
  markDown(index: number, reason: string, silent: boolean): void;
  /** A node joined at this slot (up until checks say otherwise). */
  addNode(slot: number, node: NodeAddress): void;
  /** A node left; its slot is not checked or reported any more. */
  removeNode(slot: number): void;
  start(): void;
  stop(): void;
}

/**
 * A node changed state. `silent` (false when it comes up): it went down because it stopped answering (a
 * check or a connect timed out, its host unreachable), not because it answered wrong (refused or reset a
 * connection, an error status to its check). Requests already written to a node that still answers wait
 * for its answer; those on a silent node may move.
 */
export type HealthChangeListener = (index: number, up: boolean, reason: string, silent: boolean) => void;
