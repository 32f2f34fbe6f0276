/**
 * Black-box: resource abuse against a real fnlb process (issue 4, "Reliability and security").
 *
 * - slowloris: 200 connections dribbling a request head are all answered 408 and closed at
 *   --header-timeout, while a normal client's p99 stays low;
 * - 2,000 idle keep-alive connections cost a bounded amount of RSS each, and with --max-connections
 *   below that the excess gets a clean 503 + close while the admitted ones keep working;
 * - a 256 MiB body streamed to a node that reads slowly, and 256 MiB responses to clients that do not
 *   read, leave fnlb's RSS flat; a stalled download is cut at --idle-timeout and the node sees its
 *   connection closed;
 * - fnlb is not an open proxy: no Host header or absolute URI makes it connect anywhere but its nodes.
 *
 * Already covered elsewhere, not repeated here: a 200 MiB response to a slow reader (bodies.test.ts),
 * the absolute-form corpus vector (malformed.test.ts), --max-connections with 2 connections and a
 * partial head + FIN (engine-review.test.ts). The long form with 10,000 connections is `npm run abuse`.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { openIdle } from '../../harness/client/idle.js';
import {
  getOn,
  inWaves,
  KiB,
  latencyWhile,
  MiB,
  openStalledDownload,
  quantile,
  RssSampler,
  slowloris,
  startBigResponseNode,
  startSlowReadingNode,
  startUpload,
  type AbuseNode,
  type SlowlorisConn,
} from '../../harness/scenarios/abuse.js';
import { cleanup, readRssBytes, startFnlb, type FnlbProcess } from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';
import { RAW_OK, startRawBackend, type RawBackend, type RawBackendOptions } from '../../harness/nodes/raw-backend.js';
import { rawRequest } from '../../harness/client/raw-client.js';

const closers: (() => unknown)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await cleanup();
});

async function raw(opts: RawBackendOptions = {}): Promise<RawBackend> {
  const r = await startRawBackend(opts);
  closers.push(() => r.close());
  return r;
}

function track<T extends AbuseNode>(node: T): T {
  closers.push(() => node.close());
  return node;
}

/** TCP health checks, once: the nodes only see traffic (plus one probe connection). */
function fnlb(nodes: { id: string }[], extra: string[] = []): Promise<FnlbProcess> {
  const args = ['--listen', '127.0.0.1:0', '--nodes', nodes.map((n) => n.id).join(','), '--hc-path=', '--hc-interval', '60s'];
  if (!extra.includes('--access-log')) args.push('--access-log', 'off');
  return startFnlb([...args, ...extra]);
}

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/** Summary of what happened to slowloris connections, for messages. */
function describeClosures(conns: SlowlorisConn[]): string {
  const closed = conns.map((c) => c.closedAfterMs).filter((x): x is number => x !== null);
  const statuses = new Map<string, number>();
  for (const c of conns) statuses.set(String(c.status), (statuses.get(String(c.status)) ?? 0) + 1);
  return (
    `${closed.length}/${conns.length} closed, after min ${ms(Math.min(...closed))} p50 ${ms(quantile(closed, 0.5))} ` +
    `max ${ms(Math.max(...closed))}; statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}; ` +
    `bytes sent per connection up to ${Math.max(...conns.map((c) => c.bytesSent))}`
  );
}

