/**
 * Black-box: HTTP/1.x semantics through a real fnlb process and three test backends — pipelining,
 * HTTP/1.0, 100-continue, bodiless responses, forwarding headers, hop-by-hop headers, redirects, error
 * statuses passed through without retry, per-function affinity, the library's ranking, node base paths.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BackendInfo } from '../../harness/nodes/backend.js';
import { httpRequest, rawRequest, RawConnection, type RawRequestResult } from '../../harness/client/raw-client.js';
import type { ParsedResponse } from '../../harness/client/http1-reader.js';
import {
  startBackends,
  startFnlb,
  cleanup,
  nodesArg,
  loadFnlbLibrary,
  type BackendProcess,
  type FnlbProcess,
} from '../../harness/processes.js';
import { eventually } from '../../harness/wait.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** All values of a header as the backend received it (case-insensitive name). */
function headerValues(info: BackendInfo, name: string): string[] {
  return info.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

function infoOf(r: ParsedResponse | { json<T>(): T }): BackendInfo {
  return r.json<BackendInfo>();
}

/** What a raw exchange looked like, for assertion messages. */
function shown(r: RawRequestResult): string {
  return (
    `\n${r.responses.length} responses, closed=${r.closed}, timedOut=${r.timedOut}` +
    `${r.parseError ? `, parse error: ${r.parseError}` : ''}${r.error ? `, socket error: ${r.error.message}` : ''}\n` +
    `received: ${JSON.stringify(r.raw.subarray(0, 800).toString('latin1'))}`
  );
}

async function waitRoutable(lb: FnlbProcess): Promise<void> {
  await eventually(async () => {
    const r = await httpRequest(lb.port, { path: '/r/app/warmup', timeoutMs: 1000 });
    assert.equal(r.status, 200);
  }, 5000);
}

describe('HTTP semantics through fnlb', () => {
  let dir: string;
  let backends: BackendProcess[];
  let lb: FnlbProcess;
  let host: string;
  const logOf = (b: BackendProcess): string => join(dir, `${b.name}.log`);
  /** How many times each backend saw this x-request-id. */
  const sightings = (rid: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const b of backends) {
      const f = logOf(b);
      out[b.name] = existsSync(f)
        ? readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l === rid).length
        : 0;
    }
    return out;
  };
  const nodeOf = async (path: string): Promise<string> => {
    const r = await httpRequest(lb.port, { path });
    assert.equal(r.status, 200, `${path}: ${r.text().slice(0, 200)}`);
    return String(r.headers['x-node']);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fnlb-semantics-'));
    backends = await startBackends(3, 'B', (i) => ({ logFile: join(dir, `B${i + 1}.log`) }));
    lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--hc-interval', '100ms']);
    host = `127.0.0.1:${lb.port}`;
    await waitRoutable(lb);
  });
  after(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pipelining: 3 requests in one write get 3 responses in order, each from its function node', async () => {
    // pick functions owned by different nodes where possible, the first one slow
    const candidates = Array.from({ length: 12 }, (_, i) => `/r/app/pipe-${i}`);
    const owners = await Promise.all(candidates.map(nodeOf));
    const picked: number[] = [];
    for (let i = 0; i < candidates.length && picked.length < 3; i++) {
      if (!picked.some((j) => owners[j] === owners[i])) picked.push(i);
    }
    for (let i = 0; picked.length < 3; i++) if (!picked.includes(i)) picked.push(i);
    const paths = picked.map((i, k) => (k === 0 ? `${candidates[i]}?delay=150` : candidates[i]!));
    const bytes = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n\r\n`).join('');
    const r = await rawRequest(lb.port, bytes, { expectResponses: 3, timeoutMs: 5000 });
    assert.equal(r.parseError, undefined, shown(r));
    assert.equal(r.responses.length, 3, shown(r));
    r.responses.forEach((res, k) => {
      assert.equal(res.status, 200);
      assert.equal(infoOf(res).url, paths[k], `response ${k} out of order`);
      assert.equal(res.headers['x-node'], owners[picked[k]!], `response ${k} from the wrong node`);
    });
  });

  it('HTTP/1.0 without keep-alive: a response, then the connection is closed', async () => {
    const r = await rawRequest(lb.port, `GET /r/app/old HTTP/1.0\r\nHost: ${host}\r\n\r\n`, { timeoutMs: 3000 });
    assert.equal(r.timedOut, false, 'fnlb kept the HTTP/1.0 connection open' + shown(r));
    assert.equal(r.closed, true, shown(r));
    assert.equal(r.parseError, undefined, shown(r));
    assert.equal(r.responses.length, 1, shown(r));
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.chunked, false, 'chunked encoding sent to an HTTP/1.0 client');
    assert.equal(infoOf(r.responses[0]!).url, '/r/app/old');
  });

  it('HTTP/1.0 with Connection: keep-alive keeps the connection for a second request', async () => {
    const conn = await RawConnection.open(lb.port);
    try {
      const req = `GET /r/app/old-ka HTTP/1.0\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`;
      await conn.write(req);
      const [first] = await conn.waitForResponses(1, 3000);
      assert.equal(first!.status, 200);
      assert.equal(first!.chunked, false, 'chunked encoding sent to an HTTP/1.0 client');
      assert.equal(first!.closeDelimited, false, 'keep-alive response must have a length');
      assert.match(first!.headers.connection ?? '', /keep-alive/i);
      assert.equal(conn.remoteClosed, false);
      await conn.write(req);
      const rs = await conn.waitForResponses(2, 3000);
      assert.equal(rs[1]!.status, 200);
      assert.equal(infoOf(rs[1]!).url, '/r/app/old-ka');
    } finally {
      conn.destroy();
    }
  });

  it('Expect: 100-continue: the client gets 100 Continue, then the final response; the node gets the body', async () => {
    const body = 'the body after the 100';
    const conn = await RawConnection.open(lb.port);
    try {
      await conn.write(`POST /r/app/expect HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
      await conn.waitFor(() => conn.responses.some((r) => r.status === 100), 3000, '100 Continue');
      await conn.write(body);
      await conn.waitFor(() => conn.responses.some((r) => r.status >= 200), 3000, 'final response');
      const final = conn.responses.find((r) => r.status >= 200)!;
      assert.equal(final.status, 200);
      assert.equal(infoOf(final).bodyLength, body.length);
      assert.equal(infoOf(final).bodySha256, sha(body));
    } finally {
      conn.destroy();
    }
  });

  it('HEAD: Content-Length but no body (the next pipelined response parses)', async () => {
    const req = (m: string): string => `${m} /r/app/head HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const r = await rawRequest(lb.port, req('HEAD') + req('GET'), { expectResponses: 2 });
    assert.equal(r.parseError, undefined, shown(r));
    assert.equal(r.responses.length, 2, shown(r));
    const [head, get] = r.responses;
    assert.equal(head!.status, 200);
    assert.ok(Number(head!.headers['content-length']) > 0, `HEAD response headers: ${head!.rawHead}`);
    assert.equal(head!.body.length, 0);
    assert.equal(get!.status, 200);
    assert.equal(infoOf(get!).method, 'GET');
  });

  it('204 and 304 from a node have no body (the next pipelined response parses)', async () => {
    const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const r = await rawRequest(lb.port, req('/r/app/nb?status=204') + req('/r/app/nb?status=304') + req('/r/app/nb'), {
      expectResponses: 3,
    });
    assert.equal(r.parseError, undefined, shown(r));
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 304, 200],
      shown(r),
    );
    for (const res of r.responses.slice(0, 2)) {
      assert.equal(res.body.length, 0);
      assert.equal(res.headers['transfer-encoding'], undefined, `${res.status} with Transfer-Encoding`);
    }
    assert.equal(infoOf(r.responses[2]!).url, '/r/app/nb');
  });

  it('a chunked response passes through as chunked', async () => {
    const r = await rawRequest(lb.port, `GET /r/app/chunks?chunked=3&every=20 HTTP/1.1\r\nHost: ${host}\r\n\r\n`, {
      expectResponses: 1,
    });
    assert.equal(r.parseError, undefined, shown(r));
    assert.equal(r.responses.length, 1, shown(r));
    const res = r.responses[0]!;
    assert.equal(res.status, 200);
    assert.equal(res.chunked, true, `response head: ${res.rawHead}`);
    assert.equal(res.text(), 'chunk 0\nchunk 1\nchunk 2\n');
  });

  it('the Host header reaches the node unchanged', async () => {
    const r = await rawRequest(lb.port, `GET /r/app/host HTTP/1.1\r\nHost: functions.example.com:8080\r\n\r\n`, {
      expectResponses: 1,
    });
    assert.equal(r.responses[0]?.status, 200, shown(r));
    const info = infoOf(r.responses[0]!);
    assert.deepEqual(headerValues(info, 'host'), ['functions.example.com:8080']);
  });

  it('X-Forwarded-For / -Proto / -Host', async () => {
    const r1 = await httpRequest(lb.port, {
      path: '/r/app/xff',
      headers: { host: 'client.example:1234', 'x-forwarded-for': '10.1.2.3' },
    });
    const i1 = r1.json<BackendInfo>();
    assert.match(headerValues(i1, 'x-forwarded-for').join(', '), /^10\.1\.2\.3, ?127\.0\.0\.1$/);
    assert.deepEqual(headerValues(i1, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(headerValues(i1, 'x-forwarded-host'), ['client.example:1234']);
    const r2 = await httpRequest(lb.port, { path: '/r/app/xff' });
    assert.deepEqual(headerValues(r2.json<BackendInfo>(), 'x-forwarded-for'), ['127.0.0.1']);
  });

  it('hop-by-hop headers do not reach the node; Connection: close is honored', async () => {
    const r = await rawRequest(
      lb.port,
      `GET /r/app/hop HTTP/1.1\r\nHost: ${host}\r\nConnection: close, X-Custom\r\nX-Custom: secret\r\n` +
        `Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Foo\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    assert.equal(r.responses.length, 1, shown(r));
    assert.equal(r.responses[0]!.status, 200, shown(r));
    assert.equal(r.closed, true, 'client asked Connection: close but fnlb kept the connection open' + shown(r));
    const info = infoOf(r.responses[0]!);
    const names = info.headers.map(([k]) => k.toLowerCase());
    for (const h of ['x-custom', 'keep-alive', 'te', 'trailer', 'proxy-connection']) {
      assert.ok(!names.includes(h), `${h} reached the node: ${JSON.stringify(info.headers)}`);
    }
    const conn = headerValues(info, 'connection').join(',').toLowerCase();
    assert.ok(!conn.includes('x-custom') && !conn.includes('close'), `client's Connection tokens reached the node: ${conn}`);
    assert.deepEqual(headerValues(info, 'x-kept'), ['yes']);
  });

  it('a 302 from a node comes back as 302 with Location (not followed)', async () => {
    const target = 'http://127.0.0.1:9/elsewhere?x=1';
    const r = await httpRequest(lb.port, { path: `/r/app/redir?redirect=${encodeURIComponent(target)}` });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, target);
    assert.ok(r.headers['x-node'], 'the 302 came from a node');
  });

  for (const status of [404, 500, 503]) {
    it(`${status} from a node is passed through and not retried`, async () => {
      const rid = `status-${status}-${randomUUID()}`;
      const r = await httpRequest(lb.port, { path: `/r/app/fail-${status}?status=${status}`, headers: { 'x-request-id': rid } });
      assert.equal(r.status, status);
      const info = r.json<BackendInfo>();
      assert.equal(info.node, r.headers['x-node']);
      const seen = sightings(rid);
      assert.deepEqual(
        Object.values(seen).reduce((a, b) => a + b, 0),
        1,
        `request ${rid} reached the nodes ${JSON.stringify(seen)} (x-request-id must be passed on, the request sent once)`,
      );
      assert.equal(seen[info.node], 1);
    });
  }

  it('one function with different query strings always reaches the same node', async () => {
    const nodes = new Set<string>();
    for (let i = 0; i < 10; i++) nodes.add(await nodeOf(`/r/app/qs?a=${i}&b=${'x'.repeat(i)}`));
    nodes.add(await nodeOf('/r/app/qs'));
    assert.equal(nodes.size, 1, `reached ${[...nodes].join(', ')}`);
  });

  it('/r/app/fn requests land on rankNodes(functionKey(path), ids)[0] of the library', async () => {
    const lib = await loadFnlbLibrary();
    const ids = backends.map((b) => b.id);
    const idByName = new Map(backends.map((b) => [b.name, b.id]));
    const nodes = ids.map((id) => ({ id, weight: 1 }));
    const seen = new Set<string>();
    const paths = [...Array.from({ length: 20 }, (_, i) => `/r/keyapp/fn${i}`), '/r/keyapp/dir/sub/fn', '/r/other/fn0'];
    for (const path of paths) {
      const expected = ids[lib.rankNodes(lib.functionKey(path), nodes)[0]!];
      const actual = idByName.get(await nodeOf(path));
      assert.equal(actual, expected, `${path} (key ${JSON.stringify(lib.functionKey(path))})`);
      seen.add(actual!);
    }
    assert.ok(seen.size >= 2, 'functions spread over at least two nodes');
  });

  it('a node base path is prefixed: /r/a/b arrives as /base/r/a/b', async () => {
    const b = backends[0]!;
    const based = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', `http://127.0.0.1:${b.port}/base`, '--hc-interval', '100ms']);
    try {
      await waitRoutable(based);
      const r = await httpRequest(based.port, { path: '/r/a/b?x=1' });
      assert.equal(r.status, 200);
      assert.equal(r.json<BackendInfo>().url, '/base/r/a/b?x=1');
    } finally {
      await based.stop();
    }
  });
});
