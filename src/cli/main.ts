#!/usr/bin/env -S node --max-semi-space-size=2 --single-threaded-gc
// The V8 flags above (measured with npm run bench, same run as nginx):
// - V8's default lets the young generation grow to 16 MiB per semi-space as connections are opened:
//   6.2 KiB of RSS per idle connection. 1 MiB: 3.7 KiB, but after thousands of connections came and
//   went, scavenges that frequent promote in-flight requests into old-space holes the sweeper had
//   given back to the OS (a page fault every ~8 requests, 0.75x nginx). 2 MiB: 3.6 KiB, 0.80x; 4 MiB:
//   4.3 KiB, 0.85x;
// - GC on the main thread only: helper threads on the same core preempt the event loop. p99 at a
//   fixed 10k req/s 1.75x -> 1.49x nginx's, CPU per request 17.8 -> 16.1 µs.
import cluster from 'node:cluster';
import { createBalancer } from '../balancer.js';
import { runPrimary } from '../cluster/primary.js';
import { ConfigError } from '../errors.js';
import { RelayedHealth } from '../health/relayed-health.js';
import { createLogger, flushLogger } from '../log.js';
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

if (options.workers > 1 && cluster.isPrimary) {
  runPrimary(options, logger);
} else {
  await serve();
}

/** One serving process: the whole of fnlb, or one worker of a cluster. */
async function serve(): Promise<void> {
  const balancer = createBalancer({
    ...options,
    // This process serves alone, or is one worker of the cluster the primary forked.
    workers: 1,
    logger,
    healthView: isWorker ? (count, onChange) => new RelayedHealth(count, onChange) : undefined,
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      // A second signal: the operator does not want to wait for requests in flight.
      logger.warn({ signal }, 'second signal: exiting now');
      flushLogger(logger);
      process.exit(1);
    }
    stopping = true;
    if (!isWorker) logger.info({ signal, timeoutMs: options.shutdownTimeout }, 'shutting down');
    await balancer.close();
    if (!isWorker) logger.info('stopped');
    flushLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // A worker stops when its primary says so; Ctrl-C reaches the whole process group and is the primary's.
  process.on('SIGINT', () => (isWorker ? undefined : void stop('SIGINT')));

  try {
    const { host, port } = await balancer.listen();
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    if (isWorker) process.send?.({ fnlb: 'listening', address });
    else logger.info({ address, nodes: options.nodes.map((n) => n.id) }, 'fnlb listening');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    logger.fatal({ code: e.code }, `cannot listen on ${options.listenHost}:${options.listenPort}: ${e.message}`);
    flushLogger(logger);
    process.stderr.write(`fnlb: cannot listen on ${options.listenHost}:${options.listenPort}: ${e.code ?? e.message}\n`);
    process.exit(1);
  }
}