describe('slowloris', () => {
  const HEADER_TIMEOUT = 2000;
  /** The deadline sweep runs every 50 ms; the rest is scheduling on a shared 2-core machine. */
  const SLACK = 750;

  test(
    '200 connections dribbling a head one byte per 100 ms: each gets 408 and is closed at --header-timeout; a normal client stays fast',
    { timeout: 30_000 },
    async (t) => {
      const node = await raw();
      const lb = await fnlb([node], ['--header-timeout', `${HEADER_TIMEOUT}ms`]);
      const normal = '/r/app/normal';
      const calm = await latencyWhile(lb.port, normal, sleep(1500));
      const attack = await latencyWhile(
        lb.port,
        normal,
        slowloris(lb.port, { connections: 200, everyMs: 100, giveUpMs: HEADER_TIMEOUT + 3000 }),
      );
      const conns = attack.result;
      t.diagnostic(`slowloris: ${describeClosures(conns)}`);
      const stat = (l: number[]): string =>
        `p50 ${quantile(l, 0.5).toFixed(1)} ms, p99 ${quantile(l, 0.99).toFixed(1)} ms (${l.length} GETs)`;
      t.diagnostic(`normal client before: ${stat(calm.latenciesMs)}; during the attack: ${stat(attack.latenciesMs)}`);

      assert.deepEqual(
        conns.filter((c) => c.connectError !== undefined).map((c) => c.connectError),
        [],
        'every connection was accepted',
      );
      const late = conns.filter((c) => c.closedAfterMs === null || c.closedAfterMs > HEADER_TIMEOUT + SLACK);
      assert.equal(late.length, 0, `closed within ${HEADER_TIMEOUT} + ${SLACK} ms: ${describeClosures(conns)}`);
      const early = conns.filter((c) => c.closedAfterMs! < HEADER_TIMEOUT - 100);
      assert.equal(early.length, 0, `none closed before the header timeout: ${describeClosures(conns)}`);
      assert.ok(
        conns.every((c) => c.status === 408),
        `every one answered 408: ${describeClosures(conns)}`,
      );

      assert.deepEqual(attack.errors, [], 'the normal client never failed');
      assert.ok(attack.latenciesMs.length >= 20, `the normal client made progress (${attack.latenciesMs.length} GETs)`);
      const p99 = quantile(attack.latenciesMs, 0.99);
      assert.ok(p99 < 200, `normal client p99 during the attack ${p99.toFixed(1)} ms`);
      assert.ok(
        node.requests.every((r) => r.target === normal),
        'no slowloris byte reached the node',
      );
    },
  );

  test('the header clock starts at connect: silence, then a dribble, is still cut at --header-timeout', { timeout: 15_000 }, async (t) => {
    const node = await raw();
    const lb = await fnlb([node], ['--header-timeout', `${HEADER_TIMEOUT}ms`]);
    const conns = await slowloris(lb.port, {
      connections: 20,
      everyMs: 100,
      firstByteAfterMs: HEADER_TIMEOUT * 0.7,
      giveUpMs: HEADER_TIMEOUT * 2.5,
    });
    t.diagnostic(describeClosures(conns));
    const late = conns.filter((c) => c.closedAfterMs === null || c.closedAfterMs > HEADER_TIMEOUT + SLACK);
    assert.equal(late.length, 0, `closed within ${HEADER_TIMEOUT} + ${SLACK} ms of connecting: ${describeClosures(conns)}`);
  });

  test('bare CRLFs (allowed before a request line) do not keep a connection open past --header-timeout', { timeout: 15_000 }, async (t) => {
    const node = await raw();
    const lb = await fnlb([node], ['--header-timeout', `${HEADER_TIMEOUT}ms`, '--idle-timeout', '60s']);
    const conns = await slowloris(lb.port, { connections: 20, everyMs: 200, pattern: '\r\n', giveUpMs: HEADER_TIMEOUT * 2.5 });
    t.diagnostic(describeClosures(conns));
    const late = conns.filter((c) => c.closedAfterMs === null || c.closedAfterMs > HEADER_TIMEOUT + SLACK);
    assert.equal(late.length, 0, `closed within ${HEADER_TIMEOUT} + ${SLACK} ms: ${describeClosures(conns)}`);
    assert.equal(node.requests.length, 0);
  });
});

