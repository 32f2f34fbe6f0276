/**
 * Retry only when safe, black-box: a real fnlb process in front of raw backends that script their exact
 * answers. The not-executed marker (--not-executed-header), Idempotency-Key, and the retry budget.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { functionKey, rankNodes } from '../../src/index.js';
import { cleanup, startFnlb, type FnlbProcess } from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';
import { RAW_OK, startRawBackend, type RawBackend, type RawScript } from '../../harness/nodes/raw-backend.js';
import { rawRequest } from '../../harness/client/raw-client.js';

const raws: RawBackend[] = [];

afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close()));
  await cleanup();
});

async function raw(script?: RawScript): Promise<RawBackend> {
  const r = await startRawBackend(script === undefined ? {} : { script });
  raws.push(r);
  return r;
}

/** TCP health checks, rarely: the raw backends see only traffic (plus one probe connection). */
function fnlb(nodes: RawBackend[], extra: string[] = [], accessLog = 'off'): Promise<FnlbProcess> {
  const ids = nodes.map((n) => n.id).join(',');
  return startFnlb(
    ['--listen', '127.0.0.1:0', '--nodes', ids, '--hc-path=', '--hc-interval', '60s', '--access-log', accessLog, ...extra],
    undefined,
    { waitReady: true },
  );
}

/** A function path whose owner is `owner` among `nodes` (in this order on the command line). */
function pathOwnedBy(owner: RawBackend, nodes: RawBackend[]): string {
  const ranked = nodes.map((n) => ({ id: n.id, weight: 1 }));
  for (let i = 0; ; i++) {
    const p = `/r/app/f${i}`;
    if (nodes[rankNodes(functionKey(p), ranked)[0]] === owner) return p;
  }
}

const REFUSED = (status: number, extra = '') =>
  `HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n${extra}Content-Length: 4\r\n\r\nbusy`;
const MARKER = 'X-Fn-Not-Executed: 1\r\n';

/** Requests of a node other than health probes. */
const calls = (b: RawBackend) => b.requests.filter((r) => r.target !== '/version');

async function send(lb: FnlbProcess, request: string) {
  const res = await rawRequest(lb.port, request, { expectResponses: 1, timeoutMs: 5000 });
  assert.equal(res.responses.length, 1, `no response: ${res.raw.toString('latin1')}`);
  return { res: res.responses[0]!, raw: res.raw.toString('latin1') };
}

