/**
 * The node list shared by several fnlb instances, kept in a PostgreSQL table (<prefix>nodes).
 *
 * Writes are transactions that lock the table, check the change as MemberTable would (no duplicate, no
 * unknown node, always one node that gets requests) and send pg_notify on the same transaction, so the
 * notification goes out on commit and only then. Every instance, the writer included, LISTENs on a
 * dedicated connection and re-reads the whole (small) table on a notification, and every resyncMs in
 * case one was missed; onMembers gets the full list, ordered by address (byte order), whenever it
 * differs from the last one delivered.
 *
 * The registry being down never stops traffic: the last list stays, `up` turns false (logged once per
 * change of state, not per retry), writes fail fast with RegistryUnavailableError, and a reconnect
 * loop with exponential backoff and jitter LISTENs and re-reads as soon as the database answers again.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import { parseNodeAddress } from '../config/parse-address.js';
import { MembershipError } from '../membership/member-table.js';
import type { NodeAddress } from '../membership/address.js';
import { checkTablePrefix, redactUrl } from './url.js';

export { checkTablePrefix };

/** One node of the registry. `node` is the normalized id parseNodeAddress gives ("host:port[/base]"). */
export interface RegistryEntry {
  readonly node: string;
  readonly weight: number;
  readonly draining: boolean;
}

/** Registry entries as MemberTable.replaceAll (and Balancer.replaceMembers) take them. */
export function entriesToMembers(entries: readonly RegistryEntry[]): { address: NodeAddress; draining: boolean }[] {
  return entries.map((e) => ({ address: { ...parseNodeAddress(e.node), weight: e.weight }, draining: e.draining }));
}

/** The seed for start() from --nodes (addresses) or a member list (a state file's, a MemberTable's). */
export function membersToEntries(members: ReadonlyArray<NodeAddress | { address: NodeAddress; draining?: boolean }>): RegistryEntry[] {
  return members.map((m) => {
    const [address, draining] = 'address' in m ? [m.address, m.draining === true] : [m, false];
    return { node: address.id, weight: address.weight, draining };
  });
}

export interface NodeRegistryOptions {
  /** postgres:// or postgresql:// (see parseRegistryUrl). */
  readonly url: string;
  /** Table <prefix>nodes, channel <prefix>nodes_changed; /^[a-z_][a-z0-9_]{0,40}$/. Default 'fnlb_'. */
  readonly tablePrefix?: string;
  /** Full re-read period, healing missed notifications. Default 30 s. */
  readonly resyncMs?: number;
  readonly log: Logger;
  /** The full list, ordered by address, each time it changes (and once at start). */
  readonly onMembers: (entries: RegistryEntry[]) => void;
  readonly onStateChange?: (up: boolean) => void;
  /** Shown in pg_stat_activity. Default 'fnlb'. */
  readonly applicationName?: string;
  /** Bound on connecting (and on each query). Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Reconnect delays: first, doubled up to max (each with jitter). Default 250 ms to 10 s. */
  readonly backoffMs?: { readonly min: number; readonly max: number };
}

/** A change the registry refuses (duplicate, unknown node, last node that gets requests, bad weight). */
export class RegistryRefusal extends MembershipError {
  constructor(message: string, kind: 'invalid' | 'unknown' = 'invalid') {
    super(message, kind);
    this.name = 'RegistryRefusal';
  }
}

/** The registry cannot be reached: nothing was changed (or, if the connection broke at commit, maybe it was). */
export class RegistryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryUnavailableError';
  }
}

/** Advisory lock class for migrations: "fnlb" in ASCII; the key is the table name's hash. */
const LOCK_CLASS = 0x666e6c62;

interface Row {
  address: string;
  weight: number;
  draining: boolean;
}

/** Errors of the connection rather than of the statement: lost, refused, timed out, server shutting down. */
function isUnavailable(err: unknown): boolean {
  if (err instanceof RegistryUnavailableError) return true;
  if (!(err instanceof pg.DatabaseError)) return true;
  const code = err.code ?? '';
  return code.startsWith('08') || code.startsWith('57P') || code === '53300';
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  // Node's connect errors over several addresses (AggregateError) have a code but an empty message.
  if (e.code === undefined || message.includes(e.code)) return message || 'error';
  return message === '' ? e.code : `${e.code} ${message}`;
}

export class NodeRegistry {
  private readonly table: string;
  private readonly channel: string;
  private readonly shownUrl: string;
  private readonly resyncMs: number;
  private readonly timeoutMs: number;
  private readonly backoff: { readonly min: number; readonly max: number };
  private pool: pg.Pool | null = null;
  private listener: pg.Client | null = null;
  private isUp = false;
  private started = false;
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnecting = false;
  private resyncTimer: NodeJS.Timeout | null = null;
  private readLoop: Promise<void> | null = null;
  private readPending = false;
  private delivered: string | null = null;
  private emptyWarned = false;

