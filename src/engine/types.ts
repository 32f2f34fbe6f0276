import type { RequestHead } from './http1/request-head.js';

/**
 * What the engine asks of the routing layer, in terms of node indices only: the engine knows bytes,
 * the dispatcher knows functions, rankings and health. Data flows one way: head → ranking → node.
 */
export interface Dispatcher {
  /** Node indices for this request, owner first (the same array may be shared; do not mutate). */
  ranking(head: RequestHead): readonly number[];
  isUp(index: number): boolean;
  /** How many nodes are up (bounded loads share the load among them); a warming node counts by its warmth. */
  upCount(): number;
  /** The share of a full load a node may carry now (below 1 while it warms up after coming back). */
  warmth(index: number): number;
  /** A node said how long this request waited there before it started (XXX-FXLB-WAIT), in ms. */
  reportWait(head: RequestHead, node: number, waitMs: number): void;
  /** finished() uses `ms`: when false the engine does not read the clock per request. */
  readonly timesRequests: boolean;
  /** Passive failure seen by traffic (refused, connect timeout, reset before the request was sent). */
  nodeFailed(index: number, reason: string): void;
  /**
   * Called once per request when it ends, for access logs and metrics. `node` is the last node tried,
   * -1 if none. `cut`: the response had started and the client connection was cut before its end
   * (the node broke off, stalled, or the client stopped reading).
   */
  finished(head: RequestHead, node: number, status: number, attempts: number, ms: number, cut: boolean): void;
}

/** Where and how a node is reached; built once per node. */
export interface NodeEndpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly basePath: string;
}

export type { EngineOptions } from '../config/options.js';