const post = (path: string, body: string, headers = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

describe('not-executed marker', () => {
  test('a POST answered 503 + marker by its owner goes to the next node: the client gets its 200; the owner stays up', async () => {
    const owner = await raw((req) => [{ write: req.method === 'POST' ? REFUSED(503, MARKER) : RAW_OK }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, [], 'on');
    const path = pathOwnedBy(owner, nodes);

    const { res, raw: bytes } = await send(lb, post(path, 'pay once'));
    assert.equal(res.status, 200, bytes);
    assert.equal(res.text(), 'ok');
    assert.equal(calls(owner).length, 1);
    assert.equal(calls(next).length, 1);
    assert.equal(calls(next)[0]!.body.toString(), 'pay once', 'the kept body went again, whole');
    await eventually(() => lb.logs.some((l) => l.msg === 'request' && l.attempts === 2 && l.status === 200), 2000);

    // Not marked down: the owner still takes its function's next request.
    const get = await send(lb, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(get.res.status, 200);
    assert.equal(calls(owner).length, 2);
    assert.equal(calls(next).length, 1);
  });

  test('no node left: the last refusal status with our JSON error; the marker never reaches a client', async () => {
    const a = await raw(() => [{ write: REFUSED(503, MARKER) }]);
    const b = await raw(() => [{ write: REFUSED(429, 'x-fn-not-executed: 1\r\n') }]);
    const nodes = [a, b];
    const lb = await fnlb(nodes);
    const path = pathOwnedBy(a, nodes);
    const { res, raw: bytes } = await send(lb, post(path, 'x'));
    assert.equal(res.status, 429, bytes);
    assert.match(res.json<{ error: string }>().error, /no node could take the request/);
    assert.equal(calls(a).length, 1);
    assert.equal(calls(b).length, 1);
    assert.doesNotMatch(bytes, /not-executed/i);

    // The marker on a response that is passed through (a 200, a wrong value) is removed all the same.
    a.setScript(() => [{ write: `HTTP/1.1 200 OK\r\n${MARKER}Content-Length: 2\r\n\r\nok` }]);
    const ok = await send(lb, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(ok.res.status, 200);
    assert.doesNotMatch(ok.raw, /not-executed/i);
    a.setScript(() => [{ write: REFUSED(503, 'X-Fn-Not-Executed: 0\r\n') }]);
    const other = await send(lb, post(path, 'y'));
    assert.equal(other.res.status, 503);
    assert.equal(other.res.text(), 'busy', 'a value other than the configured one: the node may have run it');
    assert.doesNotMatch(other.raw, /not-executed/i);
    assert.equal(calls(b).length, 1);
  });

  test('a 503 with Retry-After but without the marker is passed through as it is, never re-sent', async () => {
    const owner = await raw(() => [{ write: REFUSED(503) }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes);
    const path = pathOwnedBy(owner, nodes);
    for (const request of [post(path, 'x'), `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]) {
      const { res } = await send(lb, request);
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.text(), 'busy');
    }
    assert.equal(calls(next).length, 0);
  });

  test("--not-executed-header off: the marked 503 is the node's answer, header and all", async () => {
    const owner = await raw(() => [{ write: REFUSED(503, MARKER) }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, ['--not-executed-header', 'off']);
    const { res } = await send(lb, post(pathOwnedBy(owner, nodes), 'x'));
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-fn-not-executed'], '1');
    assert.equal(calls(next).length, 0);
  });

  test('a body too big to keep cannot go again: the refusal is passed through, without the marker', async () => {
    const owner = await raw(() => [{ write: REFUSED(503, MARKER) }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, ['--max-replay-body', '0']);
    const { res, raw: bytes } = await send(lb, post(pathOwnedBy(owner, nodes), 'streamed'));
    assert.equal(res.status, 503);
    assert.equal(res.text(), 'busy');
    assert.doesNotMatch(bytes, /not-executed/i);
    assert.equal(calls(next).length, 0);
  });
});

describe('Idempotency-Key', () => {
  test('a POST with the key whose node resets after reading it is re-sent; one without gets 502', async () => {
    for (const keyed of [true, false]) {
      const owner = await raw(() => [{ reset: true }]);
      const next = await raw();
      const nodes = [owner, next];
      const lb = await fnlb(nodes);
      const headers = keyed ? 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324\r\n' : '';
      const { res, raw: bytes } = await send(lb, post(pathOwnedBy(owner, nodes), 'charge', headers));
      assert.equal(calls(owner).length, 1);
      if (keyed) {
        assert.equal(res.status, 200, bytes);
        assert.equal(calls(next).length, 1);
        assert.equal(calls(next)[0]!.headers['idempotency-key'], '8e03978e-40d5-43e8-bc93-6894a57f9324', 'forwarded unchanged');
        assert.equal(calls(next)[0]!.body.toString(), 'charge');
      } else {
        assert.equal(res.status, 502, bytes);
        await sleep(100);
        assert.equal(calls(next).length, 0, 'never re-sent');
      }
    }
  });
});

describe('retry budget', () => {
  const NO_BUDGET = ['--retry-budget', '0%', '--retry-budget-min', '0'];

  test('spent: a GET whose node resets gets the 502 it would get with no node left, not a re-send', async () => {
    const owner = await raw(() => [{ reset: true }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, NO_BUDGET, 'on');
    const { res, raw: bytes } = await send(lb, `GET ${pathOwnedBy(owner, nodes)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 502, bytes);
    assert.match(res.json<{ error: string }>().error, /^bad gateway: .*\(retry budget spent\)$/);
    assert.equal(calls(next).length, 0);
    await eventually(() => lb.logs.some((l) => l.msg === 'request' && l.attempts === 1 && l.status === 502), 2000);
  });

  test('spent: a not-executed refusal gets its own status, not a re-send', async () => {
    const owner = await raw(() => [{ write: REFUSED(503, MARKER) }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, NO_BUDGET);
    const { res, raw: bytes } = await send(lb, post(pathOwnedBy(owner, nodes), 'x'));
    assert.equal(res.status, 503, bytes);
    assert.match(res.json<{ error: string }>().error, /no node could take the request .*\(retry budget spent\)$/);
    assert.equal(calls(next).length, 0);
  });

  test('a dead node still fails over with no budget: nothing reached it, nothing is counted', async () => {
    const dead = await raw();
    const next = await raw();
    const nodes = [dead, next];
    const lb = await fnlb(nodes, NO_BUDGET);
    await dead.close(); // the port now refuses connections
    const { res, raw: bytes } = await send(lb, post(pathOwnedBy(dead, nodes), 'x'));
    assert.equal(res.status, 200, bytes);
    assert.equal(calls(next).length, 1);
  });

  test('the floor: 0% and 1 retry/s over 10 s: ten refusals go to the next node, the eleventh is answered', async () => {
    // A node that refuses with the marker stays up: every request to it asks the budget.
    const owner = await raw(() => [{ write: REFUSED(503, MARKER) }]);
    const next = await raw();
    const nodes = [owner, next];
    const lb = await fnlb(nodes, ['--retry-budget', '0%', '--retry-budget-min', '1', '--retry-budget-window', '10s']);
    const path = pathOwnedBy(owner, nodes);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await send(lb, post(path, `n${i}`))).res.status);
    assert.deepEqual(statuses, [...Array<number>(10).fill(200), 503]);
    assert.equal(calls(owner).length, 11);
    assert.equal(calls(next).length, 10);
  });
});

describe('a node taken out while a GET waits on it', () => {
  const BUSY = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
  const HEALTHY = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
  const FROM_OWNER = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nowner';

  /**
   * The owner takes the GET and answers it after 1.5 s; meanwhile its health checks turn bad the way
   * `checks` says once the GET has arrived. Returns the client's response, how long it took, and the GETs
   * each node received.
   */
  async function takenOutWhileWaiting(checks: 'answer 503' | 'no answer') {
    let healthy = true;
    const owner = await raw((req) => {
      if (req.target === '/version') return healthy ? [{ write: HEALTHY }] : checks === 'answer 503' ? [{ write: BUSY }] : [];
      return [{ delay: 1500 }, { write: FROM_OWNER }];
    });
    const next = await raw((req) => [{ write: req.target === '/version' ? HEALTHY : RAW_OK }]);
    const nodes = [owner, next];
    const ids = nodes.map((n) => n.id).join(',');
    const lb = await startFnlb(
      ['--listen', '127.0.0.1:0', '--nodes', ids, '--hc-path', '/version', '--hc-interval', '50ms', '--hc-timeout', '150ms'],
      undefined,
      { waitReady: true },
    );
    const path = pathOwnedBy(owner, nodes);
    const started = performance.now();
    const pending = send(lb, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    await owner.waitFor(() => calls(owner).length === 1, 2000, 'the GET at its owner');
    healthy = false;
    await eventually(() => lb.logs.some((l) => l.msg === 'node down' && l.node === owner.id), 2000);
    const { res, raw: bytes } = await pending;
    return { res, bytes, ms: performance.now() - started, atOwner: calls(owner).length, atNext: calls(next).length };
  }

  test('a node that still answers (its checks get 503) keeps the GET: its answer comes, nothing runs twice', async () => {
    const r = await takenOutWhileWaiting('answer 503');
    assert.equal(r.res.status, 200, r.bytes);
    assert.equal(r.res.text(), 'owner', 'answered by the node that ran it');
    assert.deepEqual([r.atOwner, r.atNext], [1, 0], 'received once, by its owner only');
    assert.ok(r.ms >= 1400, `waited for the owner's answer (${r.ms.toFixed(0)} ms)`);
  });

  test('a node gone silent (its checks time out) loses the GET to the next node at once', async () => {
    const r = await takenOutWhileWaiting('no answer');
    assert.equal(r.res.status, 200, r.bytes);
    assert.equal(r.res.text(), 'ok', 'answered by the next node');
    assert.deepEqual([r.atOwner, r.atNext], [1, 1]);
    assert.ok(r.ms < 1400, `moved before the owner would have answered (${r.ms.toFixed(0)} ms)`);
  });
});
