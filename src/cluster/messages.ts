/** Messages between the primary (which runs the health checks) and the workers (which serve). */

/** Primary → worker: a node changed state, or the whole state for a new worker. */
export type ToWorker =
  | { readonly fnlb: 'health'; readonly index: number; readonly up: boolean; readonly reason: string }
  | { readonly fnlb: 'health-snapshot'; readonly up: readonly boolean[] };

/** Worker → primary: traffic saw a node fail; or the worker is listening. */
export type ToPrimary =
  | { readonly fnlb: 'node-failed'; readonly index: number; readonly reason: string }
  | { readonly fnlb: 'listening'; readonly address: string };

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && ((m as ToWorker).fnlb === 'health' || (m as ToWorker).fnlb === 'health-snapshot');
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && ((m as ToPrimary).fnlb === 'node-failed' || (m as ToPrimary).fnlb === 'listening');
}
