/**
 * Where the node list comes from and where changes to it are written. One of:
 *
 * - --nodes alone: this process's table; changes live until it exits.
 * - --state-file: this process's table, written to the file on every change and read on SIGHUP.
 * - --registry: a PostgreSQL table shared by several instances; a change is written there first and
 *   comes back to every instance (this one included) as a new list; SIGHUP re-reads the table.
 * - --nodes-dns: DNS records; the list follows them and cannot be changed through the admin API.
 *
 * openMembership() gives the members to start from; attach() binds the source to the process that holds
 * the table (a serving balancer, or the primary of --workers) and returns the store the admin API writes
 * through. Lists that arrive from outside (registry, DNS) replace the table's contents with
 * MemberTable.replaceAll, so nodes kept keep their slots, health and connections.
 */
import { Resolver } from 'node:dns/promises';
import type { BalancerOptions } from '../config/options.js';
import type { Logger } from '../log.js';
import { DnsDiscovery } from '../discovery/dns.js';
import { entriesToMembers, membersToEntries, NodeRegistry, type RegistryEntry } from '../registry/registry.js';
import type { NodeAddress } from './address.js';
import { MemberTable, type MemberChange, type MembersSnapshot } from './member-table.js';
import { readStateFile, startingMembers, writeStateFile, type StateEntry } from './state-file.js';

/** One change an operator asks for (the admin API's verbs). */
export type MemberEdit =
  | { readonly op: 'add'; readonly address: NodeAddress }
  | { readonly op: 'remove'; readonly node: string }
  | { readonly op: 'weight'; readonly node: string; readonly weight: number }
  | { readonly op: 'drain'; readonly node: string; readonly draining: boolean };

/** The edit made to a table; throws MembershipError as the table does. */
export function applyEdit(table: MemberTable, edit: MemberEdit): MemberChange[] {
  switch (edit.op) {
    case 'add':
      return table.add(edit.address);
    case 'remove':
      return table.remove(edit.node);
    case 'weight':
      return table.setWeight(edit.node, edit.weight);
    case 'drain':
      return edit.draining ? table.drain(edit.node) : table.undrain(edit.node);
  }
}

/** The process that holds the membership table and applies changes to it everywhere it matters. */
export interface MembershipHolder {
  readonly members: MemberTable;
  change(fn: (table: MemberTable) => MemberChange[]): MemberChange[];
}

export type StoreKind = 'nodes' | 'state-file' | 'registry' | 'dns';

/** Where edits go and what a reload reads. */
export interface MembershipStore {
  readonly kind: StoreKind;
  /**
   * Makes the edit where the membership is kept and resolves once this process has applied it. Throws
   * MembershipError (refused), RegistryUnavailableError (nothing changed), ReadOnlyMembership (DNS) or
   * StateFileNotWritten (applied, not saved).
   */
  edit(edit: MemberEdit): Promise<void>;
  /** SIGHUP: reads the source again and applies it; what happened, as one log message. */
  reload(): Promise<string>;
  /** The registry's connection (null without one): for /readyz, /v1/config and fnlb_registry_up. */
  registry(): { readonly up: boolean; readonly url: string } | null;
  stop(): Promise<void>;
}

export interface MembershipSource {
  /** What to start from. */
  readonly members: MembersSnapshot;
  /** Where they came from, for the start-up line. */
  readonly from: string;
  attach(holder: MembershipHolder): MembershipStore;
}

/** The membership follows DNS: an admin change would be undone at the next lookup. */
export class ReadOnlyMembership extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadOnlyMembership';
  }
}

/** The change is applied but the state file could not be written. */
export class StateFileNotWritten extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateFileNotWritten';
  }
}

export interface OpenOptions {
  readonly log: Logger;
  /** The resolver --nodes-dns asks (tests); default: one for --dns-servers, or the system's. */
  readonly resolver?: Resolver;
  /** Reconnect delays of the registry (tests shorten them). */
  readonly registryBackoffMs?: { readonly min: number; readonly max: number };
}

/**
 * Opens the source the options name. Rejects with ConfigError for a state file that cannot be used or
 * a registry without a node, RegistryUnavailableError when the registry cannot be reached, and Error
 * when the first DNS lookup fails: in each case there is no node list to start from.
 */
export async function openMembership(
  options: Pick<
    BalancerOptions,
    'nodes' | 'stateFile' | 'registry' | 'registryPrefix' | 'registryResync' | 'nodesDns' | 'dnsInterval' | 'dnsServers'
  >,
  open: OpenOptions,
): Promise<MembershipSource> {
  if (options.registry !== null) return openRegistry(options.registry, options, open);
  if (options.nodesDns !== null) {
    let resolver = open.resolver;
    if (resolver === undefined && options.dnsServers.length > 0) {
      resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers(options.dnsServers);
    }
    return openDns(options.nodesDns, options.dnsInterval, { ...open, resolver });
  }
  const { members, source } = startingMembers(options.stateFile, options.nodes);
  return localSource(members, source, options.stateFile);
}

