/**
 * Tests of the black-box test tooling itself: the backend (in-process and as a child process), the raw
 * backend, the raw client's parser, and the process helpers (with a stand-in for fnlb).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

import {
  startBackendServer,
  deterministicSha256,
  deterministicPieces,
  deterministicPiece,
  PIECE_SIZE,
  setFaultMode,
  type BackendServer,
  type BackendInfo,
} from '../../harness/nodes/backend.js';
import { startRawBackend, RAW_OK } from '../../harness/nodes/raw-backend.js';
import { rawRequest, httpRequest, RawConnection } from '../../harness/client/raw-client.js';
import { parseMessage, parseResponses, parseRequests, ResponseReader } from '../../harness/client/http1-reader.js';
import { startBackend, startFnlb, cleanup, liveProcessCount, readRssBytes, isPortFree } from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('backend (in-process)', () => {
  let b: BackendServer;
  before(async () => {
    b = await startBackendServer({ name: 'T1' });
  });
  after(() => b.close(100));

  it('answers /version and sets X-Node', async () => {
    const r = await httpRequest(b.port, { path: '/version' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { version: '0.2.72' });
    assert.equal(r.headers['x-node'], 'T1');
    const r2 = await httpRequest(b.port, { path: '/base/version' });
    assert.deepEqual(r2.json(), { version: '0.2.72' });
  });

  it('answers other requests with the info JSON (raw headers, body length and sha256)', async () => {
    const body = Buffer.from('x'.repeat(1000));
    const r = await httpRequest(b.port, {
      method: 'POST',
      path: '/r/app/fn?a=1',
      headers: { 'X-Mixed-Case': 'v', 'content-length': String(body.length) },
      body,
    });
    assert.equal(r.status, 200);
    const info = r.json<BackendInfo>();
    assert.equal(info.node, 'T1');
    assert.equal(info.method, 'POST');
    assert.equal(info.url, '/r/app/fn?a=1');
    assert.equal(info.httpVersion, '1.1');
    assert.equal(info.bodyLength, 1000);
    assert.equal(info.bodySha256, sha(body));
    assert.ok(
      info.headers.some(([k, v]) => k === 'X-Mixed-Case' && v === 'v'),
      JSON.stringify(info.headers),
    );
    assert.equal(info.connRequests, 1);
  });

  it('?status=N answers N; 204 and 304 have no body (pipelined framing stays right)', async () => {
    const r = await httpRequest(b.port, { path: '/r/a/b?status=503' });
    assert.equal(r.status, 503);
    assert.equal(r.json<BackendInfo>().node, 'T1');
    const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const raw = await rawRequest(b.port, req('/a?status=204') + req('/a?status=304') + req('/a?status=404'), { expectResponses: 3 });
    assert.equal(raw.parseError, undefined);
    assert.deepEqual(
      raw.responses.map((x) => x.status),
      [204, 304, 404],
    );
    assert.equal(raw.responses[0]!.body.length, 0);
    assert.equal(raw.responses[1]!.body.length, 0);
    assert.equal(raw.responses[2]!.json<BackendInfo>().url, '/a?status=404');
  });

  it('HEAD: Content-Length but no body', async () => {
    const req = (m: string): string => `${m} /r/a/h HTTP/1.1\r\nHost: x\r\n\r\n`;
    const raw = await rawRequest(b.port, req('HEAD') + req('GET'), { expectResponses: 2 });
    assert.equal(raw.parseError, undefined);
    assert.equal(raw.responses.length, 2);
    assert.ok(Number(raw.responses[0]!.headers['content-length']) > 0);
    assert.equal(raw.responses[0]!.body.length, 0);
    assert.equal(raw.responses[1]!.json<BackendInfo>().method, 'GET');
    assert.equal(raw.responses[1]!.json<BackendInfo>().connRequests, 2);
  });

  it('?bytes=N sends deterministic content with Content-Length and X-Sha256', async () => {
    const n = 3 * PIECE_SIZE + 123;
    const r = await httpRequest(b.port, { path: `/base/r/a/b?bytes=${n}` });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(n));
    assert.equal(r.body.length, n);
    assert.equal(r.headers['x-sha256'], sha(r.body));
    assert.equal(r.headers['x-sha256'], deterministicSha256(n));
    assert.deepEqual(r.body, Buffer.concat([...deterministicPieces(n)]));
    assert.notDeepEqual(deterministicPiece(0), deterministicPiece(1));
  });

  it('?chunked=N&every=MS streams chunks with gaps', async () => {
    const conn = await RawConnection.open(b.port);
    try {
      await conn.write('GET /r/a/c?chunked=3&every=150 HTTP/1.1\r\nHost: x\r\n\r\n');
      const [res] = await conn.waitForResponses(1, 3000);
      assert.ok(res!.chunked);
      assert.equal(res!.text(), 'chunk 0\nchunk 1\nchunk 2\n');
      assert.deepEqual(res!.chunkSizes, [8, 8, 8]);
      const span = conn.arrivals[conn.arrivals.length - 1]!.t - conn.arrivals[0]!.t;
      assert.ok(span >= 250, `chunks arrived within ${span} ms`);
    } finally {
      conn.destroy();
    }
  });

  it('?redirect=URL answers 302 with Location', async () => {
    const r = await httpRequest(b.port, { path: '/r/a/b?redirect=' + encodeURIComponent('http://127.0.0.1:9/x?y=1') });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://127.0.0.1:9/x?y=1');
  });

  it('/echo echoes the body streaming (chunked)', async () => {
    const body = Buffer.concat([...deterministicPieces(200_000)]);
    const r = await httpRequest(b.port, { method: 'POST', path: '/base/r/a/echo', body });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(sha(r.body), sha(body));
  });

  it('?delay=MS waits', async () => {
    const t0 = performance.now();
    const r = await httpRequest(b.port, { path: '/r/a/b?delay=150' });
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 >= 140);
  });

  it('?hang=1 never answers; ?destroy=1 drops the connection', async () => {
    const hang = await rawRequest(b.port, 'GET /r/a/b?hang=1 HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 300 });
    assert.equal(hang.timedOut, true);
    assert.equal(hang.raw.length, 0);
    const destroyed = await rawRequest(b.port, 'GET /r/a/b?destroy=1 HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
    assert.equal(destroyed.closed, true);
    assert.equal(destroyed.raw.length, 0);
  });

  it('keeps x-request-id values; automatic 100-continue', async () => {
    await httpRequest(b.port, { path: '/r/a/b', headers: { 'x-request-id': 'rid-123' } });
    assert.ok(b.requestIds.includes('rid-123'));
    const conn = await RawConnection.open(b.port);
    try {
      await conn.write('POST /r/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      await conn.waitFor(() => conn.responses.some((r) => r.status === 100), 2000, '100 Continue');
      await conn.write('hello');
      const rs = await conn.waitForResponses(2);
      assert.equal(rs[1]!.status, 200);
      assert.equal(rs[1]!.json<BackendInfo>().bodySha256, sha('hello'));
    } finally {
      conn.destroy();
    }
  });

  it('fault modes, switched by the control request: 503, slow, hang, normal; ids logged in every mode', async () => {
    try {
      await setFaultMode(b.port, { kind: '503' });
      for (const path of ['/version', '/r/a/b']) {
        const r = await httpRequest(b.port, { path, headers: { 'x-request-id': `m503${path}` } });
        assert.equal(r.status, 503, path);
        assert.deepEqual(r.json(), { error: 'fault mode 503', node: 'T1' });
      }
      await setFaultMode(b.port, { kind: 'slow', ms: 200 });
      const t0 = performance.now();
      assert.equal((await httpRequest(b.port, { path: '/version' })).status, 200);
      assert.ok(performance.now() - t0 >= 190);
      assert.equal(b.mode.kind, 'slow');
      await setFaultMode(b.port, { kind: 'hang' });
      const hang = await rawRequest(b.port, 'GET /version HTTP/1.1\r\nHost: x\r\nx-request-id: mhang\r\n\r\n', { timeoutMs: 300 });
      assert.equal(hang.timedOut, true);
      assert.equal(hang.raw.length, 0);
      await assert.rejects(setFaultMode(b.port, { kind: 'bogus' as 'hang' }), /status 400/);
      assert.ok(
        ['m503/version', 'm503/r/a/b', 'mhang'].every((id) => b.requestIds.includes(id)),
        b.requestIds.join(),
      );
    } finally {
      await setFaultMode(b.port, { kind: 'normal' });
    }
    assert.equal((await httpRequest(b.port, { path: '/r/a/b' })).status, 200);
  });
});

describe("backend --demo (the demo's IronFunctions node)", () => {
  it('counts calls per function (query ignored), answers pong, /version and 404, fault modes included', async () => {
    const b = await startBackendServer({ name: 'D1', demo: true });
    try {
      const first = await httpRequest(b.port, { path: '/r/app/hello?x=1', method: 'POST', body: 'in' });
      assert.deepEqual(first.json(), { node: 'D1', app: 'app', route: '/hello', calls: 1, hot: false, cold: true, waitedMs: 0 });
      assert.equal(first.headers['x-node'], 'D1');
      assert.deepEqual((await httpRequest(b.port, { path: '/r/app/hello?x=2' })).json(), {
        node: 'D1',
        app: 'app',
        route: '/hello',
        calls: 2,
        hot: true,
        cold: false,
        waitedMs: 0,
      });
      assert.equal((await httpRequest(b.port, { path: '/' })).text(), 'pong\n');
      assert.deepEqual((await httpRequest(b.port, { path: '/version' })).json(), { version: '0.2.72' });
      assert.equal((await httpRequest(b.port, { path: '/elsewhere' })).status, 404);
      await setFaultMode(b.port, { kind: '503' });
      assert.equal((await httpRequest(b.port, { path: '/r/app/hello' })).status, 503);
    } finally {
      await b.close(100);
    }
  });
});

describe('HTTP/1 reader', () => {
  it('parses Content-Length, chunked (extensions, trailers) and close-delimited bodies', () => {
    const buf = Buffer.from(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' +
        'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n' +
        'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.0 200 OK\r\nServer: x\r\n\r\nrest of stream',
    );
    const open = parseResponses(buf);
    assert.equal(open.error, undefined);
    assert.equal(open.responses.length, 3, 'close-delimited response incomplete before eof');
    const closed = parseResponses(buf, { eof: true });
    assert.equal(closed.responses.length, 4);
    const [a, c, cont, d] = closed.responses;
    assert.equal(a!.text(), 'abc');
    assert.equal(c!.status, 201);
    assert.equal(c!.statusText, 'Created');
    assert.ok(c!.chunked);
    assert.equal(c!.text(), 'hello');
    assert.deepEqual(c!.chunkSizes, [2, 3]);
    assert.deepEqual(c!.trailers, [['X-T', '1']]);
    assert.equal(cont!.status, 100);
    assert.equal(d!.httpVersion, '1.0');
    assert.ok(d!.closeDelimited);
    assert.equal(d!.text(), 'rest of stream');
  });

  it('HEAD responses have no body; methods follow final responses only', () => {
    const buf = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
    const r = parseResponses(buf, { methods: ['HEAD', 'GET'] });
    assert.equal(r.responses.length, 3);
    assert.equal(r.responses[1]!.body.length, 0);
    assert.equal(r.responses[2]!.text(), 'ok');
  });

  it('reports incomplete messages and framing errors', () => {
    assert.equal(parseMessage(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'), 0, 'response').kind, 'incomplete');
    assert.equal(parseMessage(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), 0, 'response').kind, 'incomplete');
    assert.match(parseResponses(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).error ?? '', /chunk size/);
    assert.match(parseResponses(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n')).error ?? '', /CRLF/);
    assert.match(parseResponses(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab')).error ?? '', /Content-Length/);
    assert.match(parseResponses(Buffer.from('garbage\r\n\r\n')).error ?? '', /status line/);
  });

  it('parses requests (used for method tracking and by the raw backend)', () => {
    const r = parseRequests(
      Buffer.from(
        'POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nHEAD /c HTTP/1.1\r\nContent-Length: 4\r\n\r\nab',
      ),
    );
    assert.deepEqual(
      r.requests.map((q) => [q.method, q.target, q.body.toString()]),
      [
        ['POST', '/a', 'hi'],
        ['PUT', '/b', 'x'],
      ],
    );
    assert.equal(r.pendingMethod, 'HEAD');
  });
  it("ResponseReader (the load generators' framer) ends responses by Content-Length, across any split", () => {
    const wire = Buffer.from(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\nHTTP/1.1 503 Busy\r\nConnection: close\r\ncontent-length: 0\r\n\r\n',
    );
    for (let split = 0; split <= wire.length; split++) {
      const seen: [number, boolean][] = [];
      const reader = new ResponseReader((status, close) => seen.push([status, close]));
      reader.feed(wire.subarray(0, split));
      reader.feed(wire.subarray(split));
      assert.deepEqual(
        seen,
        [
          [200, false],
          [503, true],
        ],
        `split at ${split}`,
      );
    }
    const chunked = new ResponseReader(() => undefined);
    assert.throws(() => chunked.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')), /chunked/);
  });
});

describe('raw backend + raw client', () => {
  it('records exactly the bytes received per connection and answers each request with RAW_OK', async () => {
    const rb = await startRawBackend();
    try {
      const bytes = 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody';
      const r = await rawRequest(rb.port, bytes, { splitEvery: 7, expectResponses: 2 });
      assert.equal(r.responses.length, 2);
      assert.ok(r.responses.every((x) => x.status === 200 && x.text() === 'ok'));
      assert.equal(r.raw.toString('latin1'), RAW_OK + RAW_OK);
      await rb.waitForRequests(2);
      assert.equal(rb.connections.length, 1);
      assert.equal(rb.connections[0]!.text(), bytes);
      assert.ok(rb.connections[0]!.chunks.length > 1, 'split writes arrive in pieces');
      assert.deepEqual(
        rb.requests.map((q) => [q.method, q.target, q.body.toString(), q.connIndex, q.reqIndex]),
        [
          ['GET', '/one', '', 0, 0],
          ['POST', '/two', 'body', 0, 1],
        ],
      );
      const h = await httpRequest(rb.port, { path: '/three' });
      assert.equal(h.status, 200);
      assert.equal(h.text(), 'ok');
      await rb.waitForRequests(3);
      assert.equal(rb.connections.length, 2);
      assert.match(rb.connections[1]!.text(), /^GET \/three HTTP\/1\.1\r\n/);
      assert.equal(rb.allReceived().toString('latin1'), bytes + rb.connections[1]!.text());
    } finally {
      await rb.close();
    }
  });

  it('runs scripted responses: chunked, interim 100, close-delimited, delays, reset', async () => {
    const rb = await startRawBackend({
      script: (req) => {
        if (req.target === '/chunked')
          return [{ write: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n' }, { delay: 50 }, { write: '0\r\n\r\n' }];
        if (req.target === '/continue') return [{ write: 'HTTP/1.1 100 Continue\r\n\r\n' }, { write: RAW_OK }];
        if (req.target === '/close') return [{ write: 'HTTP/1.1 200 OK\r\n\r\nuntil close' }, { delay: 30 }, { close: true }];
        if (req.target === '/reset') return [{ reset: true }];
        return [{ write: RAW_OK }];
      },
    });
    try {
      const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`;
      const a = await rawRequest(rb.port, req('/chunked') + req('/continue') + req('/close'), { timeoutMs: 3000 });
      assert.equal(a.closed, true);
      assert.equal(a.timedOut, false);
      assert.equal(a.parseError, undefined);
      assert.deepEqual(
        a.responses.map((x) => [x.status, x.text()]),
        [
          [200, 'abc'],
          [100, ''],
          [200, 'ok'],
          [200, 'until close'],
        ],
      );
      assert.ok(a.responses[3]!.closeDelimited);
      const b = await rawRequest(rb.port, req('/reset'), { timeoutMs: 3000 });
      assert.equal(b.closed, true);
      assert.equal(b.responses.length, 0);
    } finally {
      await rb.close();
    }
  });

  it('onConnect steps run before any request; recordOnly never answers', async () => {
    const greeter = await startRawBackend({ onConnect: [{ write: 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n' }, { close: true }] });
    const silent = await startRawBackend({ recordOnly: true });
    try {
      const g = await rawRequest(greeter.port, '', { timeoutMs: 2000 });
      assert.equal(g.responses[0]!.status, 503);
      assert.equal(g.responses[0]!.statusText, 'Busy');
      const s = await rawRequest(silent.port, 'GET / HTTP/1.1\r\n\r\n', { timeoutMs: 200 });
      assert.equal(s.timedOut, true);
      assert.equal(silent.allReceived().toString(), 'GET / HTTP/1.1\r\n\r\n');
      assert.equal(silent.requests.length, 0);
    } finally {
      await greeter.close();
      await silent.close();
    }
  });
});

describe('process helpers', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fnlb-helpers-'));
  });
  after(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('startBackend: ready line, log file, kill, restart on the same port, graceful stop', async () => {
    const log = join(dir, 'b1.log');
    const b = await startBackend('P1', { logFile: log });
    assert.equal(b.id, `127.0.0.1:${b.port}`);
    const r = await httpRequest(b.port, { path: '/r/a/b', headers: { 'x-request-id': 'first' } });
    assert.equal(r.headers['x-node'], 'P1');
    assert.equal(readFileSync(log, 'utf8'), 'first\n');
    // the id is logged as soon as the head arrives, even if the request never gets an answer
    await rawRequest(b.port, 'GET /r/a/b?hang=1 HTTP/1.1\r\nHost: x\r\nx-request-id: hung\r\n\r\n', { timeoutMs: 200 });
    assert.equal(readFileSync(log, 'utf8'), 'first\nhung\n');

    const pid1 = b.pid;
    const exit = await b.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await assert.rejects(httpRequest(b.port, { path: '/version', timeoutMs: 1000 }), /ECONNREFUSED/);

    await b.restart();
    assert.notEqual(b.pid, pid1);
    const r2 = await httpRequest(b.port, { path: '/version' });
    assert.equal(r2.status, 200);

    const stopped = await b.stop();
    assert.equal(stopped.code, 0);
  });

  it('restart retries while the port is still taken', async () => {
    const b = await startBackend('P2');
    await b.kill();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(b.port, '127.0.0.1', r));
    setTimeout(() => squatter.close(), 300);
    await b.restart(5000);
    assert.equal((await httpRequest(b.port, { path: '/version' })).status, 200);
    await b.stop();
  });

  it('startBackend on a taken port fails with a clear error including stderr', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startBackend('P3', { port }), /exited \(code 98[\s\S]*stderr[\s\S]*EADDRINUSE/);
    } finally {
      squatter.close();
    }
  });

  const FAKE_FNLB = `
    const http = require('http');
    const s = http.createServer((q, r) => r.end('fake'));
    s.listen(0, '127.0.0.1', () => {
      console.log(JSON.stringify({ level: 30, msg: 'starting', args: process.argv.slice(1) }));
      console.log('not json');
      console.log(JSON.stringify({ level: 30, msg: 'fnlb listening', address: '127.0.0.1:' + s.address().port }));
      setTimeout(() => console.log(JSON.stringify({ level: 40, msg: 'node down', node: '127.0.0.1:1' })), 100);
    });
    process.on('SIGTERM', () => { console.log(JSON.stringify({ msg: 'bye' })); process.exit(0); });
  `;

  it('startFnlb: ready line → port, parsed logs, waitForLog, stop', async () => {
    const lb = await startFnlb(['--nodes', 'x'], { FOO: 'bar' }, { entryArgs: ['-e', FAKE_FNLB, '--'] });
    assert.ok(lb.port > 0);
    assert.equal(lb.url, `http://127.0.0.1:${lb.port}`);
    assert.equal((await httpRequest(lb.port)).text(), 'fake');
    assert.deepEqual(lb.logs[0], { level: 30, msg: 'starting', args: ['--nodes', 'x'] });
    assert.deepEqual(lb.logs[1], { raw: 'not json' });
    const down = await lb.waitForLog((l) => l.msg === 'node down', 2000);
    assert.equal(down.node, '127.0.0.1:1');
    await assert.rejects(
      lb.waitForLog((l) => l.msg === 'never', 100, 'the impossible'),
      /no the impossible within 100 ms/,
    );
    assert.ok(readRssBytes(lb.pid) > 1024 * 1024);
    const exit = await lb.stop();
    assert.equal(exit.code, 0);
    assert.ok(lb.logs.some((l) => l.msg === 'bye'));
  });

  it('startFnlb: early exit and ready timeout give clear errors with stderr', async () => {
    await assert.rejects(
      startFnlb([], {}, { entryArgs: ['-e', 'console.error("bad flag --zap"); process.exit(2)'] }),
      /fnlb exited \(code 2[\s\S]*bad flag --zap/,
    );
    await assert.rejects(
      startFnlb([], {}, { entryArgs: ['-e', 'console.error("thinking"); setTimeout(() => {}, 10000)'], readyTimeoutMs: 300 }),
      /no "fnlb listening" line within 300 ms[\s\S]*thinking/,
    );
  });

  it('cleanup kills everything still running', async () => {
    await startBackend('C1');
    await startFnlb([], {}, { entryArgs: ['-e', FAKE_FNLB, '--'] });
    assert.ok(liveProcessCount() >= 2);
    await cleanup();
    assert.equal(liveProcessCount(), 0);
  });

  it('misc: readRssBytes, isPortFree, eventually', async () => {
    assert.ok(readRssBytes(process.pid) > 1024 * 1024);
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    assert.equal(await isPortFree(port), false);
    await new Promise<void>((r) => s.close(() => r()));
    assert.equal(await isPortFree(port), true);
    let n = 0;
    assert.equal(
      await eventually(
        () => {
          if (++n < 3) throw new Error('not yet');
          return n;
        },
        1000,
        10,
      ),
      3,
    );
    await assert.rejects(
      eventually(() => Promise.reject(new Error('never')), 100, 10),
      /gave up after 100 ms: never/,
    );
    await sleep(1);
  });
});
