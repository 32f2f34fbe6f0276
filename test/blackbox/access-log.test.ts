/**
 * The access log, black-box: the fields of the access line (client, target, bytes, request id, reason),
 * the request id kept, replaced or generated and forwarded to the node, requests fnlb answers itself
 * ("rejected"), the access log under --log-level error, the Go balancers' flag spellings, and the
 * shutdown lines coming out whole and in order through a pipe.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { rawRequest } from '../../harness/client/raw-client.js';
import { cleanup, FNLB_ENTRY, freePorts, startBackend, startFnlb, type FnlbProcess, type LogLine } from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';

after(cleanup);

/** fnlb on any free port with the access log on. */
function startLogged(nodes: string, ...args: string[]): Promise<FnlbProcess> {
  return startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodes, '--access-log', 'on', ...args]);
}

const accessLines = (lb: FnlbProcess, msg = 'request'): LogLine[] => lb.logs.filter((l) => l.msg === msg);

/** The headers the backend got, from its echo (lower-cased names). */
function echoedHeaders(body: string): Map<string, string[]> {
  const info = JSON.parse(body) as { headers: [string, string][] };
  const out = new Map<string, string[]>();
  for (const [k, v] of info.headers) out.set(k.toLowerCase(), [...(out.get(k.toLowerCase()) ?? []), v]);
  return out;
}

