import cluster, { type Worker } from 'node:cluster';
import { healthCheckOptions, logNodeState } from '../balancer.js';
import { HealthChecker } from '../health/health-checker.js';
import { flushLogger, type Logger } from '../log.js';
import type { BalancerOptions } from '../config/options.js';
import { isToPrimary, type ToWorker } from './messages.js';

/** A worker that dies within this long of its start is restarted after a pause, not at once. */
const QUICK_DEATH_MS = 1000;

/**
 * The primary of `--workers N`: forks the workers (which share the listening socket and accept from it
 * directly), runs the health checks once for all of them and relays every change, restarts a worker that
 * dies, and on SIGTERM/SIGINT drains them all.
 */
export function runPrimary(options: BalancerOptions, logger: Logger): void {
  // Workers accept from the shared socket themselves: no hop through the primary per connection.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const nodes = options.nodes;
  const broadcast = (m: ToWorker) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(m);
  };
  const checker = new HealthChecker(nodes, healthCheckOptions(options), (index, up, reason) => {
    logNodeState(logger, nodes[index].id, up, reason);
    broadcast({ fnlb: 'health', index, up, reason });
  });

  let stopping = false;
  let announced = false;
  const listening = new Set<number>();
  const startedAt = new Map<number, number>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.on('online', () => worker.send({ fnlb: 'health-snapshot', up: nodes.map((_, i) => checker.isUp(i)) } satisfies ToWorker));
    worker.on('message', (m: unknown) => {
      if (!isToPrimary(m)) return;
      if (m.fnlb === 'node-failed') {
        checker.markDown(m.index, m.reason);
      } else if (m.fnlb === 'listening') {
        listening.add(worker.id);
        if (!announced && listening.size >= options.workers) {
          announced = true;
          logger.info({ address: m.address, workers: options.workers, nodes: nodes.map((n) => n.id) }, 'fnlb listening');
        }
      }
    });
    return worker;
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

  const finish = () => {
    logger.info('stopped');
    flushLogger(logger);
    process.exit(0);
  };

  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      flushLogger(logger);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: options.shutdownTimeout }, 'shutting down');
    checker.stop();
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

  for (let i = 0; i < options.workers; i++) fork();
  checker.start();
}
