#!/usr/bin/env -S node --max-semi-space-size=2 --single-threaded-gc --max-inlined-bytecode-size-cumulative=3000 --max-inlined-bytecode-size=1000
// The V8 flags above (measured with npm run bench, same run as nginx):
// - V8's default lets the young generation grow to 16 MiB per semi-space as connections are opened:
//   6.2 KiB of RSS per idle connection. 1 MiB: 3.7 KiB, but after thousands of connections came and
//   went, scavenges that frequent promote in-flight requests into old-space holes the sweeper had
//   given back to the OS (a page fault every ~8 requests, 0.75x nginx). 2 MiB: 3.6 KiB, 0.80x; 4 MiB:
//   4.3 KiB, 0.85x;
// - GC on the main thread only: helper threads on the same core preempt the event loop. p99 at a
//   fixed 10k req/s 1.75x -> 1.49x nginx's, CPU per request 17.8 -> 16.1 µs.
import cluster from 'node:cluster';
import { createServingBalancer } from '../balancer.js';
import { MEMBERS_ENV } from '../cluster/messages.js';
import { adminLogFields, runPrimary } from '../cluster/primary.js';
import type { MembersSnapshot } from '../membership/member-table.js';
import { localSource, openMembership, type MembershipSource } from '../membership/sources.js';
import { ConfigError } from '../errors.js';
import { RelayedHealth } from '../health/relayed-health.js';
import { isToWorker, type ToPrimary } from '../cluster/messages.js';
import { createLogger, exitAfterLogs, flushLogger } from '../log.js';
import { parseCommandLine, type CommandLine } from './args.js';

function fail(message: string): never {
  process.stderr.write(`fnlb: ${message}\n`);
  process.exit(2);
}

let command: CommandLine;
try {
  command = parseCommandLine(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}

if (command.kind === 'help' || command.kind === 'version') {
  process.stdout.write(`${command.text}\n`);
  process.exit(0);
}

const options = command.options;
const isWorker = cluster.isWorker;
const logger = createLogger(options.logLevel, isWorker ? { worker: cluster.worker!.id } : undefined);

// The membership to start from: a worker's comes from its primary (slots included), which alone keeps
// it (state file, registry, DNS) and relays every change; otherwise the source the options name.
let membership: MembershipSource;
if (isWorker) {
  membership = localSource(JSON.parse(process.env[MEMBERS_ENV] ?? 'null') as MembersSnapshot, 'primary', null);
} else {
  try {
    membership = await openMembership(options, { log: logger });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    // Nothing to start from: no registry to read (it keeps no copy here) or no DNS answer yet.
    logger.fatal((err as Error).message);
    flushLogger(logger);
    process.stderr.write(`fnlb: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
// The library checks a node list: the current members'.
options.nodes = membership.members.members.filter((m) => !m.removed).map((m) => m.address);

if (options.workers > 1 && cluster.isPrimary) {
  runPrimary(options, logger, membership);
} else {
  await serve();
}

/** One serving process: the whole of fnlb, or one worker of a cluster. */
async function serve(): Promise<void> {
  const balancer = createServingBalancer({
    ...options,
    // This process serves alone, or is one worker of the cluster the primary forked (whose admin API runs in the primary).
    workers: 1,
    adminListen: isWorker ? null : options.adminListen,
    logger,
    membership,
    healthView: isWorker ? (count, onChange) => new RelayedHealth(count, onChange) : undefined,
  });
  if (isWorker) {
    process.on('message', (m: unknown) => {
      if (!isToWorker(m)) return;
      if (m.fnlb === 'members') balancer.setMembers(m.members);
      else if (m.fnlb === 'stats-request') process.send?.({ fnlb: 'stats', id: m.id, stats: balancer.stats() } satisfies ToPrimary);
    });
  }
  // SIGHUP (a closed terminal, or an operator asking for a reload) never stops fnlb. A worker leaves it to the primary.
  process.on('SIGHUP', () => {
    if (!isWorker) void balancer.reload().then((outcome) => logger.info({ signal: 'SIGHUP' }, outcome));
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      // A second signal: the operator does not want to wait for requests in flight.
      logger.warn({ signal }, 'second signal: exiting now');
      exitAfterLogs(logger, 1, 1000);
      return;
    }
    stopping = true;
    if (!isWorker) logger.info({ signal, timeoutMs: options.shutdownTimeout }, 'shutting down');
    await balancer.close();
    if (!isWorker) logger.info('stopped');
    // Exits once the last lines reached stdout: "shutting down" ... "stopped" all come out, in order, even through a pipe.
    exitAfterLogs(logger, 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // A worker stops when its primary says so; Ctrl-C reaches the whole process group and is the primary's.
  process.on('SIGINT', () => (isWorker ? undefined : void stop('SIGINT')));

  try {
    const { host, port } = await balancer.listen();
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    if (isWorker) process.send?.({ fnlb: 'listening', address });
    else {
      const admin = balancer.adminAddress;
      const adminFields = admin === null ? { admin: 'off' } : adminLogFields(admin.host, admin.port, options.adminToken !== null);
      logger.info({ address, nodes: options.nodes.map((n) => n.id), membersFrom: membership.from, ...adminFields }, 'fnlb listening');
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      flushLogger(logger);
      process.stderr.write(`fnlb: ${err.message}\n`);
      process.exit(1);
    }
    const e = err as NodeJS.ErrnoException;
    logger.fatal({ code: e.code }, `cannot listen on ${options.listenHost}:${options.listenPort}: ${e.message}`);
    flushLogger(logger);
    process.stderr.write(`fnlb: cannot listen on ${options.listenHost}:${options.listenPort}: ${e.code ?? e.message}\n`);
    process.exit(1);
  }
}
