/**
 * Black-box: request and response bodies through a real fnlb process and three test backends —
 * integrity (sha256) for Content-Length and chunked bodies, streaming without buffering, bounded memory.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

import { deterministicPieces, deterministicSha256, type BackendInfo } from '../../harness/nodes/backend.js';
import { httpRequest } from '../../harness/client/raw-client.js';
import {
  startBackends,
  startFnlb,
  cleanup,
  nodesArg,
  readRssBytes,
  type BackendProcess,
  type FnlbProcess,
} from '../../harness/processes.js';
import { eventually, sleep } from '../../harness/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A readable that generates `total` bytes on the fly (never held in memory) and hashes what it produced. */
function generated(total: number, salt = 0): { stream: Readable; digest: () => string; produced: () => number } {
  const hash = createHash('sha256');
  let produced = 0;
  function* gen(): Generator<Buffer> {
    let i = 0;
    for (const piece of deterministicPieces(total)) {
      if (salt !== 0) piece[8] = (piece[8]! + salt + i++) & 0xff;
      hash.update(piece);
      produced += piece.length;
      yield piece;
    }
  }
  let digest: string | undefined;
  return {
    stream: Readable.from(gen(), { objectMode: false, highWaterMark: 64 * KiB }),
    digest: () => (digest ??= hash.digest('hex')),
    produced: () => produced,
  };
}

/** Sends a body (Buffer or generated stream) and returns the backend's info JSON. */
function post(
  port: number,
  path: string,
  body: Buffer | Readable,
  opts: { contentLength?: number; chunked?: boolean; timeoutMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (opts.chunked) headers['transfer-encoding'] = 'chunked';
    else if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`POST ${path} timed out`)), opts.timeoutMs ?? 30_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
      });
      res.on('error', reject);
    });
    if (Buffer.isBuffer(body)) {
      if (opts.chunked) {
        // several writes, so the body really is sent as several chunks
        for (let i = 0; i < body.length; i += 16 * KiB) req.write(body.subarray(i, i + 16 * KiB));
        req.end();
      } else req.end(body);
    } else body.pipe(req);
  });
}