describe('many idle connections', () => {
  const N = 2000;

  test(`${N} idle keep-alive connections: bounded RSS per connection, all kept, fnlb still serves`, { timeout: 30_000 }, async (t) => {
    const node = await raw();
    const lb = await fnlb([node], ['--idle-timeout', '30s']);
    const warm = await openIdle('127.0.0.1', lb.port, 50, 0); // first pages of pools and tables
    for (const s of warm.sockets) s.destroy();
    await sleep(300);
    const before = readRssBytes(lb.pid);
    const { sockets, failed } = await openIdle('127.0.0.1', lb.port, N, 1000);
    closers.push(() => sockets.forEach((s) => s.destroy()));
    await sleep(500);
    const after = readRssBytes(lb.pid);
    const perConn = (after - before) / KiB / N;
    t.diagnostic(`fnlb RSS ${mib(before)} → ${mib(after)} for ${N} idle connections: ${perConn.toFixed(2)} KiB per connection`);
    assert.equal(failed, 0, 'every connection got its 200');
    await sleep(500);
    assert.equal(sockets.filter((s) => s.destroyed || s.readyState !== 'open').length, 0, 'fnlb kept every idle connection');
    assert.ok(perConn < 16, `${perConn.toFixed(2)} KiB per idle connection`);
    const r = await rawRequest(lb.port, 'GET /r/app/still HTTP/1.1\r\nHost: x\r\n\r\n', { expectResponses: 1 });
    assert.equal(r.responses[0]?.status, 200);
  });

  test(
    `--max-connections 1500 and ${N} connections: 500 get a clean 503 + close, the admitted ones still work, a freed slot is reused`,
    { timeout: 30_000 },
    async (t) => {
      const LIMIT = 1500;
      const node = await raw();
      const lb = await fnlb([node], ['--idle-timeout', '30s', '--max-connections', String(LIMIT)]);
      const admitted = await openIdle('127.0.0.1', lb.port, LIMIT, 0);
      closers.push(() => admitted.sockets.forEach((s) => s.destroy()));
      assert.equal(admitted.failed, 0, 'the first 1500 connections are admitted and answered');

      const refusals: Awaited<ReturnType<typeof rawRequest>>[] = [];
      const t0 = performance.now();
      await inWaves(N - LIMIT, 100, async (i) => {
        refusals.push(await rawRequest(lb.port, `GET /r/app/excess${i} HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 5000 }));
      });
      t.diagnostic(`${refusals.length} connections over the limit refused in ${ms(performance.now() - t0)}`);
      const unclean = refusals.filter(
        (r) =>
          r.responses.length !== 1 ||
          r.responses[0]!.status !== 503 ||
          !/too many connections/.test(r.responses[0]!.text()) ||
          r.responses[0]!.headers.connection?.toLowerCase() !== 'close' ||
          !r.closed ||
          r.timedOut ||
          r.error !== undefined,
      );
      assert.equal(
        unclean.length,
        0,
        `every refusal is one 503 "too many connections" with Connection: close, then a close without error; e.g. ` +
          JSON.stringify(
            unclean.slice(0, 3).map((r) => ({ raw: r.raw.toString('latin1').slice(0, 200), closed: r.closed, error: r.error?.message })),
          ),
      );
      assert.ok(!node.requests.some((r) => r.target.startsWith('/r/app/excess')), 'no refused request reached the node');

      // Every admitted connection still works.
      const statuses = new Array<number>(LIMIT);
      await inWaves(LIMIT, 200, async (i) => {
        statuses[i] = await getOn(admitted.sockets[i]!, `/r/app/again${i}`).catch(() => 0);
      });
      assert.equal(statuses.filter((s) => s !== 200).length, 0, 'every admitted connection answers its second request');

      // Freed slots are taken by new connections.
      const freed = admitted.sockets.splice(0, 100);
      for (const s of freed) s.destroy();
      // fnlb sees the closes asynchronously (slowly on a loaded machine): wait until one slot is free.
      const probe = await eventually(async () => {
        const one = await openIdle('127.0.0.1', lb.port, 1, 4999);
        if (one.failed !== 0) throw new Error('no slot free yet');
        return one.sockets[0]!;
      }, 5000);
      closers.push(() => probe.destroy());
      const more = await openIdle('127.0.0.1', lb.port, 99, 5000);
      closers.push(() => more.sockets.forEach((s: net.Socket) => s.destroy()));
      assert.equal(more.failed, 0, '100 freed slots admit 100 new connections');
    },
  );
});

describe('huge bodies and slow peers', () => {
  const SIZE = 256 * MiB;

  test(
    'a 256 MiB body streamed to a node that stalls, then reads at 64 MiB/s: fnlb RSS stays flat (backpressure)',
    { timeout: 40_000 },
    async (t) => {
      const node = track(await startSlowReadingNode({ stallMs: 1500, bytesPerSecond: 64 * MiB }));
      const lb = await fnlb([node], ['--idle-timeout', '10s']);
      const rss = new RssSampler(lb.pid);
      const upload = await startUpload(lb.port, '/r/app/upload', SIZE);
      let ahead = 0; // most bytes the client was ever ahead of what the node had read
      const watch = setInterval(() => (ahead = Math.max(ahead, upload.sent - (node.conns[0]?.bodyRead ?? 0))), 20);
      const r = await upload.result;
      clearInterval(watch);
      const growth = rss.stop();
      t.diagnostic(
        `upload ${mib(r.sent)} in ${ms(r.ms)}; client at most ${mib(ahead)} ahead of the node; fnlb RSS ${mib(rss.baseline)} + peak ${mib(growth)}`,
      );
      assert.equal(r.status, 200, `${r.error ?? ''} ${r.body}`);
      assert.equal(JSON.parse(r.body).bodyLength, SIZE);
      assert.ok(r.ms > 1500 + (SIZE / (64 * MiB)) * 1000 * 0.8, `the node's pace set the upload's (${ms(r.ms)})`);
      // Socket buffers on both sides of fnlb can grow to tcp_rmem/tcp_wmem max (32 + 4 MiB each side here);
      // buffering the body in fnlb would put the client ~256 MiB ahead during the stall.
      assert.ok(ahead < 96 * MiB, `the client was at most ${mib(ahead)} ahead of the node (kernel buffers + fnlb)`);
      assert.ok(growth < 64 * MiB, `fnlb RSS grew by ${mib(growth)} while ${mib(SIZE)} went through it`);
    },
  );

  test(
    '256 MiB responses to clients that never read (or read slowly, then stop): RSS flat; cut at --idle-timeout; the node sees its connection closed',
    { timeout: 30_000 },
    async (t) => {
      const IDLE = 2000;
      const SLOW_MS = 1500;
      const node = track(await startBigResponseNode(SIZE));
      const lb = await fnlb([node], ['--idle-timeout', `${IDLE}ms`, '--access-log', 'on']);
      const rss = new RssSampler(lb.pid);
      const t0 = performance.now();
      const clients = await Promise.all([0, 1, 2, 3].map((i) => openStalledDownload(lb.port, `/r/app/big${i}`)));
      closers.push(() => clients.forEach((c) => c.socket.destroy()));
      await clients[3]!.readSlowly(2 * MiB, SLOW_MS); // one reads slowly for a while, then stops too
      const closedInTime = async (): Promise<boolean> => {
        for (const until = performance.now() + IDLE + SLOW_MS + 3000; performance.now() < until; await sleep(50)) {
          if (node.conns.length === 4 && node.conns.every((c) => c.closedAt !== null)) return true;
        }
        return false;
      };
      const allClosed = await closedInTime();
      const growth = rss.stop();
      const conns = node.conns;
      t.diagnostic(
        `node connections closed after ${conns.map((c) => (c.closedAt === null ? 'open' : ms(c.closedAt - t0))).join(', ')}; ` +
          `node wrote ${conns.map((c) => mib(c.written)).join(', ')}; fnlb RSS ${mib(rss.baseline)} + peak ${mib(growth)}`,
      );
      assert.ok(allClosed, 'the node saw all 4 connections closed');
      for (const [i, c] of conns.entries()) {
        const after = c.closedAt! - t0;
        assert.ok(after >= IDLE - 200, `node connection ${i} closed after ${ms(after)}: before --idle-timeout`);
        assert.ok(after <= IDLE + SLOW_MS + 1500, `node connection ${i} closed after ${ms(after)}`);
        assert.ok(c.written < 64 * MiB, `node connection ${i}: ${mib(c.written)} written before the stall (backpressure)`);
      }
      assert.ok(growth < 64 * MiB, `fnlb RSS grew by ${mib(growth)} with 4 stalled 256 MiB downloads`);
      // Reading now drains what the kernels hold, then the connection ends: the response was cut.
      const drained = await Promise.all(clients.map((c) => c.drain(5000)));
      assert.ok(
        drained.every((d) => d.closed && d.received < SIZE),
        `clients: ${JSON.stringify(drained)}`,
      );
      assert.ok(!lb.logs.some((l) => l.msg === 'node down'), 'a client that does not read never takes the node down');
      const logged = lb.logs.filter((l) => l.msg === 'request');
      assert.equal(logged.length, 4, 'one access line per download');
      assert.ok(
        logged.every((l) => l.status === 200 && l.cut === true),
        `access lines say the responses were cut: ${JSON.stringify(logged)}`,
      );
      assert.equal(lb.proc.exitCode, null);
    },
  );
});

describe('not an open proxy', () => {
  test('no Host header, absolute URI or redirect makes fnlb connect anywhere but its nodes', { timeout: 20_000 }, async (t) => {
    const trap = await raw({ recordOnly: true });
    const TRAP = `127.0.0.1:${trap.port}`;
    const node = await raw({
      script: (req) =>
        req.target.includes('redirect')
          ? [{ write: `HTTP/1.1 302 Found\r\nLocation: http://${TRAP}/stolen\r\nContent-Length: 0\r\n\r\n` }]
          : [{ write: RAW_OK }],
    });
    const lb = await fnlb([node]);
    const vectors: [string, string][] = [
      ['Host: trap', `GET /r/app/a HTTP/1.1\r\nHost: ${TRAP}\r\n\r\n`],
      ['Host: trap, HTTP/1.0', `GET /r/app/a HTTP/1.0\r\nHost: ${TRAP}\r\n\r\n`],
      ['absolute-form to trap, Host: trap', `GET http://${TRAP}/r/app/b HTTP/1.1\r\nHost: ${TRAP}\r\n\r\n`],
      ['absolute-form, upper-case scheme', `GET HTTP://${TRAP}/r/app/b HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['absolute-form with userinfo', `GET http://node@${TRAP}/r/app/b HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['absolute-form, no path', `GET http://${TRAP} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['absolute-form https', `GET https://${TRAP}/r/app/b HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['absolute-form, localhost', `GET http://localhost:${trap.port}/r/app/b HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['absolute-form POST with a body', `POST http://${TRAP}/r/app/c HTTP/1.1\r\nHost: ${TRAP}\r\nContent-Length: 2\r\n\r\nhi`],
      ['scheme-relative path', `GET //${TRAP}/r/app/d HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['authority-form GET', `GET ${TRAP} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['CONNECT to trap', `CONNECT ${TRAP} HTTP/1.1\r\nHost: ${TRAP}\r\n\r\n`],
      ['OPTIONS * with Host: trap', `OPTIONS * HTTP/1.1\r\nHost: ${TRAP}\r\n\r\n`],
      [
        'X-Forwarded-Host and Forwarded name the trap',
        `GET /r/app/e HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: ${TRAP}\r\nForwarded: host=${TRAP}\r\n\r\n`,
      ],
      ['WebSocket upgrade with Host: trap', `GET /r/app/ws HTTP/1.1\r\nHost: ${TRAP}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`],
      ['node redirects to the trap', `GET /r/app/redirect HTTP/1.1\r\nHost: x\r\n\r\n`],
    ];
    const rows: string[] = [];
    for (const [name, bytes] of vectors) {
      const before = node.requests.length;
      const r = await rawRequest(lb.port, bytes, { expectResponses: 1, timeoutMs: 3000 });
      await sleep(20);
      const status = r.responses[0]?.status;
      const reached = node.requests.slice(before).map((q) => `${q.method} ${q.target}`);
      rows.push(`${name}: ${status ?? 'none'}${reached.length ? ` → node got ${reached.join(', ')}` : ''}`);
      assert.ok(status !== undefined, `${name}: an answer`);
      if (status < 300) assert.equal(reached.length, 1, `${name}: answered ${status}, so a configured node served it`);
      assert.equal(trap.connections.length, 0, `${name}: fnlb connected to the trap`);
    }
    t.diagnostic(rows.join('\n'));
    await sleep(200);
    assert.equal(trap.connections.length, 0, 'the trap never got a connection');
  });
});