  constructor(private readonly options: NodeRegistryOptions) {
    const prefix = checkTablePrefix(options.tablePrefix ?? 'fnlb_');
    // Validated above, so quoting is only for reserved words.
    this.table = `"${prefix}nodes"`;
    this.channel = `${prefix}nodes_changed`;
    this.shownUrl = redactUrl(options.url);
    this.resyncMs = options.resyncMs ?? 30_000;
    this.timeoutMs = options.connectTimeoutMs ?? 5000;
    this.backoff = options.backoffMs ?? { min: 250, max: 10_000 };
    if (!(this.resyncMs > 0)) throw new ConfigError(`--registry-resync: must be positive`);
  }

  /** The database answers and we LISTEN (for /readyz and fnlb_registry_up). */
  get up(): boolean {
    return this.isUp;
  }

  /** The URL with its password redacted. */
  get url(): string {
    return this.shownUrl;
  }

  /**
   * Connects, creates the table if missing, seeds it with `seed` only when it is empty, LISTENs, reads it
   * and calls onMembers. Rejects with RegistryUnavailableError when the database cannot be reached, and
   * with ConfigError when the table has no node that gets requests (fnlb never starts with none).
   */
  async start(seed: readonly RegistryEntry[]): Promise<{ seeded: boolean }> {
    if (this.started) throw new Error('NodeRegistry.start called twice');
    this.started = true;
    const rows = seed.map((e) => this.checked(e));
    this.pool = new pg.Pool({
      connectionString: this.options.url,
      application_name: this.options.applicationName ?? 'fnlb',
      max: 2,
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      keepAlive: true,
    });
    // An idle pooled connection that breaks is dropped by the pool; the listener notices the outage.
    this.pool.on('error', (err) => this.options.log.debug({ err: describe(err) }, 'registry pool connection lost'));
    try {
      const seeded = await this.migrate(rows);
      // LISTEN before the first read: a change committed in between is then announced, not missed.
      await this.listen();
      const entries = await this.read();
      if (this.listener === null) throw new RegistryUnavailableError('connection lost while starting');
      if (!entries.some((e) => !e.draining)) {
        throw new ConfigError(`registry ${this.table} at ${this.shownUrl} has no node that gets requests; seed it with --nodes or add one`);
      }
      this.deliver(entries);
      this.isUp = true;
      this.resyncTimer = setInterval(() => {
        if (this.isUp) void this.refresh();
      }, this.resyncMs);
      this.resyncTimer.unref();
      return { seeded };
    } catch (err) {
      await this.stop();
      if (err instanceof ConfigError) throw err;
      if (isUnavailable(err)) throw new RegistryUnavailableError(`registry unreachable at ${this.shownUrl}: ${describe(err)}`);
      throw new Error(`registry ${this.table} at ${this.shownUrl}: ${describe(err)}`);
    }
  }

  /** Closes the connections and clears the timers; nothing of the registry keeps the process alive afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.isUp = false;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.resyncTimer !== null) clearInterval(this.resyncTimer);
    this.reconnectTimer = this.resyncTimer = null;
    const listener = this.listener;
    this.listener = null;
    const pool = this.pool;
    this.pool = null;
    await Promise.allSettled([listener?.end(), pool?.end()]);
  }

  /** Adds a node; refuses a duplicate. True (always) when it changed the table. */
  async add(entry: RegistryEntry): Promise<boolean> {
    const row = this.checked(entry);
    return this.write(row.address, async (rows, db) => {
      if (rows.some((r) => r.address === row.address)) throw new RegistryRefusal(`node ${row.address} is already a member`);
      if (row.draining && !rows.some((r) => !r.draining)) throw new RegistryRefusal('the new node list has no node that gets requests');
      await db.query(`INSERT INTO ${this.table} (address, weight, draining) VALUES ($1, $2, $3)`, [row.address, row.weight, row.draining]);
      return true;
    });
  }

  /** Removes a node; refuses an unknown one and the last one that gets requests. */
  async remove(node: string): Promise<boolean> {
    const id = this.nodeId(node);
    return this.write(id, async (rows, db) => {
      const r = this.find(rows, id);
      if (!r.draining && rows.filter((x) => !x.draining).length === 1) {
        throw new RegistryRefusal(`node ${id} is the last node that gets requests; add another before removing it`);
      }
      await db.query(`DELETE FROM ${this.table} WHERE address = $1`, [id]);
      return true;
    });
  }

