/**
 * Active health checks: one probe per node per interval over a raw socket, results fed through
 * HealthState (rise/fall). Light on purpose: no node:http agent, one shared interval timer,
 * everything unref()'d so checks never keep the process alive or block anything else.
 */
import net from 'node:net';
import type { NodeAddress } from '../membership/address.js';
import { HealthState } from './health-state.js';
import { hostAnswered } from '../errors.js';

export interface HealthCheckOptions {
  /** Milliseconds between probe rounds. */
  readonly interval: number;
  /** A probe that has not succeeded within this many milliseconds fails. */
  readonly timeout: number;
  /** HTTP path to GET (after the node's basePath); "" = TCP connect check. */
  readonly path: string;
  /** Consecutive successes to come back up. */
  readonly rise: number;
  /** Consecutive failures to go down. */
  readonly fall: number;
}

import type { HealthChangeListener, HealthView } from './health-view.js';
export type { HealthChangeListener };

/** Status line is "HTTP/1.x NNN ..."; anything longer before the first LF is not HTTP. */
const MAX_STATUS_LINE = 1024;

/** One probe in flight. */
interface Probe {
  readonly socket: net.Socket;
  readonly startedAt: number;
  timer: NodeJS.Timeout | null;
  head: string;
  done: boolean;
}

/** The last probe of a node, for operators. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
  /** From connect to outcome. */
  readonly ms: number;
  /** Clock (epoch ms) of the outcome. */
  readonly at: number;
}

/** A node's state as operators see it: since when, and why. */
export interface HealthDetail {
  readonly up: boolean;
  /** Epoch ms of the last change (or of the start of checking). */
  readonly since: number;
  readonly reason: string;
  readonly lastCheck: CheckResult | null;
}