describe('bodies through fnlb', () => {
  let backends: BackendProcess[];
  let lb: FnlbProcess;

  before(async () => {
    backends = await startBackends(3, 'B');
    lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), '--hc-interval', '100ms']);
    await eventually(async () => {
      const r = await httpRequest(lb.port, { path: '/r/app/warmup', timeoutMs: 1000 });
      assert.equal(r.status, 200);
    }, 5000);
  });
  after(cleanup);

  for (const size of [100 * KiB, 5 * MiB]) {
    for (const chunked of [false, true]) {
      const label = `${size / KiB} KiB request body with ${chunked ? 'chunked encoding' : 'Content-Length'} arrives intact`;
      it(label, async () => {
        const body = Buffer.concat([...deterministicPieces(size)]);
        body[body.length - 1] = chunked ? 1 : 2;
        const r = await post(lb.port, `/r/app/upload-${size}-${chunked}`, body, { chunked, contentLength: body.length });
        assert.equal(r.status, 200, r.body.toString().slice(0, 300));
        const info = JSON.parse(r.body.toString()) as BackendInfo;
        assert.equal(info.method, 'POST');
        assert.equal(info.bodyLength, size);
        assert.equal(info.bodySha256, sha(body));
      });
    }
  }

  for (const size of [100 * KiB, 5 * MiB]) {
    it(`${size / KiB} KiB response body arrives intact`, async () => {
      const r = await httpRequest(lb.port, { path: `/r/app/download?bytes=${size}`, timeoutMs: 20_000 });
      assert.equal(r.status, 200);
      assert.equal(r.body.length, size);
      assert.equal(r.headers['x-sha256'], deterministicSha256(size));
      assert.equal(sha(r.body), r.headers['x-sha256']);
    });
  }

  it('streams: the first chunk reaches the client well before the last', async () => {
    const t0 = performance.now();
    const seen: { text: string; t: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: lb.port, path: '/r/app/stream?chunked=5&every=200', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          text += s;
          seen.push({ text, t: performance.now() - t0 });
        });
        res.on('end', () => {
          try {
            assert.equal(res.statusCode, 200);
            assert.equal(text, 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
            resolve();
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error('streaming request timed out')));
      req.on('error', reject);
    });
    const when = (s: string): number => seen.find((x) => x.text.includes(s))!.t;
    const first = when('chunk 0\n');
    const last = when('chunk 4\n');
    assert.ok(first < 600, `first chunk after ${first.toFixed(0)} ms`);
    assert.ok(last - first >= 600, `first chunk at ${first.toFixed(0)} ms, last at ${last.toFixed(0)} ms: buffered?`);
    const third = when('chunk 2\n');
    assert.ok(third - first >= 300 && last - third >= 300, `chunks bunched: ${seen.map((x) => x.t.toFixed(0)).join(', ')}`);
  });

  it('a 200 MiB response to a slow reader does not blow fnlb memory', { timeout: 90_000 }, async (t) => {
    const size = 200 * MiB;
    const expected = deterministicSha256(size);
    const baseline = readRssBytes(lb.pid);
    let peak = baseline;
    const sample = (): void => {
      try {
        peak = Math.max(peak, readRssBytes(lb.pid));
      } catch {
        /* process gone: the request will fail */
      }
    };
    const sampler = setInterval(sample, 25);
    try {
      const result = await new Promise<{ status: number; length: number; digest: string; header: string | undefined }>(
        (resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: lb.port, path: `/r/app/big?bytes=${size}`, agent: false }, (res) => {
            const hash = createHash('sha256');
            let length = 0;
            res.on('data', (c: Buffer) => {
              hash.update(c);
              length += c.length;
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                length,
                digest: hash.digest('hex'),
                header: res.headers['x-sha256'] as string | undefined,
              }),
            );
            res.on('error', reject);
            void (async () => {
              // not reading at all for a while...
              res.pause();
              await sleep(1500);
              // ...then reading slowly...
              for (let i = 0; i < 10; i++) {
                res.resume();
                await sleep(10);
                res.pause();
                await sleep(90);
              }
              // ...then at full speed
              res.resume();
            })();
          });
          req.setTimeout(60_000, () => req.destroy(new Error('200 MiB download timed out')));
          req.on('error', reject);
        },
      );
      assert.equal(result.status, 200);
      assert.equal(result.length, size);
      assert.equal(result.header, expected);
      assert.equal(result.digest, expected);
    } finally {
      clearInterval(sampler);
    }
    sample();
    const growth = peak - baseline;
    t.diagnostic(
      `fnlb RSS baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB)`,
    );
    assert.ok(growth < 150 * MiB, `fnlb RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming 200 MiB to a slow reader`);
  });

  it('a 200 MiB request body generated on the fly arrives with the right length and sha256', { timeout: 90_000 }, async (t) => {
    const size = 200 * MiB;
    const body = generated(size, 7);
    const baseline = readRssBytes(lb.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, readRssBytes(lb.pid));
      } catch {
        /* gone */
      }
    }, 25);
    let r;
    try {
      r = await post(lb.port, '/r/app/big-upload', body.stream, { contentLength: size, timeoutMs: 60_000 });
    } finally {
      clearInterval(sampler);
    }
    t.diagnostic(`fnlb RSS during the upload: +${((peak - baseline) / MiB).toFixed(1)} MiB`);
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const info = JSON.parse(r.body.toString()) as BackendInfo;
    assert.equal(body.produced(), size);
    assert.equal(info.bodyLength, size);
    assert.equal(info.bodySha256, body.digest());
  });

  it('a 5 MiB chunked body echoed by the node streams back intact (full duplex)', { timeout: 30_000 }, async () => {
    const size = 5 * MiB;
    const body = generated(size, 3);
    const r = await post(lb.port, '/r/app/echo', body.stream, { chunked: true, timeoutMs: 20_000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    assert.equal(sha(r.body), body.digest());
  });
});