  /** Sets a node's weight; false when it already had it (nothing written, nothing announced). */
  async setWeight(node: string, weight: number): Promise<boolean> {
    const id = this.nodeId(node);
    checkWeight(weight);
    return this.write(id, async (rows, db) => {
      if (this.find(rows, id).weight === weight) return false;
      await db.query(`UPDATE ${this.table} SET weight = $2, updated_at = now() WHERE address = $1`, [id, weight]);
      return true;
    });
  }

  /** Drains (true) or undrains (false) a node; refuses draining the last one that gets requests. */
  async setDraining(node: string, draining: boolean): Promise<boolean> {
    const id = this.nodeId(node);
    return this.write(id, async (rows, db) => {
      const r = this.find(rows, id);
      if (r.draining === draining) return false;
      if (draining && rows.filter((x) => !x.draining).length === 1) {
        throw new RegistryRefusal(`node ${id} is the last node that gets requests; add another before draining it`);
      }
      await db.query(`UPDATE ${this.table} SET draining = $2, updated_at = now() WHERE address = $1`, [id, draining]);
      return true;
    });
  }

  /**
   * Re-reads the table now and calls onMembers if the list changed; resolves once a read that began after
   * the call has finished (never rejects: a failure is logged, or marks the registry down).
   */
  refresh(): Promise<void> {
    if (this.stopped || this.pool === null) return Promise.resolve();
    this.readPending = true;
    this.readLoop ??= this.runReads();
    return this.readLoop;
  }

  private async runReads(): Promise<void> {
    try {
      while (this.readPending && !this.stopped) {
        this.readPending = false;
        try {
          this.deliver(await this.read());
        } catch (err) {
          if (isUnavailable(err)) this.lost(err);
          else this.options.log.warn({ registry: this.shownUrl, err: describe(err) }, 'registry read failed');
        }
      }
    } finally {
      this.readLoop = null;
    }
  }