export class HealthChecker implements HealthView {
  /** Per slot; null for a slot not (or no longer) checked. */
  readonly states: (HealthState | null)[] = [];
  private readonly nodes: (NodeAddress | null)[] = [];
  /** Request bytes per node, built once; null = TCP mode. */
  private readonly requests: (string | null)[] = [];
  private readonly probes: (Probe | null)[] = [];
  private readonly details: { since: number; reason: string; lastCheck: CheckResult | null }[] = [];
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    nodes: readonly NodeAddress[],
    private readonly opts: HealthCheckOptions,
    private readonly onChange: HealthChangeListener,
  ) {
    if (!(opts.interval > 0)) throw new RangeError(`health check interval must be > 0, got ${opts.interval}`);
    if (!(opts.timeout > 0)) throw new RangeError(`health check timeout must be > 0, got ${opts.timeout}`);
    nodes.forEach((n, slot) => this.addNode(slot, n));
  }

  /** Probe every node now, then every `interval`. Idempotent. */
  start(): void {
    if (this.ticker !== null) return;
    this.ticker = setInterval(() => this.tick(), this.opts.interval);
    this.ticker.unref();
    this.tick();
  }

  /** Stop probing: clears the timer and aborts probes in flight (their results are dropped). */
  stop(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    for (let i = 0; i < this.probes.length; i++) this.abort(i);
  }

  /** A node joined at `slot`: up until its checks say otherwise (as every node at start), probed from the next round. */
  addNode(slot: number, node: NodeAddress): void {
    this.nodes[slot] = node;
    this.states[slot] = new HealthState(this.opts.rise, this.opts.fall, true);
    this.requests[slot] = this.opts.path === '' ? null : probeRequest(node, this.opts.path);
    this.probes[slot] = null;
    this.details[slot] = { since: Date.now(), reason: 'added', lastCheck: null };
    if (this.ticker !== null) this.probe(slot);
  }

  /** A node left: no more probes; a probe in flight is dropped. */
  removeNode(slot: number): void {
    this.abort(slot);
    this.nodes[slot] = null;
    this.states[slot] = null;
  }

  isUp(index: number): boolean {
    return this.states[index]?.up ?? false;
  }

  /** State, since when and why, and the last probe; null for a slot not checked. */
  detail(slot: number): HealthDetail | null {
    const state = this.states[slot];
    if (state === null || state === undefined) return null;
    const d = this.details[slot];
    return { up: state.up, since: d.since, reason: d.reason, lastCheck: d.lastCheck };
  }

  /** Passive failure seen by traffic: down at once; onChange only if it was up. */
  markDown(index: number, reason: string, silent: boolean): void {
    if (this.states[index]?.markDown()) this.changed(index, false, reason, silent);
  }

  private changed(slot: number, up: boolean, reason: string, silent: boolean): void {
    const d = this.details[slot];
    d.since = Date.now();
    d.reason = reason;
    this.onChange(slot, up, reason, silent);
  }

  private abort(slot: number): void {
    const p = this.probes[slot];
    if (p === null || p === undefined) return;
    p.done = true;
    if (p.timer !== null) clearTimeout(p.timer);
    p.socket.destroy();
    this.probes[slot] = null;
  }

  /** Start a probe for every node whose previous probe has finished (never overlap per node). */
  private tick(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      if (this.probes[i] === null && this.nodes[i] !== null) this.probe(i);
    }
  }

  private probe(index: number): void {
    const node = this.nodes[index]!;
    const request = this.requests[index];
    const startedAt = performance.now();
    let socket: net.Socket;
    try {
      socket = net.connect({ host: node.host, port: node.port });
    } catch (err) {
      this.record(index, false, `connect: ${(err as Error).message}`, 0, false);
      return;
    }
    socket.unref();
    const p: Probe = { socket, timer: null, head: '', done: false, startedAt };
    // One deadline for connect + status line (socket.setTimeout would only bound idle gaps).
    p.timer = setTimeout(() => this.finish(index, p, false, `timeout after ${this.opts.timeout} ms`, true), this.opts.timeout);
    p.timer.unref();
    this.probes[index] = p;

    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.finish(index, p, false, `${err.code ?? 'error'}: ${err.message}`, !hostAnswered(err.code)),
    );
    socket.on('close', () => this.finish(index, p, false, 'connection closed before a status line'));
    socket.on('connect', () => {
      if (request === null) return this.finish(index, p, true, 'TCP connect ok');
      socket.setNoDelay(true);
      socket.write(request);
    });
    if (request === null) return;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      p.head += chunk;
      const lf = p.head.indexOf('\n');
      if (lf < 0) {
        if (p.head.length > MAX_STATUS_LINE) this.finish(index, p, false, 'no HTTP status line');
        return;
      }
      const status = statusCode(p.head, lf);
      if (status < 0) this.finish(index, p, false, 'no HTTP status line');
      else this.finish(index, p, status >= 200 && status < 300, `HTTP ${status}`);
    });
  }

  /**
   * First outcome wins; later events of the same probe (close after destroy, late timer) are ignored.
   * `silent`: a failure in which the node did not answer at all (see HealthChangeListener).
   */
  private finish(index: number, p: Probe, ok: boolean, detail: string, silent = false): void {
    if (p.done) return;
    p.done = true;
    if (p.timer !== null) clearTimeout(p.timer);
    p.socket.destroy(); // the status line is all we need
    this.probes[index] = null;
    this.record(index, ok, detail, performance.now() - p.startedAt, silent);
  }

  private record(index: number, ok: boolean, detail: string, ms: number, silent: boolean): void {
    const state = this.states[index];
    if (state === null) return; // removed while the probe ran
    this.details[index].lastCheck = { ok, detail, ms: Math.round(ms * 100) / 100, at: Date.now() };
    if (ok ? state.recordSuccess() : state.recordFailure()) {
      this.changed(index, ok, ok ? `health check passed (${detail})` : `health check failed (${detail})`, !ok && silent);
    }
  }
}

/** `GET <basePath + path>` with Host and Connection: close; built once per node. */
function probeRequest(node: NodeAddress, path: string): string {
  const target = node.basePath + (path.charCodeAt(0) === 0x2f ? path : '/' + path);
  const host = node.host.indexOf(':') >= 0 ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
  return `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fnlb-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
}

/** Status code of "HTTP/1.x NNN ..." ending at `lf`, or -1 if the line is not that. */
function statusCode(head: string, lf: number): number {
  if (lf < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 0x20) return -1;
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const d = head.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    code = code * 10 + d;
  }
  const after = head.charCodeAt(12); // space, CR or LF (reason phrase may be empty)
  return after === 0x20 || after === 0x0d || after === 0x0a ? code : -1;
}
