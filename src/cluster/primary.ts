import cluster, { type Worker } from 'node:cluster';
import { healthCheckOptions, logNodeState } from '../balancer.js';
import type { MembershipSource } from '../membership/sources.js';
import { HealthChecker, type HealthChangeListener } from '../health/health-checker.js';
import { exitAfterLogs, flushLogger, type Logger } from '../log.js';
import type { BalancerOptions } from '../config/options.js';
import { MemberTable, routableRanking, type MemberChange } from '../membership/member-table.js';
import { functionKey } from '../hashing/routing-key.js';
import { AdminApi } from '../admin/api.js';
import type { AdminHost } from '../admin/host.js';
import { membersMetrics, trafficView } from '../admin/traffic-view.js';
import { mergeSnapshots, type StatsSnapshot } from '../metrics/index.js';
import { AdminServer } from '../admin/server.js';
import { isToPrimary, MEMBERS_ENV, type ToWorker } from './messages.js';

/** A worker that dies within this long of its start is restarted after a pause, not at once. */
const QUICK_DEATH_MS = 1000;

/** How long a scrape or a dashboard poll waits for the workers' counters. */
const STATS_WAIT_MS = 1000;

/**
 * The primary of `--workers N`: forks the workers (which share the listening socket and accept from it
 * directly), runs the health checks once for all of them and relays every change, holds the membership
 * (the admin API runs here) and relays every change of it, sums the workers' counters on request,
 * restarts a worker that dies, and on SIGTERM/SIGINT drains them all.
 */