  /** Creates the table if missing and seeds it when empty, under a lock so that instances starting together seed once. */
  private async migrate(seed: readonly Row[]): Promise<boolean> {
    return this.transaction(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, this.table]);
      await db.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
          address text PRIMARY KEY,
          weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight < 'Infinity'),
          draining boolean NOT NULL DEFAULT false,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
      if (seed.length === 0) return false;
      const { rows } = await db.query(`SELECT EXISTS (SELECT 1 FROM ${this.table}) AS taken`);
      if (rows[0].taken === true) return false;
      await db.query(`INSERT INTO ${this.table} (address, weight, draining) SELECT * FROM unnest($1::text[], $2::float8[], $3::bool[])`, [
        seed.map((r) => r.address),
        seed.map((r) => r.weight),
        seed.map((r) => r.draining),
      ]);
      await db.query('SELECT pg_notify($1, $2)', [this.channel, 'seeded']);
      return true;
    });
  }

  private async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.pool;
    if (pool === null) throw new RegistryUnavailableError(`registry is stopped`);
    const db = await pool.connect();
    try {
      await db.query('BEGIN');
      const result = await fn(db);
      await db.query('COMMIT');
      db.release();
      return result;
    } catch (err) {
      // A broken connection goes back to the pool destroyed; a refused change is rolled back and reused.
      if (isUnavailable(err)) db.release(true);
      else
        await db.query('ROLLBACK').then(
          () => db.release(),
          () => db.release(true),
        );
      throw err;
    }
  }

  /** One change: locked against other writers, checked against the current rows, announced on commit. */
  private async write(address: string, change: (rows: Row[], db: pg.PoolClient) => Promise<boolean>): Promise<boolean> {
    if (!this.isUp) throw new RegistryUnavailableError(`registry unreachable at ${this.shownUrl}; the change was not made`);
    let changed: boolean;
    try {
      changed = await this.transaction(async (db) => {
        // EXCLUSIVE still lets readers in, but serializes writers, so two instances cannot drain the last two nodes at once.
        await db.query(`LOCK TABLE ${this.table} IN EXCLUSIVE MODE`);
        const { rows } = await db.query<Row>(`SELECT address, weight, draining FROM ${this.table}`);
        const did = await change(rows, db);
        if (did) await db.query('SELECT pg_notify($1, $2)', [this.channel, address]);
        return did;
      });
    } catch (err) {
      if (err instanceof MembershipError || !isUnavailable(err)) throw err;
      this.lost(err);
      throw new RegistryUnavailableError(`registry unreachable at ${this.shownUrl}: ${describe(err)}; the change may not have been made`);
    }
    // The notification will say so too, but a caller that answers an API request wants its change applied here first.
    if (changed) await this.refresh();
    return changed;
  }

  private async read(): Promise<RegistryEntry[]> {
    const pool = this.pool;
    if (pool === null) throw new RegistryUnavailableError('registry is stopped');
    const { rows } = await pool.query<Row>(`SELECT address, weight, draining FROM ${this.table} ORDER BY address COLLATE "C"`);
    const entries: RegistryEntry[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      // Rows written by hand may be unnormalized or wrong: skip what fnlb cannot route to, say so.
      let id: string;
      try {
        id = parseNodeAddress(r.address).id;
      } catch (err) {
        this.options.log.warn({ registry: this.shownUrl, address: r.address, err: (err as Error).message }, 'registry row skipped');
        continue;
      }
      if (seen.has(id)) {
        this.options.log.warn({ registry: this.shownUrl, address: r.address }, 'registry row skipped (same node twice)');
        continue;
      }
      seen.add(id);
      entries.push({ node: id, weight: Number(r.weight), draining: r.draining === true });
    }
    return entries;
  }

  private deliver(entries: RegistryEntry[]): void {
    if (this.stopped) return;
    const key = JSON.stringify(entries);
    if (key === this.delivered) return;
    if (!entries.some((e) => !e.draining)) {
      // Keep routing by the last list rather than by none.
      if (!this.emptyWarned)
        this.options.log.warn({ registry: this.shownUrl }, 'registry has no node that gets requests; keeping the last list');
      this.emptyWarned = true;
      return;
    }
    this.emptyWarned = false;
    try {
      this.options.onMembers(entries);
      this.delivered = key;
    } catch (err) {
      // Not recorded as delivered: the next read tries again.
      this.options.log.warn({ registry: this.shownUrl, err: (err as Error).message }, 'registry list not applied');
    }
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.applicationName ?? 'fnlb',
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('error', (err) => this.listenerLost(client, err));
    client.on('end', () => this.listenerLost(client, new RegistryUnavailableError('connection closed')));
    client.on('notification', (n) => {
      if (client === this.listener && n.channel === this.channel) void this.refresh();
    });
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      if (this.listener === client) this.listener = null;
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  private listenerLost(client: pg.Client, err: unknown): void {
    if (client !== this.listener) return;
    this.lost(err);
  }

  /** The connection is gone: keep the last list, say so once, and reconnect in the background. */
  private lost(err: unknown): void {
    if (this.stopped || !this.started) return;
    const listener = this.listener;
    this.listener = null;
    listener?.end().catch(() => undefined);
    if (this.isUp) {
      this.isUp = false;
      this.options.log.warn({ registry: this.shownUrl, err: describe(err) }, 'registry unreachable');
      this.options.onStateChange?.(false);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== null || this.reconnecting) return;
    const ceiling = Math.min(this.backoff.max, this.backoff.min * 2 ** this.attempt);
    this.attempt++;
    // Jitter: instances that lost the database together do not all come back in the same millisecond.
    const delay = ceiling * (0.5 + Math.random() * 0.5);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    this.reconnecting = true;
    let entries: RegistryEntry[];
    try {
      await this.listen();
      // The table may be new (a database restored empty): create it again, without seeding.
      await this.migrate([]);
      entries = await this.read();
    } catch (err) {
      this.reconnecting = false;
      const listener = this.listener;
      this.listener = null;
      await listener?.end().catch(() => undefined);
      this.options.log.debug({ registry: this.shownUrl, err: describe(err), attempt: this.attempt }, 'registry reconnect failed');
      this.scheduleReconnect();
      return;
    }
    this.reconnecting = false;
    if (this.stopped) return;
    if (this.listener === null) return this.scheduleReconnect(); // lost again meanwhile
    this.attempt = 0;
    this.isUp = true;
    this.options.log.info({ registry: this.shownUrl }, 'registry back');
    this.options.onStateChange?.(true);
    this.deliver(entries);
  }

  private checked(entry: RegistryEntry): Row {
    checkWeight(entry.weight);
    return { address: this.nodeId(entry.node), weight: entry.weight, draining: entry.draining === true };
  }

  private nodeId(node: string): string {
    try {
      return parseNodeAddress(node).id;
    } catch (err) {
      throw new RegistryRefusal((err as Error).message);
    }
  }

  private find(rows: readonly Row[], id: string): Row {
    const r = rows.find((x) => x.address === id);
    if (r === undefined) throw new RegistryRefusal(`node ${id} is not a member`, 'unknown');
    return r;
  }
}

function checkWeight(weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new RegistryRefusal(`invalid weight ${JSON.stringify(weight)}; must be a positive number`);
  }
}
