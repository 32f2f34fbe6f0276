/**
 * Black-box review of the forwarding engine (src/engine/**): one real fnlb process per test in front of
 * in-process raw backends (exact node bytes), exact client bytes over RawConnection.
 * Every test here reproduced a defect found in review (now fixed) or pins behaviour that was checked.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { cleanup, startFnlb, type FnlbProcess } from '../../harness/processes.js';
import { sleep } from '../../harness/wait.js';
import { RAW_OK, startRawBackend, type RawBackend, type RawBackendOptions } from '../../harness/nodes/raw-backend.js';
import { RawConnection } from '../../harness/client/raw-client.js';

const raws: RawBackend[] = [];
const clients: RawConnection[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(raws.splice(0).map((r) => r.close()));
  await cleanup();
});

async function raw(opts: RawBackendOptions = {}): Promise<RawBackend> {
  const r = await startRawBackend(opts);
  raws.push(r);
  return r;
}

async function client(lb: FnlbProcess): Promise<RawConnection> {
  const c = await RawConnection.open(lb.port);
  clients.push(c);
  return c;
}

/** TCP health checks, rarely: the raw backends only see traffic (plus one probe connection). */
const QUIET = ['--hc-path=', '--hc-interval', '60s', '--access-log', 'off'];

function fnlb(nodes: RawBackend[], extra: string[] = []): Promise<FnlbProcess> {
  return startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodes.map((n) => n.id).join(','), ...QUIET, ...extra], undefined, {
    waitReady: true,
  });
}

/** Connections of a raw backend that carried at least one request (health probes excluded). */
const used = (b: RawBackend) => b.connections.filter((c) => c.requests.length > 0 || c.chunks.length > 0);