/** fnlb without its "fnlb listening" line (--log-level error): waits until its port accepts. */
async function startQuiet(args: string[]): Promise<FnlbProcess & { port: number }> {
  const [port] = await freePorts(1);
  const lb = await startFnlb(['--listen', `127.0.0.1:${port}`, ...args], undefined, { waitReady: false });
  await eventually(
    () =>
      new Promise<void>((resolve, reject) => {
        const s = net.connect(port!, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      }),
    5000,
  );
  lb.port = port!;
  return lb as FnlbProcess & { port: number };
}

describe('access line', () => {
  test('fields: client, target, key, node, bytes, request id generated and forwarded; printed with --log-level error', async () => {
    const b = await startBackend('A');
    const lb = await startQuiet(['--nodes', b.id, '--log-level', 'error', '--access-log', 'on']);
    const body = 'x'.repeat(100);
    const req = `POST /r/app/fn?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const res = await rawRequest(lb.port, req);
    assert.equal(res.responses[0]?.status, 200);
    const line = await lb.waitForLog((l) => l.msg === 'request', 5000, 'access line');
    assert.equal(line.level, 'info');
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.method, 'POST');
    assert.equal(line.target, '/r/app/fn?x=1');
    assert.equal(line.key, '/r/app/fn');
    assert.equal(line.node, b.id);
    assert.equal(line.status, 200);
    assert.equal(line.attempts, 1);
    assert.equal(line.bytesIn, Buffer.byteLength(req));
    assert.equal(line.bytesOut, res.raw.length);
    assert.equal(line.reason, undefined);
    assert.match(String(line.requestId), /^[0-9a-f]{16}$/);
    // The node got the same id, once.
    assert.deepEqual(echoedHeaders(res.responses[0]!.text()).get('x-request-id'), [line.requestId]);
    // --log-level error: no info line but the access lines.
    assert.equal(
      lb.logs.filter((l) => l.msg !== 'request' && l.level === 'info').length,
      0,
      JSON.stringify(lb.logs.filter((l) => l.msg !== 'request')),
    );
    const second = await rawRequest(lb.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const ids = (await eventually(() => {
      const lines = accessLines(lb);
      assert.equal(lines.length, 2);
      return lines;
    })) as LogLine[];
    assert.notEqual(ids[1]!.requestId, ids[0]!.requestId, 'a new id per request');
    assert.equal(echoedHeaders(second.responses[0]!.text()).get('x-request-id')?.[0], ids[1]!.requestId);
  });

  test('request id: a valid one is kept and forwarded as is; an invalid one is replaced; off adds nothing', async () => {
    const b = await startBackend('A');
    const lb = await startLogged(b.id);
    const kept = await rawRequest(lb.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nX-Request-Id: client-id.42\r\nConnection: close\r\n\r\n');
    assert.deepEqual(echoedHeaders(kept.responses[0]!.text()).get('x-request-id'), ['client-id.42']);
    const long = 'a'.repeat(201);
    const replaced = await rawRequest(lb.port, `GET /r/app/g HTTP/1.1\r\nHost: t\r\nX-Request-Id: ${long}\r\nConnection: close\r\n\r\n`);
    const got = echoedHeaders(replaced.responses[0]!.text()).get('x-request-id');
    assert.equal(got?.length, 1);
    assert.match(got![0]!, /^[0-9a-f]{16}$/);
    const lines = await eventually(() => {
      const l = accessLines(lb);
      assert.equal(l.length, 2);
      return l;
    });
    assert.equal(lines[0]!.requestId, 'client-id.42');
    assert.equal(lines[1]!.requestId, got![0]);

    const off = await startLogged(b.id, '--request-id-header', 'off');
    const plain = await rawRequest(off.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    assert.equal(echoedHeaders(plain.responses[0]!.text()).get('x-request-id'), undefined);
    const line = await off.waitForLog((l) => l.msg === 'request');
    assert.equal(line.requestId, undefined);
  });

  test('reason on fnlb 502 and 503', async () => {
    const b = await startBackend('A');
    const lb = await startLogged(b.id, '--hc-interval', '1h', '--connect-timeout', '500ms');
    await b.kill();
    const r1 = await rawRequest(lb.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const r2 = await rawRequest(lb.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    assert.equal(r1.responses[0]?.status, 503); // refused: marked down, no node left
    assert.equal(r2.responses[0]?.status, 503);
    const lines = await eventually(() => {
      const l = accessLines(lb);
      assert.equal(l.length, 2);
      return l;
    });
    // The first one tried the node (connect refused), the second found no node up.
    assert.equal(lines[0]!.attempts, 1);
    assert.equal(lines[0]!.node, b.id);
    assert.equal(lines[0]!.reason, 'no node up');
    assert.equal(lines[1]!.attempts, 0);
    assert.equal(lines[1]!.node, null);
    assert.equal(lines[1]!.reason, 'no node up');
    assert.equal(lines[1]!.bytesOut, r2.raw.length);

    // A POST to a node that closes after reading it: 502, the failure as the reason.
    const closer = net.createServer((sock) => sock.once('data', () => sock.end()));
    await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
    after(() => closer.close());
    const closerId = `127.0.0.1:${(closer.address() as net.AddressInfo).port}`;
    const lb2 = await startLogged(closerId, '--hc-path=', '--hc-interval', '1h');
    const bad = await rawRequest(lb2.port, 'POST /r/app/fn HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    assert.equal(bad.responses[0]?.status, 502);
    const line = await lb2.waitForLog((l) => l.msg === 'request');
    assert.equal(line.status, 502);
    assert.equal(line.reason, 'closed by node');
    assert.equal(line.bytesOut, bad.raw.length);
  });
});

describe('rejected requests are logged', () => {
  test('400 bad framing, 431, 408, 503 over --max-connections', async () => {
    const b = await startBackend('A');
    const fnlb = await startLogged(b.id, '--header-timeout', '300ms', '--max-header-size', '1KiB', '--max-connections', '2');
    const bad = await rawRequest(fnlb.port, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx');
    assert.equal(bad.responses[0]?.status, 400);
    const big = await rawRequest(fnlb.port, `GET /r/app/big HTTP/1.1\r\nHost: t\r\nX-Pad: ${'p'.repeat(2000)}\r\n\r\n`);
    assert.equal(big.responses[0]?.status, 431);
    const slow = await rawRequest(fnlb.port, 'GET /r/app/slow HTTP/1.1\r\nHost: t\r\n', { timeoutMs: 3000 });
    assert.equal(slow.responses[0]?.status, 408);
    const lines = await eventually(() => {
      const l = accessLines(fnlb, 'rejected');
      assert.equal(l.length, 3);
      return l;
    });
    assert.deepEqual(
      lines.map((l) => [l.status, l.method, l.target, l.client]),
      [
        [400, 'GET', '/r/app/fn', '127.0.0.1'],
        [431, 'GET', '/r/app/big', '127.0.0.1'],
        [408, 'GET', '/r/app/slow', '127.0.0.1'],
      ],
    );
    assert.equal(lines[0]!.reason, 'duplicate Content-Length');
    // Two connections held open, the third is refused.
    const held = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((r) => {
            const s = net.connect(fnlb.port, '127.0.0.1', () => r(s));
          }),
      ),
    );
    await sleep(100);
    const over = await rawRequest(fnlb.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 3000 });
    for (const s of held) s.destroy();
    assert.equal(over.responses[0]?.status, 503);
    const refused = await fnlb.waitForLog((l) => l.msg === 'rejected' && l.status === 503);
    assert.equal(refused.reason, 'too many connections');
    assert.equal(refused.client, '127.0.0.1');
  });
});

describe("the Go balancers' spellings", () => {
  test('--listen :PORT listens on every interface; --hc-interval 1 is one second', async () => {
    const b = await startBackend('A');
    const [port] = await freePorts(1);
    const lb = await startFnlb(['--nodes', b.id, '--listen', `:${port}`, '--hc-interval', '1', '--hc-timeout', '1']);
    const line = lb.logs.find((l) => l.msg === 'fnlb listening')!;
    assert.equal(line.address, `0.0.0.0:${port}`);
    const r = await rawRequest(port!, 'GET /r/app/fn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    assert.equal(r.responses[0]?.status, 200);
  });
});

describe('shutdown', () => {
  test('SIGTERM with stdout a pipe: every line out, "shutting down" before "stopped", nothing after', async () => {
    const b = await startBackend('A');
    const [port] = await freePorts(1);
    // Our own spawn: stdout a pipe we read only after the exit (nothing drains it meanwhile).
    const proc = spawn(FNLB_ENTRY, ['--nodes', b.id, '--listen', `127.0.0.1:${port}`, '--admin-listen', 'off', '--access-log', 'on'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => chunks.push(c));
    await eventually(() => assert.match(Buffer.concat(chunks).toString(), /fnlb listening/), 5000);
    for (let i = 0; i < 50; i++) await rawRequest(port!, `GET /r/app/f${i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const closed = new Promise((r) => proc.stdout.once('close', r));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    await closed;
    const lines = Buffer.concat(chunks)
      .toString()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as LogLine);
    const msgs = lines.map((l) => l.msg);
    assert.equal(msgs.filter((m) => m === 'request').length, 50);
    const down = msgs.indexOf('shutting down');
    assert.ok(down > 0, msgs.join(','));
    assert.equal(msgs.at(-1), 'stopped');
    assert.ok(down < msgs.length - 1);
  });
});