/** --nodes or --state-file: the table in this process is the membership. */
export function localSource(members: MembersSnapshot, from: string, stateFile: string | null): MembershipSource {
  return {
    members,
    from,
    attach: (holder) => ({
      kind: stateFile === null ? 'nodes' : 'state-file',
      edit: async (edit) => {
        holder.change((t) => applyEdit(t, edit));
        if (stateFile === null) return;
        try {
          writeStateFile(stateFile, holder.members.all());
        } catch (err) {
          throw new StateFileNotWritten(`change applied, but the state file could not be written: ${(err as Error).message}`);
        }
      },
      reload: async () => reloadStateFile(stateFile, (wanted) => holder.change((t) => t.replaceAll(wanted))),
      registry: () => null,
      stop: async () => {},
    }),
  };
}

/** A reload (SIGHUP) of the state file into a membership; the outcome as one log message. */
export function reloadStateFile(stateFile: string | null, replace: (wanted: readonly StateEntry[]) => readonly MemberChange[]): string {
  if (stateFile === null) return 'nothing to reload (no --state-file, --registry or --nodes-dns)';
  try {
    const wanted = readStateFile(stateFile);
    if (wanted === null) return `nothing to reload (${stateFile} does not exist)`;
    const changes = replace(wanted);
    return changes.length === 0 ? `${stateFile} reloaded: no change` : `${stateFile} reloaded: ${changes.length} change(s)`;
  } catch (err) {
    return `${stateFile} not reloaded, membership unchanged: ${(err as Error).message}`;
  }
}

/**
 * Lists that arrive before attach() are kept and applied on attach; after it, each is applied at once.
 * A list the table refuses (it never should: the sources check it) is logged and the old one stays.
 */
class ListFollower {
  private holder: MembershipHolder | null = null;
  latest: readonly RegistryEntry[] = [];

  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  accept(entries: readonly RegistryEntry[]): number {
    this.latest = entries;
    if (this.holder === null) return 0;
    try {
      return this.holder.change((t) => t.replaceAll(entriesToMembers(entries))).length;
    } catch (err) {
      this.log.warn({ source: this.what, err: (err as Error).message }, 'node list not applied; keeping the last one');
      return 0;
    }
  }

  attach(holder: MembershipHolder): void {
    this.holder = holder;
    this.accept(this.latest);
  }
}

async function openRegistry(
  url: string,
  options: Pick<BalancerOptions, 'nodes' | 'registryPrefix' | 'registryResync'>,
  open: OpenOptions,
): Promise<MembershipSource> {
  const follower = new ListFollower(open.log, 'registry');
  const registry = new NodeRegistry({
    url,
    tablePrefix: options.registryPrefix,
    resyncMs: options.registryResync,
    log: open.log,
    backoffMs: open.registryBackoffMs,
    onMembers: (entries) => void follower.accept(entries),
  });
  const { seeded } = await registry.start(membersToEntries(options.nodes));
  const members = MemberTable.fromList(entriesToMembers(follower.latest)).snapshot();
  const from = seeded
    ? 'registry (was empty: seeded from --nodes)'
    : options.nodes.length > 0
      ? 'registry (--nodes not used: it has nodes)'
      : 'registry';
  return {
    members,
    from,
    attach: (holder) => {
      follower.attach(holder);
      return {
        kind: 'registry',
        edit: async (edit) => {
          switch (edit.op) {
            case 'add':
              await registry.add({ node: edit.address.id, weight: edit.address.weight, draining: false });
              break;
            case 'remove':
              await registry.remove(edit.node);
              break;
            case 'weight':
              await registry.setWeight(edit.node, edit.weight);
              break;
            case 'drain':
              await registry.setDraining(edit.node, edit.draining);
              break;
          }
          // The notification would bring it too; reading now answers the API with the change applied here.
          await registry.refresh();
        },
        reload: async () => {
          if (!registry.up) return `registry ${registry.url} unreachable: keeping the last node list`;
          await registry.refresh();
          return `registry ${registry.url} re-read: ${follower.latest.length} node(s)`;
        },
        registry: () => ({ up: registry.up, url: registry.url }),
        stop: () => registry.stop(),
      };
    },
  };
}

async function openDns(spec: string, intervalMs: number, open: OpenOptions): Promise<MembershipSource> {
  const follower = new ListFollower(open.log, 'dns');
  const discovery = new DnsDiscovery({
    spec,
    intervalMs,
    log: open.log,
    resolver: open.resolver,
    onMembers: (e) => void follower.accept(e),
  });
  await discovery.start();
  return {
    members: MemberTable.fromList(entriesToMembers(follower.latest)).snapshot(),
    from: `dns ${spec}`,
    attach: (holder) => {
      follower.attach(holder);
      return {
        kind: 'dns',
        edit: async () => {
          throw new ReadOnlyMembership(`the nodes come from DNS (--nodes-dns ${spec}): change its records instead`);
        },
        reload: async () => {
          try {
            const changes = follower.accept(await discovery.lookup());
            return `dns ${spec} resolved again: ${changes} change(s)`;
          } catch (err) {
            return `dns ${spec} not resolved, keeping the last nodes: ${(err as Error).message}`;
          }
        },
        registry: () => null,
        stop: async () => discovery.stop(),
      };
    },
  };
}
