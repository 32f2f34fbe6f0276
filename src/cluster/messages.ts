import type { MembersSnapshot } from '../membership/member-table.js';

/** Messages between the primary (which runs the health checks and holds the membership) and the workers (which serve). */

/** Primary → worker: a node changed state, the whole health state, the membership, or a request for the worker's counters. */
export type ToWorker =
  | { readonly fnlb: 'health'; readonly index: number; readonly up: boolean; readonly reason: string; readonly silent: boolean }
  | { readonly fnlb: 'health-snapshot'; readonly up: readonly boolean[] }
  | { readonly fnlb: 'members'; readonly members: MembersSnapshot }
  | { readonly fnlb: 'stats-request'; readonly id: number };

/** Worker → primary: traffic saw a node fail; the worker is listening; the worker's counters. */
export type ToPrimary =
  | { readonly fnlb: 'node-failed'; readonly index: number; readonly reason: string; readonly silent: boolean }
  | { readonly fnlb: 'listening'; readonly address: string }
  | { readonly fnlb: 'stats'; readonly id: number; readonly stats: unknown };

const TO_WORKER: ReadonlySet<unknown> = new Set(['health', 'health-snapshot', 'members', 'stats-request']);
const TO_PRIMARY: ReadonlySet<unknown> = new Set(['node-failed', 'listening', 'stats']);

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && TO_WORKER.has((m as ToWorker).fnlb);
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && TO_PRIMARY.has((m as ToPrimary).fnlb);
}

/** The environment variable by which a new worker learns the membership (slots included) before its first message. */
export const MEMBERS_ENV = 'FNLB_WORKER_MEMBERS';
