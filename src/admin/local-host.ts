import type { HealthDetail } from '../health/health-checker.js';
import type { MemberChange, MemberTable } from '../membership/member-table.js';
import type { MembershipStore } from '../membership/sources.js';
import type { AdminHost, TrafficView } from './host.js';

/** What the admin API reads from a balancer serving in this very process. */
export interface ServingProcess {
  readonly members: MemberTable;
  readonly store: MembershipStore;
  isUp(slot: number): boolean;
  healthDetail(slot: number): HealthDetail | null;
  warmth(slot: number): number;
  rank(key: string): readonly number[];
  keyOfPath(path: string): string | null;
  isListening(): boolean;
  traffic(): TrafficView;
  metrics(): Promise<{ contentType: string; body: string }>;
  onHealthChange(listener: (slot: number, up: boolean, reason: string) => void): void;
  on(event: 'members', listener: (changes: readonly MemberChange[]) => void): unknown;
}

/** The admin host of a single process: everything is local. */
export function localHost(p: ServingProcess): AdminHost {
  return {
    healthView: 'local',
    members: p.members,
    store: p.store,
    isUp: (slot) => p.isUp(slot),
    health: (slot) => p.healthDetail(slot),
    warmth: (slot) => p.warmth(slot),
    rank: (key) => p.rank(key),
    keyOfPath: (path) => p.keyOfPath(path),
    listening: () => p.isListening(),
    traffic: async () => p.traffic(),
    metrics: () => p.metrics(),
    onHealthChange: (listener) => p.onHealthChange(listener),
    onMembersChange: (listener) => p.on('members', listener),
  };
}
