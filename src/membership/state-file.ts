/**
 * The membership kept across restarts (--state-file): JSON, one entry per current member, written on
 * every change by temp file + fsync + rename, so a crash mid-write leaves the old file or the new one,
 * never half of one. A file that exists but cannot be read or understood is an error, never an empty
 * list: starting with no nodes (or the wrong ones) is worse than not starting.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseNodeAddress } from '../config/parse-address.js';
import type { NodeAddress } from './address.js';
import { MemberTable, type Member, type MembersSnapshot } from './member-table.js';

export interface StateEntry {
  readonly address: NodeAddress;
  readonly draining: boolean;
}

const FORMAT = 1;

/** The members a state file holds; null when there is no file yet. Throws ConfigError when it is unusable. */
export function readStateFile(path: string): StateEntry[] | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return null;
    throw new ConfigError(`--state-file: cannot read ${path}: ${e.code ?? e.message}`);
  }
  return parseState(text, path);
}

/** The members of a state file's text; throws ConfigError saying what is wrong. */
export function parseState(text: string, path: string): StateEntry[] {
  const bad = (why: string) => new ConfigError(`--state-file: ${path} is not a usable state file (${why}); fix or remove it`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`invalid JSON: ${(err as Error).message}`);
  }
  const d = data as { format?: unknown; nodes?: unknown } | null;
  if (typeof d !== 'object' || d === null || d.format !== FORMAT) throw bad(`expected {"format": ${FORMAT}, "nodes": [...]}`);
  if (!Array.isArray(d.nodes)) throw bad('"nodes" is not a list');
  const seen = new Set<string>();
  const entries = d.nodes.map((n: unknown, i: number): StateEntry => {
    const e = n as { node?: unknown; weight?: unknown; draining?: unknown } | null;
    if (typeof e !== 'object' || e === null || typeof e.node !== 'string') throw bad(`nodes[${i}] has no "node" address`);
    let address: NodeAddress;
    try {
      address = parseNodeAddress(e.node);
    } catch (err) {
      throw bad(`nodes[${i}]: ${(err as Error).message}`);
    }
    const weight = e.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) throw bad(`nodes[${i}]: weight must be a positive number`);
    if (e.draining !== undefined && typeof e.draining !== 'boolean') throw bad(`nodes[${i}]: draining must be true or false`);
    if (seen.has(address.id)) throw bad(`node ${address.id} is listed twice`);
    seen.add(address.id);
    return { address: { ...address, weight }, draining: e.draining === true };
  });
  if (!entries.some((e) => !e.draining)) throw bad('no node that gets requests');
  return entries;
}

export function formatState(members: readonly Member[]): string {
  const nodes = members
    .filter((m) => !m.removed)
    .map((m) => ({ node: m.address.id, weight: m.address.weight, ...(m.draining ? { draining: true } : undefined) }));
  return `${JSON.stringify({ format: FORMAT, nodes }, null, 2)}\n`;
}

/** Replaces the file atomically. Synchronous: membership changes are rare and must be on disk before they are acknowledged. */
export function writeStateFile(path: string, members: readonly Member[]): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeSync(fd, formatState(members));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/** Where the starting membership came from, for the start-up log line. */
export type MembersSource = 'nodes' | 'state-file' | 'nodes, state file created';

/**
 * The membership to start with: the state file's when it exists (then --nodes is only its seed), else
 * `nodes`, written to a new state file at once so the next start finds it.
 */
export function startingMembers(
  stateFile: string | null,
  nodes: readonly NodeAddress[],
): { members: MembersSnapshot; source: MembersSource } {
  if (stateFile !== null) {
    const saved = readStateFile(stateFile);
    if (saved !== null) return { members: MemberTable.fromList(saved).snapshot(), source: 'state-file' };
  }
  if (nodes.length === 0) throw new ConfigError('--nodes: no nodes given and no state file yet (set --nodes or FNLB_NODES)');
  const table = new MemberTable(nodes);
  if (stateFile === null) return { members: table.snapshot(), source: 'nodes' };
  try {
    writeStateFile(stateFile, table.all());
  } catch (err) {
    throw new ConfigError(`--state-file: cannot write ${stateFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { members: table.snapshot(), source: 'nodes, state file created' };
}