export function runPrimary(options: BalancerOptions, logger: Logger, source: MembershipSource): void {
  // Workers accept from the shared socket themselves: no hop through the primary per connection.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const table = MemberTable.fromSnapshot(source.members);
  let ranking = routableRanking(table);
  const broadcast = (m: ToWorker) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(m);
  };
  const healthListeners: HealthChangeListener[] = [];
  const membersListeners: Array<(changes: readonly MemberChange[]) => void> = [];
  const checker = new HealthChecker(
    table.all().map((m) => m.address),
    healthCheckOptions(options),
    (index, up, reason, silent) => {
      logNodeState(logger, table.all()[index].address.id, up, reason);
      broadcast({ fnlb: 'health', index, up, reason, silent });
      for (const l of healthListeners) l(index, up, reason, silent);
    },
  );
  for (const m of table.all()) if (m.removed) checker.removeNode(m.slot);
  const healthSnapshot = (): ToWorker => ({ fnlb: 'health-snapshot', up: table.all().map((m) => checker.isUp(m.slot)) });

  const change = (fn: (t: MemberTable) => MemberChange[]): MemberChange[] => {
    const changes = fn(table);
    if (changes.length === 0) return changes;
    for (const c of changes) {
      const m = table.all()[c.slot];
      if (c.kind === 'added') checker.addNode(c.slot, m.address);
      else if (c.kind === 'removed') checker.removeNode(c.slot);
      logger.info({ node: m.address.id, change: c.kind, weight: m.address.weight }, 'membership changed');
    }
    ranking = routableRanking(table);
    broadcast({ fnlb: 'members', members: table.snapshot() });
    for (const l of membersListeners) l(changes);
    return changes;
  };
  // Lists from a registry or DNS go through change() too, so workers follow them as they follow the API.
  const store = source.attach({ members: table, change });

  // Counters live in the workers: a read asks each and sums what comes back in time.
  let nextStatsId = 1;
  const pendingStats = new Map<number, { replies: unknown[]; expected: number; done: (replies: unknown[]) => void }>();
  const gatherStats = (): Promise<unknown[]> =>
    new Promise((resolve) => {
      const workers = Object.values(cluster.workers ?? {}).filter((w) => w?.isConnected());
      if (workers.length === 0) return resolve([]);
      const id = nextStatsId++;
      const timer = setTimeout(() => finish(), STATS_WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        const p = pendingStats.get(id);
        pendingStats.delete(id);
        resolve(p?.replies ?? []);
      };
      pendingStats.set(id, { replies: [], expected: workers.length, done: finish });
      for (const w of workers) w!.send({ fnlb: 'stats-request', id } satisfies ToWorker);
    });

  const host: AdminHost = {
    healthView: 'primary',
    members: table,
    store,
    isUp: (slot) => checker.isUp(slot),
    health: (slot) => checker.detail(slot),
    warmth: () => 1,
    rank: (key) => ranking.rank(key),
    keyOfPath: (path) => (options.hashKey.kind === 'header' ? null : functionKey(path)),
    listening: () => announced,
    traffic: async () => trafficView(await mergedStats(), table.all()),
    metrics: async () => ({ contentType: prometheus.contentType, body: await prometheus.render() }),
    onHealthChange: (l) => healthListeners.push(l),
    onMembersChange: (l) => membersListeners.push(l),
  };
  let admin: AdminServer | null = null;
  // Counters live in the workers; a scrape or a poll sums theirs.
  const mergedStats = async (): Promise<StatsSnapshot> => mergeSnapshots((await gatherStats()) as StatsSnapshot[]);
  const prometheus = membersMetrics(
    mergedStats,
    () => table.all(),
    (slot) => ({ up: checker.isUp(slot), detail: checker.detail(slot) }),
    () => store.registry()?.up ?? null,
  );

  let stopping = false;
  let announced = false;
  const listening = new Set<number>();
  const startedAt = new Map<number, number>();

  const fork = (): Worker => {
    // The worker starts from the membership as it is now, slots included; later changes come as messages.
    const worker = cluster.fork({ [MEMBERS_ENV]: JSON.stringify(table.snapshot()) });
    startedAt.set(worker.id, Date.now());
    worker.on('online', () => worker.send(healthSnapshot()));
    worker.on('message', (m: unknown) => {
      if (!isToPrimary(m)) return;
      if (m.fnlb === 'node-failed') {
        checker.markDown(m.index, m.reason, m.silent === true);
      } else if (m.fnlb === 'stats') {
        const p = pendingStats.get(m.id);
        if (p === undefined) return;
        p.replies.push(m.stats);
        if (p.replies.length >= p.expected) p.done(p.replies);
      } else if (m.fnlb === 'listening') {
        // Anything sent before the worker could hear it is sent again now.
        worker.send({ fnlb: 'members', members: table.snapshot() } satisfies ToWorker);
        worker.send(healthSnapshot());
        listening.add(worker.id);
        if (!announced && listening.size >= options.workers) {
          announced = true;
          void startAdmin().then((adminAt) =>
            logger.info(
              {
                address: m.address,
                workers: options.workers,
                nodes: table.current().map((n) => n.address.id),
                membersFrom: source.from,
                ...adminAt,
              },
              'fnlb listening',
            ),
          );
        }
      }
    });
    return worker;
  };

  const startAdmin = async (): Promise<Record<string, unknown>> => {
    const at = options.adminListen;
    if (at === null) return {};
    const api = new AdminApi(host, options, logger);
    admin = new AdminServer(api, { token: options.adminToken, log: logger });
    try {
      const a = await admin.listen(at.port, at.host);
      return adminLogFields(a.address, a.port, options.adminToken !== null);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      logger.fatal({ code: e.code }, `cannot listen on ${at.host}:${at.port} (admin): ${e.message}`);
      process.stderr.write(`fnlb: --admin-listen: cannot listen on ${at.host}:${at.port}: ${e.code ?? e.message}\n`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      flushLogger(logger);
      process.exit(1);
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) finish();
      return;
    }
    if (!announced && code === 1) {
      // A worker that could not even listen (address in use, permission): the others cannot either.
      logger.fatal({ worker: worker.id }, 'a worker could not start; stopping');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      flushLogger(logger);
      process.exit(1);
    }
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    logger.warn({ worker: worker.id, code, signal }, 'worker exited; starting a new one');
    setTimeout(fork, lived < QUICK_DEATH_MS ? QUICK_DEATH_MS : 0);
  });

  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    logger.info('stopped');
    exitAfterLogs(logger, 0);
  };

  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      exitAfterLogs(logger, 1, 1000);
      return;
    }
    stopping = true;
    logger.info({ signal, timeoutMs: options.shutdownTimeout }, 'shutting down');
    checker.stop();
    void store.stop();
    void admin?.close();
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) finish();
    for (const w of workers) w?.process.kill('SIGTERM');
    // Workers drain within the shutdown timeout; a worker stuck past it is killed.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, options.shutdownTimeout + 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void store.reload().then((outcome) => logger.info({ signal: 'SIGHUP' }, outcome)));

  for (let i = 0; i < options.workers; i++) fork();
  checker.start();
}

/** The admin listener's fields of the start-up line, saying when it is open to anyone who can reach it. */
export function adminLogFields(host: string, port: number, hasToken: boolean): Record<string, unknown> {
  const admin = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return hasToken ? { admin } : { admin, adminAuth: 'none: open to local users (loopback only); set --admin-token to require one' };
}
