/**
 * A request written on a pooled connection that the node had already closed never reached the node:
 * README's "closed before anything was sent: next node" should apply, for a POST too. Made deterministic
 * with a node that closes each connection right behind its (keep-alive) response and a client that
 * pipelines the next request: fnlb completes the response, pools the connection and sends the next
 * request on it before it reads the FIN that already sits behind the response bytes. Under load the same
 * happens without pipelining whenever fnlb's event loop handles a new request before a FIN that has
 * already arrived (the fault matrix sees it as POST 502s at kill -9 that no node's log shows).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, startFnlb } from '../../harness/processes.js';
import { RAW_OK, startRawBackend } from '../../harness/nodes/raw-backend.js';
import { RawConnection } from '../../harness/client/raw-client.js';

after(cleanup);

async function pipelinedAfterClose(second: string): Promise<{ status: number | undefined; body: string; seen: number }> {
  // GET /first: answered keep-alive, then the node drops the connection at once (FIN, and RST for anything after).
  const node = await startRawBackend({
    script: (req) => (req.target === '/r/app/first' ? [{ write: RAW_OK }, { destroy: true }] : [{ write: RAW_OK }]),
  });
  try {
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', node.id, '--hc-interval', '1h', '--access-log', 'off']);
    const client = await RawConnection.open(lb.port);
    try {
      await client.write(`GET /r/app/first HTTP/1.1\r\nHost: x\r\n\r\n${second}`);
      const [first, answer] = await client.waitForResponses(2);
      assert.equal(first?.status, 200);
      return {
        status: answer?.status,
        body: answer?.body.toString() ?? '',
        seen: node.requests.filter((r) => r.target === '/r/app/second').length,
      };
    } finally {
      client.destroy();
      await lb.stop();
    }
  } finally {
    await node.close();
  }
}

describe('request on a pooled connection the node has already closed', () => {
  test('GET: replayed on a fresh connection', async () => {
    const r = await pipelinedAfterClose('GET /r/app/second HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.seen, 1);
  });

  test(
    'POST: sent on a fresh connection, not answered 502',
    {
      todo:
        'the node closes ~1 ms after its response (no Connection: close), so the POST is already written when the FIN ' +
        'arrives; a FIN first says nothing about whether the node read it (the RST that would follow is never read, libuv ' +
        'stops reading at EOF). Nodes that say Connection: close, and --upstream-idle-timeout below their keep-alive, avoid it',
    },
    async () => {
      const r = await pipelinedAfterClose('POST /r/app/second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      assert.equal(r.seen, 1, `the node got the POST ${r.seen} times; fnlb answered ${r.status} ${r.body}`);
      assert.equal(r.status, 200);
    },
  );
});
