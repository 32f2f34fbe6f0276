/**
 * Open-loop load at a fixed rate, with coordinated-omission correction (what wrk2 does; Debian has
 * no wrk2). Request i is due at start + i/rate whatever happens to earlier requests; it goes out on
 * the next idle keep-alive connection, or waits in a backlog when all are busy. Its latency runs
 * from the *due* time, so a stalled proxy is charged for every request it delayed, not just one.
 *
 * Run as a child process (`node fixed-rate.js '<json options>'`, JSON result on stdout) so it can be
 * pinned with taskset and has an event loop of its own.
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Histogram } from './histogram.js';
import { ResponseReader, getRequest } from '../../harness/client/http1-reader.js';
import { FUNCTIONS } from './configs.js';

export interface FixedRateOptions {
  host: string;
  port: number;
  /** Requests per second. */
  rate: number;
  durationS: number;
  /** Sent at the same rate before measuring, not recorded. */
  warmupS: number;
  connections: number;
}

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface FixedRateResult {
  rate: number;
  durationS: number;
  connections: number;
  /** Measured requests: due inside the measured window. */
  requests: number;
  completed: number;
  non2xx: number;
  /** Measured requests lost to a closed connection or unanswered at the end. */
  errors: number;
  /** Latency from due time to complete response, µs. */
  latencyUs: Quantiles;
  /** How late requests left (due time to write), µs: the generator's own share of the latency. */
  sendLagUs: Quantiles;
}

/**
 * Longest blocking sleep between due times. Node timers have 1 ms resolution, far too coarse at
 * 10k req/s, and spinning starves the backends that share the CPU; so short gaps are slept off with
 * Atomics.wait, in slices this short because responses that arrive meanwhile are only timestamped
 * once the thread wakes. Measured here: a 20 µs slice takes ~30 µs with the timer slack at 1 µs
 * (see main) and ~90 µs at Linux's default 50 µs slack.
 */
const MAX_BLOCK_NS = 20_000;

interface Conn {
  socket: net.Socket;
  /** Due time of the request in flight, or -1. */
  due: number;
}

const base = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - base);

function quantiles(h: Histogram): Quantiles {
  const us = (ns: number): number => Math.round(ns / 10) / 100;
  return {
    p50: us(h.quantile(0.5)),
    p90: us(h.quantile(0.9)),
    p99: us(h.quantile(0.99)),
    p999: us(h.quantile(0.999)),
    max: us(h.max),
    mean: us(h.mean),
  };
}

export function runFixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  return new Promise((resolve, reject) => {
    const latency = new Histogram();
    const lag = new Histogram();
    const conns = new Set<Conn>();
    const idle: Conn[] = []; // FIFO, so the load spreads over every connection
    const backlog: number[] = []; // due times waiting for a connection
    const interval = 1e9 / o.rate;
    const total = Math.round((o.warmupS + o.durationS) * o.rate);
    const measuredFrom = Math.round(o.warmupS * o.rate); // first measured slot
    let start = 0;
    let slot = 0;
    let inFlight = 0;
    let completed = 0;
    let non2xx = 0;
    let errors = 0;
    let finished = false;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const measured = (due: number): boolean => due >= start + measuredFrom * interval;

    function send(c: Conn, due: number): void {
      c.due = due;
      inFlight++;
      if (measured(due)) lag.record(now() - due);
      c.socket.write(getRequest(`/r/app/f${Math.floor(Math.random() * FUNCTIONS)}`));
    }

    function release(c: Conn): void {
      const due = backlog.shift();
      if (due !== undefined) send(c, due);
      else idle.push(c);
    }

    function open(): void {
      const c: Conn = { socket: net.connect(o.port, o.host), due: -1 };
      conns.add(c);
      c.socket.setNoDelay(true);
      const reader = new ResponseReader((status, close) => {
        const t = now();
        if (measured(c.due)) {
          latency.record(t - c.due);
          completed++;
          if (status < 200 || status > 299) non2xx++;
        }
        c.due = -1;
        inFlight--;
        if (close)
          c.socket.end(); // replaced on 'close'
        else release(c);
      });
      c.socket.once('connect', () => release(c));
      c.socket.on('data', (d: Buffer) => reader.feed(d));
      c.socket.on('error', () => {});
      c.socket.once('close', () => {
        conns.delete(c);
        const i = idle.indexOf(c);
        if (i >= 0) idle.splice(i, 1);
        if (c.due >= 0) {
          inFlight--;
          if (measured(c.due)) errors++;
        }
        if (!finished) setTimeout(open, 10);
      });
    }

    function finish(): void {
      finished = true;
      const unanswered = inFlight + backlog.length;
      for (const c of conns) c.socket.destroy();
      resolve({
        rate: o.rate,
        durationS: o.durationS,
        connections: o.connections,
        requests: total - measuredFrom,
        completed,
        non2xx,
        errors: errors + unanswered,
        latencyUs: quantiles(latency),
        sendLagUs: quantiles(lag),
      });
    }

    function pump(): void {
      const t = now();
      while (slot < total && start + slot * interval <= t) {
        const due = start + slot++ * interval;
        const c = idle.shift();
        if (c) send(c, due);
        else backlog.push(due);
      }
      if (slot >= total) return drain(t + 5e9);
      const wait = start + slot * interval - now();
      if (wait > 1.5e6) {
        setTimeout(pump, Math.floor(wait / 1e6) - 1);
        return;
      }
      if (wait > 0) Atomics.wait(sleeper, 0, 0, Math.min(wait, MAX_BLOCK_NS) / 1e6);
      setImmediate(pump);
    }

    function drain(deadline: number): void {
      if ((inFlight === 0 && backlog.length === 0) || now() > deadline) finish();
      else setTimeout(() => drain(deadline), 5);
    }

    const openedAt = now();
    for (let i = 0; i < o.connections; i++) open();
    // Start once every connection is up, so connection setup is not charged to the first requests.
    const ready = setInterval(() => {
      if (idle.length >= o.connections) {
        clearInterval(ready);
        start = now();
        pump();
      } else if (now() - openedAt > 5e9) {
        clearInterval(ready);
        reject(new Error(`only ${idle.length} of ${o.connections} connections to ${o.host}:${o.port} opened`));
      }
    }, 5);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    writeFileSync('/proc/self/timerslack_ns', '1000'); // see MAX_BLOCK_NS
  } catch {
    /* older kernel or no permission: coarser timestamps, still correct */
  }
  const opts = JSON.parse(process.argv[2] ?? '{}') as FixedRateOptions;
  runFixedRate(opts).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`fixed-rate: ${e.message}\n`);
      process.exit(1);
    },
  );
}
