/**
 * The node list as it changes at runtime. Each node gets a slot: an index that stays its own for the
 * life of the process (per-node arrays everywhere are indexed by it), appended on add and never reused
 * after removal, so a request in flight on a removed node still finds its pool and counters.
 *
 * Routing sees only routable members (not removed, not draining); a draining node keeps its slot, its
 * health checks and its requests in flight, but gets no new ones.
 *
 * Every change bumps `version`; a snapshot (plain JSON, for worker processes and the state file's
 * content) applied to another table yields the same slots and the list of changes to carry out.
 */
import { Ranking } from '../hashing/rendezvous.js';
import type { NodeAddress } from './address.js';

export interface Member {
  readonly slot: number;
  readonly address: NodeAddress;
  readonly draining: boolean;
  readonly removed: boolean;
}

export interface MembersSnapshot {
  readonly version: number;
  readonly members: readonly Member[];
}

export type MemberChange =
  | { readonly kind: 'added'; readonly slot: number }
  | { readonly kind: 'removed'; readonly slot: number }
  | { readonly kind: 'weight'; readonly slot: number }
  | { readonly kind: 'draining'; readonly slot: number }
  | { readonly kind: 'undrained'; readonly slot: number };

/** A change that cannot be made; the message says why, for the operator. */
export class MembershipError extends Error {
  constructor(
    message: string,
    /** 'unknown': no such node (404-like); 'invalid': the change itself is refused. */
    readonly kind: 'invalid' | 'unknown' = 'invalid',
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

export class MemberTable {
  private slots: Member[] = [];
  private bySlotId = new Map<string, number>();
  version = 0;

  constructor(initial: readonly NodeAddress[] = []) {
    for (const address of initial) this.append(address, false);
  }

  /** A table in the state of a snapshot (a worker starting from its primary's table). */
  static fromSnapshot(s: MembersSnapshot): MemberTable {
    const t = new MemberTable();
    t.applySnapshot(s);
    t.version = s.version;
    return t;
  }

  /** A table of these members in this order (a state file's list). */
  static fromList(list: ReadonlyArray<{ address: NodeAddress; draining: boolean }>): MemberTable {
    const t = new MemberTable();
    t.replaceAll(list);
    return t;
  }

  /** Every slot ever used, removed ones included, by slot. */
  all(): readonly Member[] {
    return this.slots;
  }

  /** Members not removed (draining ones included), in slot order. */
  current(): Member[] {
    return this.slots.filter((m) => !m.removed);
  }

  /** Members that get new requests. */
  routable(): Member[] {
    return this.slots.filter((m) => !m.removed && !m.draining);
  }

  get size(): number {
    return this.slots.length;
  }

  /** The current member with this id (removed ones are not found). */
  find(id: string): Member | undefined {
    const slot = this.bySlotId.get(id);
    return slot === undefined ? undefined : this.slots[slot];
  }

  add(address: NodeAddress): MemberChange[] {
    if (this.bySlotId.has(address.id)) throw new MembershipError(`node ${address.id} is already a member`);
    const slot = this.append(address, false);
    return this.changed([{ kind: 'added', slot }]);
  }

  remove(id: string): MemberChange[] {
    const m = this.require(id);
    if (!m.draining && this.routable().length === 1) {
      throw new MembershipError(`node ${id} is the last node that gets requests; add another before removing it`);
    }
    this.replace({ ...m, removed: true });
    this.bySlotId.delete(id);
    return this.changed([{ kind: 'removed', slot: m.slot }]);
  }

  setWeight(id: string, weight: number): MemberChange[] {
    checkWeight(weight);
    const m = this.require(id);
    if (m.address.weight === weight) return [];
    this.replace({ ...m, address: { ...m.address, weight } });
    return this.changed([{ kind: 'weight', slot: m.slot }]);
  }

  /** Draining: no new requests (its functions go to their fallbacks as on removal), in flight ones finish. */
  drain(id: string): MemberChange[] {
    const m = this.require(id);
    if (m.draining) return [];
    if (this.routable().length === 1)
      throw new MembershipError(`node ${id} is the last node that gets requests; add another before draining it`);
    this.replace({ ...m, draining: true });
    return this.changed([{ kind: 'draining', slot: m.slot }]);
  }

  undrain(id: string): MemberChange[] {
    const m = this.require(id);
    if (!m.draining) return [];
    this.replace({ ...m, draining: false });
    return this.changed([{ kind: 'undrained', slot: m.slot }]);
  }

  /**
   * Makes the current members exactly `wanted` (from a reloaded state file or another source): nodes
   * kept keep their slots, new ones get new slots, missing ones are removed. All or nothing.
   */
  replaceAll(wanted: ReadonlyArray<{ address: NodeAddress; draining: boolean }>): MemberChange[] {
    if (!wanted.some((w) => !w.draining)) throw new MembershipError('the new node list has no node that gets requests');
    const ids = new Set<string>();
    for (const w of wanted) {
      if (ids.has(w.address.id)) throw new MembershipError(`node ${w.address.id} is listed twice`);
      checkWeight(w.address.weight);
      ids.add(w.address.id);
    }
    const changes: MemberChange[] = [];
    for (const m of this.current()) {
      if (ids.has(m.address.id)) continue;
      this.replace({ ...m, removed: true });
      this.bySlotId.delete(m.address.id);
      changes.push({ kind: 'removed', slot: m.slot });
    }
    for (const w of wanted) {
      const m = this.find(w.address.id);
      if (m === undefined) {
        const slot = this.append(w.address, w.draining);
        changes.push({ kind: 'added', slot });
        continue;
      }
      if (m.address.weight !== w.address.weight) {
        this.replace({ ...m, address: { ...m.address, weight: w.address.weight } });
        changes.push({ kind: 'weight', slot: m.slot });
      }
      if (m.draining !== w.draining) {
        this.replace({ ...this.slots[m.slot], draining: w.draining });
        changes.push({ kind: w.draining ? 'draining' : 'undrained', slot: m.slot });
      }
    }
    return this.changed(changes);
  }

  snapshot(): MembersSnapshot {
    return { version: this.version, members: this.slots.slice() };
  }

  /**
   * Adopts another table's state (a worker following its primary). Slots must agree: a snapshot is
   * only ever taken from a table that started from the same list, so a slot never changes its node.
   */
  applySnapshot(s: MembersSnapshot): MemberChange[] {
    if (s.version <= this.version && s.members.length === this.slots.length && this.slots.length > 0) return [];
    const changes: MemberChange[] = [];
    for (const next of s.members) {
      const prev = this.slots[next.slot];
      if (prev !== undefined && prev.address.id !== next.address.id) {
        throw new MembershipError(`slot ${next.slot} is ${prev.address.id} here but ${next.address.id} in the snapshot`);
      }
      if (prev === undefined) {
        this.slots[next.slot] = next;
        if (!next.removed) {
          this.bySlotId.set(next.address.id, next.slot);
          changes.push({ kind: 'added', slot: next.slot });
          if (next.draining) changes.push({ kind: 'draining', slot: next.slot });
        }
        continue;
      }
      if (prev.removed) continue;
      this.slots[next.slot] = next;
      if (next.removed) {
        this.bySlotId.delete(next.address.id);
        changes.push({ kind: 'removed', slot: next.slot });
        continue;
      }
      if (prev.address.weight !== next.address.weight) changes.push({ kind: 'weight', slot: next.slot });
      if (prev.draining !== next.draining) changes.push({ kind: next.draining ? 'draining' : 'undrained', slot: next.slot });
    }
    this.version = s.version;
    return changes;
  }

  private append(address: NodeAddress, draining: boolean): number {
    const slot = this.slots.length;
    this.slots.push({ slot, address, draining, removed: false });
    this.bySlotId.set(address.id, slot);
    return slot;
  }

  private replace(m: Member): void {
    this.slots[m.slot] = m;
  }

  private require(id: string): Member {
    const m = this.find(id);
    if (m === undefined) throw new MembershipError(`node ${id} is not a member`, 'unknown');
    return m;
  }

  private changed(changes: MemberChange[]): MemberChange[] {
    if (changes.length > 0) this.version++;
    return changes;
  }
}

function checkWeight(weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new MembershipError(`invalid weight ${JSON.stringify(weight)}; must be a positive number`);
  }
}

/** Rankings over the members that get requests, reporting slots: what every process routes by. */
export function routableRanking(table: MemberTable): Ranking {
  const routable = table.routable();
  return new Ranking(
    routable.map((m) => m.address),
    undefined,
    routable.map((m) => m.slot),
  );
}
