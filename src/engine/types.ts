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
  /**
   * Passive failure seen by traffic (refused, connect timeout, reset before the request was sent).
   * `silent`: the node did not answer at all (a connect timeout, an unreachable host); see HealthChangeListener.
   */
  nodeFailed(index: number, reason: string, silent: boolean): void;
  /**
   * Called once per request when it ends, for access logs and metrics. The record is the exchange
   * itself (no allocation per request): read it during the call, never keep it.
   */
  finished(outcome: RequestOutcome): void;
  /** A request is sent again (same node on a fresh connection, or the next node); `reason` is the failure (retry-policy `Failure`). */
  retried(reason: string): void;
  /** fnlb answered a request itself at the connection level (framing errors, 408, 431, 503 over --max-connections). */
  rejected(info: RejectedRequest): void;
}

/** One finished request: what an access line and the metrics need. Valid only during finished(). */
export interface RequestOutcome {
  /** The client's address (the socket's remote address, read once per connection). */
  readonly client: string;
  readonly method: string;
  /** The full target as the client sent it (origin form). */
  readonly target: string;
  /** The request head: routing keys are computed from it. */
  readonly head: RequestHead;
  /** The last node tried, -1 if none. */
  readonly node: number;
  /** The first node of the ranking the exchange used (its owner), -1 if none. */
  readonly owner: number;
  /** The status the client got (fnlb's own, or the node's); 499 when the client left first. */
  readonly status: number;
  /** Attempts made (nodes tried, retries included). */
  readonly attempts: number;
  /** Request bytes received from the client for this request (head and body). */
  readonly bytesIn: number;
  /** Response bytes sent to the client (head and body). */
  readonly bytesOut: number;
  /** From the request head to the end, in ms (0 unless timesRequests). */
  readonly ms: number;
  /** The response had started and the client connection was cut before its end. */
  readonly cut: boolean;
  /** The request id: the client's, or the one fnlb generated; '' when --request-id-header is off. */
  readonly requestId: string;
  /** Why fnlb answered itself (its own 4xx/502/503/504: "connect refused", "no node up", ...); '' otherwise. */
  readonly reason: string;
}

/** A request fnlb answered itself before it became an exchange. */
export interface RejectedRequest {
  readonly client: string;
  readonly status: number;
  readonly reason: string;
  /** When the request line could be read; '' otherwise. */
  readonly method: string;
  readonly target: string;
}

/** Where and how a node is reached; built once per node. */
export interface NodeEndpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly basePath: string;
}

export type { EngineOptions } from '../config/options.js';