describe('engine review: timeouts', () => {
  test('a body sent after the head (Expect: 100-continue) does not shorten the response wait to --idle-timeout', async () => {
    const node = await raw({ script: [{ delay: 1700 }, { write: RAW_OK }] });
    const lb = await fnlb([node], ['--idle-timeout', '1s', '--response-timeout', '5s']);
    const c = await client(lb);
    await c.write('POST /r/app/slow HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.waitForResponses(1, 2000); // 100 Continue
    assert.equal(c.responses[0]!.status, 100);
    await c.write('hello');
    await node.waitForRequests(1, 2000);
    const rs = await c.waitForResponses(2, 4000);
    assert.equal(rs[1]!.status, 200, `got ${rs.map((r) => r.status)}; closed=${c.remoteClosed}`);
  });

  test('a pipelined request written while the first waits longer than --header-timeout does not kill the connection', async () => {
    const node = await raw({ script: (req) => (req.target.includes('slow') ? [{ delay: 1700 }, { write: RAW_OK }] : [{ write: RAW_OK }]) });
    const lb = await fnlb([node], ['--header-timeout', '1s', '--response-timeout', '5s']);
    const c = await client(lb);
    await c.write('GET /r/app/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(100);
    await c.write('GET /r/app/fast HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(2, 4000);
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200],
    );
  });

  test('Expect: 100-continue and a body that never comes: 100, nothing reaches the node, closed at --idle-timeout', async () => {
    const node = await raw();
    const lb = await fnlb([node], ['--idle-timeout', '1s']);
    const c = await client(lb);
    const t0 = performance.now();
    await c.write('PUT /r/app/up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n');
    await c.waitForResponses(1, 2000);
    assert.equal(c.responses[0]!.status, 100);
    assert.ok(await c.waitForClose(3000), 'connection closed');
    const ms = performance.now() - t0;
    assert.ok(ms > 800 && ms < 2500, `closed after ${ms.toFixed(0)} ms`);
    assert.equal(node.requests.length, 0);
    assert.equal(
      used(node).reduce((n, k) => n + k.chunks.length, 0),
      0,
      'no byte of the request reached a node',
    );
  });

  test('a partial request head followed by FIN: the connection is closed promptly', async () => {
    const node = await raw();
    const lb = await fnlb([node], ['--header-timeout', '5s']);
    const c = await client(lb);
    await c.write('GET /r/app/x HTTP/1.1\r\nHost: x\r\n');
    c.end();
    const t0 = performance.now();
    assert.ok(await c.waitForClose(1500), 'closed within 1.5 s');
    assert.ok(performance.now() - t0 < 1500);
  });
});

describe('engine review: flow control and pausing', () => {
  test('--max-replay-body 0: a small POST on a fresh node connection, then a GET on the same client connection', async () => {
    const node = await raw();
    const lb = await fnlb([node], ['--max-replay-body', '0', '--idle-timeout', '10s']);
    const c = await client(lb);
    await c.write('POST /r/app/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    const [first] = await c.waitForResponses(1, 2000);
    assert.equal(first!.status, 200);
    await c.write('GET /r/app/g HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(2, 2000);
    assert.equal(rs[1]!.status, 200);
  });

  test('a chunked body that crosses --max-replay-body in the same read it ends in: the next request is still read', async () => {
    const node = await raw();
    const lb = await fnlb([node], ['--max-replay-body', '1KiB', '--idle-timeout', '10s']);
    const c = await client(lb);
    // Warm a pooled connection first, so both the "connected" and the "fresh" paths are exercised.
    await c.write('GET /r/app/c HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitForResponses(1, 2000);
    const data = 'x'.repeat(2000);
    await c.write(
      `POST /r/app/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`,
    );
    const rs = await c.waitForResponses(2, 2000);
    assert.equal(rs[1]!.status, 200);
    assert.equal(node.requests.find((r) => r.method === 'POST')?.body.length, 2000);
    await c.write('GET /r/app/c HTTP/1.1\r\nHost: x\r\n\r\n');
    const all = await c.waitForResponses(3, 2000);
    assert.equal(all[2]!.status, 200);
  });

  test('pipelined bytes queued behind a slow exchange are bounded: fnlb stops reading, then serves them', async () => {
    const node = await raw({ script: (req) => (req.target.includes('slow') ? [{ delay: 1000 }, { write: RAW_OK }] : [{ write: RAW_OK }]) });
    const lb = await fnlb([node], ['--max-replay-body', '64KiB']);
    const c = await client(lb);
    await c.write('GET /r/app/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50);
    // A pipelined POST with a 32 MiB body: far more than socket buffers; fnlb must not swallow it while waiting.
    const size = 32 * 1024 * 1024;
    let done = false;
    const writing = c
      .write(
        Buffer.concat([Buffer.from(`POST /r/app/big HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`), Buffer.alloc(size, 0x61)]),
      )
      .then(() => {
        done = true;
      });
    await sleep(700);
    assert.equal(done, false, 'fnlb kept reading a pipelined 32 MiB while the first request was still waiting');
    const [first] = await c.waitForResponses(1, 3000);
    assert.equal(first!.status, 200);
    // After the first exchange fnlb reads again: the pipelined POST starts to flow to the node.
    await node.waitFor(() => node.connections.some((k) => k.chunks.reduce((n, b) => n + b.length, 0) > 1024 * 1024), 3000, 'body flowing');
    void writing.catch(() => undefined);
  });
});

describe('engine review: pipelining and synchronous answers', () => {
  test('all nodes down: a POST whose body packet also carries the next request gets two 503s', async () => {
    const dead = await raw();
    const deadPort = dead.port;
    await dead.close();
    raws.splice(raws.indexOf(dead), 1);
    const lb = await startFnlb([
      '--listen',
      '127.0.0.1:0',
      '--nodes',
      `127.0.0.1:${deadPort}`,
      '--hc-path=',
      '--hc-interval',
      '100ms',
      '--hc-unhealthy',
      '1',
      '--header-timeout',
      '2s',
      '--access-log',
      'off',
    ]);
    await lb.waitForLog((l) => l.msg === 'node down', 3000, 'node down');
    const c = await client(lb);
    await c.write('POST /r/app/p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n');
    await sleep(50);
    await c.write('abcGET /r/app/g HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(2, 1500);
    assert.deepEqual(
      rs.map((r) => r.status),
      [503, 503],
    );
  });
});

describe('engine review: half-close and early answers', () => {
  test('GET then FIN (nc/curl style): fnlb still answers, then closes', async () => {
    const node = await raw({ script: [{ delay: 100 }, { write: RAW_OK }] });
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('GET /r/app/h HTTP/1.1\r\nHost: x\r\n\r\n');
    c.end();
    const rs = await c.waitForResponses(1, 2000);
    assert.equal(rs[0]!.status, 200);
    assert.ok(await c.waitForClose(2000));
  });

  test('two pipelined requests then FIN: both answered in order, then closed', async () => {
    const node = await raw({ script: [{ delay: 50 }, { write: RAW_OK }] });
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('POST /r/app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /r/app/b HTTP/1.1\r\nHost: x\r\n\r\n');
    c.end();
    const rs = await c.waitForResponses(2, 2000);
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200],
    );
    assert.ok(await c.waitForClose(2000));
  });

  test('FIN in the middle of a body: the exchange is dropped, the node never sees a complete request', async () => {
    const node = await raw();
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('POST /r/app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    c.end();
    assert.ok(await c.waitForClose(2000));
    await sleep(100);
    assert.equal(node.requests.length, 0);
  });

  test('a node that answers before the streamed body is complete: answer passed on with Connection: close, node connection not reused', async () => {
    // The node answers as soon as a connection opens, without reading the body.
    const early = 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope';
    const node = await raw({ recordOnly: true, onConnect: [{ delay: 150 }, { write: early }] });
    const lb = await fnlb([node], ['--max-replay-body', '1KiB']);
    const c = await client(lb);
    await c.write(`POST /r/app/up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'y'.repeat(4000)}`);
    const rs = await c.waitForResponses(1, 2000);
    assert.equal(rs[0]!.status, 413);
    assert.equal(rs[0]!.headers['connection'], 'close');
    assert.ok(await c.waitForClose(3000), 'client connection closed');
    const trafficConn = node.connections.find((k) => k.chunks.length > 0)!;
    await node.waitFor(() => trafficConn.closed, 2000, 'node connection closed by fnlb');
  });
});

describe('engine review: framing', () => {
  test('HEAD answered with Transfer-Encoding: chunked: no body awaited, next pipelined response parses, connection reused', async () => {
    const node = await raw({
      script: (req) => (req.method === 'HEAD' ? [{ write: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' }] : [{ write: RAW_OK }]),
    });
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('HEAD /r/app/h HTTP/1.1\r\nHost: x\r\n\r\nGET /r/app/h HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(2, 2000);
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200],
    );
    assert.equal(rs[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(rs[1]!.text(), 'ok');
    assert.equal(used(node).length, 1, 'one node connection carried both');
  });

  test('HTTP/1.0 HEAD answered with a chunked head: no Transfer-Encoding goes to the 1.0 client', async () => {
    const node = await raw({ script: [{ write: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' }] });
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('HEAD /r/app/h HTTP/1.0\r\n\r\n');
    const rs = await c.waitForResponses(1, 2000);
    assert.equal(rs[0]!.status, 200);
    assert.equal(rs[0]!.headers['transfer-encoding'], undefined, rs[0]!.rawHead);
  });

  test('a response head that never ends is cut at 64 KiB with a 502; fnlb keeps serving', async () => {
    const line = `X-Pad: ${'p'.repeat(1000)}\r\n`;
    const node = await raw({
      script: (req) =>
        req.target.includes('endless')
          ? [{ write: 'HTTP/1.1 200 OK\r\n' }, ...Array.from({ length: 100 }, () => ({ write: line }))]
          : [{ write: RAW_OK }],
    });
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('GET /r/app/endless HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(1, 3000);
    assert.equal(rs[0]!.status, 502);
    const c2 = await client(lb);
    await c2.write('GET /r/app/ok HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await c2.waitForResponses(1, 2000))[0]!.status, 200);
  });
});

describe('engine review: response timeout', () => {
  test('a GET that times out on every node it is tried on gets 504, not 502', async () => {
    const a = await raw({ script: [] });
    const b = await raw({ script: [] });
    const lb = await fnlb([a, b], ['--response-timeout', '400ms']);
    const c = await client(lb);
    await c.write('GET /r/app/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(1, 3000);
    assert.equal(a.requests.length + b.requests.length, 2, 'tried on both nodes');
    assert.equal(rs[0]!.status, 504, rs[0]!.text());
  });

  test('a POST that times out gets 504 and is sent once', async () => {
    const a = await raw({ script: [] });
    const b = await raw({ script: [] });
    const lb = await fnlb([a, b], ['--response-timeout', '400ms']);
    const c = await client(lb);
    await c.write('POST /r/app/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi');
    const rs = await c.waitForResponses(1, 3000);
    assert.equal(rs[0]!.status, 504);
    assert.equal(a.requests.length + b.requests.length, 1);
  });
});

describe('engine review: retries on a reused connection', () => {
  /** Answers the first request on each connection; the second request on connection 0 is reset unanswered. */
  const script = (): RawBackendOptions => ({
    script: (req, conn) =>
      conn.index !== 0 && conn.requests.length === 1 ? [{ write: RAW_OK }] : req.reqIndex === 0 ? [{ write: RAW_OK }] : [{ destroy: true }],
  });

  test('GET on a reused connection the node drops: retried once on a fresh connection to the same node', async () => {
    const node = await raw(script());
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('GET /r/app/k HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitForResponses(1, 2000);
    await c.write('GET /r/app/k HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.waitForResponses(2, 3000);
    assert.equal(rs[1]!.status, 200);
    assert.equal(node.requests.filter((r) => r.method === 'GET').length, 3, 'sent, dropped, re-sent once');
  });

  test('POST on a reused connection the node drops: 502, never re-sent', async () => {
    const node = await raw(script());
    const lb = await fnlb([node]);
    const c = await client(lb);
    await c.write('GET /r/app/k HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitForResponses(1, 2000);
    await c.write('POST /r/app/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi');
    const rs = await c.waitForResponses(2, 3000);
    assert.equal(rs[1]!.status, 502);
    await sleep(150);
    assert.equal(node.requests.filter((r) => r.method === 'POST').length, 1);
  });
});

describe('connection limit', () => {
  test('--max-connections: the connection over the limit gets 503 and is closed; a freed slot is reused', async () => {
    const node = await raw({});
    const lb = await fnlb([node], ['--max-connections', '2']);
    const a = await client(lb);
    const b = await client(lb);
    await a.write('GET /r/app/a HTTP/1.1\r\nHost: x\r\n\r\n');
    await b.write('GET /r/app/b HTTP/1.1\r\nHost: x\r\n\r\n');
    await a.waitForResponses(1, 3000);
    await b.waitForResponses(1, 3000);
    const c = await client(lb);
    await c.waitForClose(3000);
    const refused = c.responses[0];
    assert.equal(refused?.status, 503);
    assert.match(refused!.text(), /too many connections/);
    a.destroy();
    await sleep(100);
    const d = await client(lb);
    await d.write('GET /r/app/d HTTP/1.1\r\nHost: x\r\n\r\n');
    const [ok] = await d.waitForResponses(1, 3000);
    assert.equal(ok!.status, 200);
    b.destroy();
    d.destroy();
  });
});
