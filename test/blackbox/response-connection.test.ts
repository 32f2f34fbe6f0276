/**
 * Black-box: what a client hears about its connection when the node says something about its own.
 * A node's Connection field is hop-by-hop: it speaks of the node's connection to fnlb. A lone
 * `Connection: keep-alive` (nginx, Apache) is passed on as it came to an HTTP/1.1 client fnlb keeps
 * alive, since it is also exactly what fnlb may say of the client's connection; in every other case the
 * client hears only fnlb's own word (`Connection: close` when it closes, `keep-alive` for an HTTP/1.0
 * client it keeps). Go nodes send no Connection line: their heads pass unchanged. Bodies of every size
 * arrive whole, the small ones (copied out of the read buffer) and the large ones (written from it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cleanup, startFnlb, type FnlbProcess } from '../../harness/processes.js';
import { startRawBackend, type RawBackend } from '../../harness/nodes/raw-backend.js';
import { RawConnection } from '../../harness/client/raw-client.js';

after(cleanup);

const NGINX_LIKE = 'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok';
const NODE_LIKE =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok';
const LISTED = 'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nContent-Length: 2\r\n\r\nok';
const TWICE = 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok';
const GO_LIKE =
  'HTTP/1.1 200 OK\r\nDate: Fri, 04 Dec 2026 14:00:00 GMT\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok';
/** Deterministic bytes of a given size. */
const bodyOf = (size: number): string => Array.from({ length: size }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
const goLikeWithBody = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
/** A head fnlb rebuilds (its Keep-Alive field goes), so the body leaves beside a new head, copied behind it or in a writev. */
const nodeLikeWithBody = (body: string): string =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n${body}`;

const ANSWERS: Record<string, string> = {
  '/r/app/nginx': NGINX_LIKE,
  '/r/app/node': NODE_LIKE,
  '/r/app/listed': LISTED,
  '/r/app/twice': TWICE,
  '/r/app/go': GO_LIKE,
};
const SIZES = [1, 100, 2047, 2048, 2049, 4000, 4096, 4097, 16 * 1024, 200 * 1024];
for (const size of SIZES) {
  ANSWERS[`/r/app/go-size-${size}`] = goLikeWithBody(bodyOf(size));
  ANSWERS[`/r/app/node-size-${size}`] = nodeLikeWithBody(bodyOf(size));
}

/** The head of the first response in `raw`, as text. */
function headText(raw: Buffer): string {
  const text = raw.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n') + 4);
}

/** All Connection values in a head, lower-cased. */
function connectionValues(head: string): string[] {
  return head
    .split('\r\n')
    .filter((l) => /^connection:/i.test(l))
    .map((l) =>
      l
        .slice(l.indexOf(':') + 1)
        .trim()
        .toLowerCase(),
    );
}

describe('the Connection field a client hears', () => {
  let node: RawBackend;
  let lb: FnlbProcess;

  before(async () => {
    node = await startRawBackend({
      script: (req) => [{ write: ANSWERS[req.target] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' }],
    });
    lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', node.id, '--hc-interval', '1h', '--access-log', 'off']);
  });
  after(async () => {
    await lb?.stop();
    await node?.close();
  });

  /** Sends `request` on a new connection; returns the first response's head and whether fnlb then closed. */
  async function exchange(request: string): Promise<{ head: string; body: string; closed: boolean; client: RawConnection }> {
    const client = await RawConnection.open(lb.port);
    await client.write(request);
    const [res] = await client.waitForResponses(1);
    const closed = await client.waitForClose(300);
    return { head: headText(client.raw), body: res!.body.toString('latin1'), closed, client };
  }

  test('a lone Connection: keep-alive reaches an HTTP/1.1 client kept alive as the node sent it, and the connection is reused', async () => {
    const client = await RawConnection.open(lb.port);
    try {
      await client.write('GET /r/app/nginx HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.waitForResponses(1);
      assert.equal(client.raw.toString('latin1'), NGINX_LIKE);
      await client.write('GET /r/app/go HTTP/1.1\r\nHost: x\r\n\r\n');
      const [, second] = await client.waitForResponses(2);
      assert.equal(second!.status, 200);
      assert.equal(client.closed, false);
    } finally {
      client.destroy();
    }
  });

  test('a Go-like head (no Connection line) passes byte for byte', async () => {
    const r = await exchange('GET /r/app/go HTTP/1.1\r\nHost: x\r\n\r\n');
    r.client.destroy();
    assert.equal(r.head + r.body, GO_LIKE);
    assert.equal(r.closed, false);
  });

  test('a client that asked to close hears only Connection: close, and is closed', async () => {
    const r = await exchange('GET /r/app/nginx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    r.client.destroy();
    assert.deepEqual(connectionValues(r.head), ['close'], r.head);
    assert.equal(r.body, 'ok');
    assert.equal(r.closed, true);
  });

  test('an HTTP/1.0 client kept alive hears one Connection: keep-alive, in an HTTP/1.1 status line', async () => {
    const r = await exchange('GET /r/app/nginx HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    r.client.destroy();
    assert.match(r.head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.deepEqual(connectionValues(r.head), ['keep-alive'], r.head);
    assert.equal(r.closed, false);
  });

  test('an HTTP/1.0 client not kept alive hears Connection: close only', async () => {
    const r = await exchange('GET /r/app/nginx HTTP/1.0\r\nHost: x\r\n\r\n');
    r.client.destroy();
    assert.deepEqual(connectionValues(r.head), ['close'], r.head);
    assert.equal(r.closed, true);
  });

  for (const [path, what] of [
    ['/r/app/node', 'with a Keep-Alive field (Node.js servers)'],
    ['/r/app/listed', 'naming another hop-by-hop field'],
    ['/r/app/twice', 'in two lines'],
  ] as const) {
    test(`a node's Connection ${what} does not reach the client, nor do the fields it names`, async () => {
      const r = await exchange(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      r.client.destroy();
      assert.deepEqual(connectionValues(r.head), [], r.head);
      assert.doesNotMatch(r.head, /keep-alive:|x-hop/i, r.head);
      assert.match(r.head, /\r\nContent-Length: 2\r\n/, r.head);
      assert.equal(r.body, 'ok');
      assert.equal(r.closed, false);
    });
  }

  for (const kind of ['go', 'node'] as const) {
    test(`bodies of every size arrive whole, one after another on one connection (${kind}-like heads)`, async () => {
      const client = await RawConnection.open(lb.port);
      try {
        for (let i = 0; i < SIZES.length; i++) {
          await client.write(`GET /r/app/${kind}-size-${SIZES[i]} HTTP/1.1\r\nHost: x\r\n\r\n`);
          const responses = await client.waitForResponses(i + 1);
          const body = responses[i]!.body.toString('latin1');
          assert.equal(body.length, SIZES[i]);
          assert.equal(body, bodyOf(SIZES[i]!), `body of ${SIZES[i]} bytes`);
        }
      } finally {
        client.destroy();
      }
    });
  }
});
