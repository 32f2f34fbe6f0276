/**
 * Black-box: the malformed / smuggling request corpus (harness/scenarios/smuggling-corpus.ts) through fnlb,
 * nginx and HAProxy side by side, each in front of its own recording raw backend (harness/scenarios/corpus-run.ts).
 * Every vector gets a proxy-neutral verdict per proxy: rejected, normalized, smuggled, ambiguous, aborted
 * or stalled (harness/scenarios/corpus-observe.ts). The test asserts that
 *   - fnlb is never smuggled or ambiguous, and meets its exact contract for every vector (todo vectors:
 *     known deviations from the RFC, reported, not failed);
 *   - nginx and HAProxy really ran and got a verdict for every vector (what they do is reported, not judged);
 *   - no proxy ever contacted the host an absolute-form target named;
 *   - the verdicts can tell: a naive relay that frames by Content-Length only and drops the headers named
 *     in Connection is caught smuggling and desyncing.
 * The side-by-side table is printed. Skipped when nginx or HAProxy is not installed.
 * `npm run corpus` (bench/corpus.ts) writes the same table to bench/results/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CORPUS_PROXIES,
  VERDICTS,
  differing,
  findPeers,
  markdown,
  runCorpus,
  startContestants,
  totals,
  type CorpusRow,
  type CorpusSetup,
} from '../../harness/scenarios/corpus-run.js';
import { killAllNow } from '../../harness/processes.js';
import { observe, verdictOf } from '../../harness/scenarios/corpus-observe.js';
import { startRawBackend, type RawBackend } from '../../harness/nodes/raw-backend.js';
import { smugglingCorpus } from '../../harness/scenarios/smuggling-corpus.js';

process.once('exit', killAllNow);

const peers = findPeers();
const skip = typeof peers === 'string' ? `${peers}: cannot compare with nginx and HAProxy` : false;

describe('request corpus: fnlb vs nginx vs HAProxy', { skip }, () => {
  let dir = '';
  let setup: CorpusSetup | undefined;
  let rows: CorpusRow[] = [];

  before(async () => {
    if (typeof peers === 'string') return;
    dir = mkdtempSync(join(tmpdir(), 'fnlb-corpus-test-'));
    setup = await startContestants(dir, peers);
    rows = await runCorpus(setup);
  });

  after(async () => {
    if (rows.length > 0) {
      const diff = differing(rows).length;
      console.log(`\nrequest corpus, side by side (${diff} of ${rows.length} vectors with differing verdicts):\n${markdown(rows)}`);
    }
    await setup?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fnlb is never smuggled or ambiguous', () => {
    const bad = rows.filter((r) => !['rejected', 'normalized'].includes(r.cells.fnlb.verdict));
    assert.deepEqual(
      bad.map((r) => `${r.vector}: ${r.cells.fnlb.verdict} (${r.cells.fnlb.status})`),
      [],
    );
  });

  it('fnlb meets its contract for every vector but the todo ones', () => {
    assert.equal(rows.length, smugglingCorpus({ trapPort: 0 }).length);
    const broken = rows.filter((r) => !r.todo && r.cells.fnlb.contract !== undefined);
    assert.deepEqual(
      broken.map((r) => `${r.vector}: ${r.cells.fnlb.contract}`),
      [],
    );
  });

  const todos = smugglingCorpus({ trapPort: 0 }).filter((v) => v.todo);
  for (const v of todos) {
    it(`fnlb: ${v.name}`, { todo: v.todo }, () => {
      const row = rows.find((r) => r.vector === v.name);
      assert.equal(row?.cells.fnlb.contract, undefined, row?.cells.fnlb.contract);
    });
  }

  for (const p of CORPUS_PROXIES) {
    it(`${p} ran and got a verdict for every vector`, () => {
      const c = setup!.contestants.find((x) => x.name === p)!;
      assert.equal(rows.length, smugglingCorpus({ trapPort: 0 }).length);
      for (const r of rows) assert.ok(VERDICTS.includes(r.cells[p].verdict), `${r.vector}: ${r.cells[p].verdict}`);
      // Ran: it forwarded the valid vectors it accepted to its own backend, and answered something.
      assert.ok(c.node.requests.length > 0, `${p}: its backend never got a request`);
      assert.ok(totals(rows)[p].normalized > 0 && totals(rows)[p].rejected > 0, `${p}: ${JSON.stringify(totals(rows)[p])}`);
    });
  }

  it('no proxy contacted a host named in an absolute-form target', () => {
    const hit = rows.flatMap((r) => CORPUS_PROXIES.filter((p) => r.cells[p].trapContacted).map((p) => `${p}: ${r.vector}`));
    assert.deepEqual(hit, []);
  });
});

/**
 * A relay with the classic bugs, to show the verdicts are not blind: it frames requests by the first
 * Content-Length only (Transfer-Encoding ignored), forwards them over one upstream connection, and drops the
 * headers named in Connection *after* framing (Content-Length included). Responses are piped back.
 */
function startNaiveRelay(upstreamPort: number): Promise<{ port: number; close(): void }> {
  const server = net.createServer((client) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    up.pipe(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    client.on('close', () => up.destroy());
    let buf = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const field = (name: string): string | undefined =>
          lines
            .find((l) => l.toLowerCase().startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        const length = Number(field('content-length') ?? 0);
        if (buf.length < end + 4 + length) return;
        const listed = (field('connection') ?? '')
          .toLowerCase()
          .split(',')
          .map((t) => t.trim());
        const kept = lines.filter((l, i) => i === 0 || !listed.includes(l.slice(0, l.indexOf(':')).toLowerCase()));
        up.write(Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'), buf.subarray(end + 4, end + 4 + length)]));
        buf = buf.subarray(end + 4 + length);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() }));
  });
}

describe('the verdicts catch a naive relay', () => {
  let node: RawBackend;
  let trap: RawBackend;
  let relay: { port: number; close(): void };

  before(async () => {
    node = await startRawBackend();
    trap = await startRawBackend({ recordOnly: true });
    relay = await startNaiveRelay(node.port);
  });

  after(async () => {
    relay?.close();
    await node?.close();
    await trap?.close();
  });

  const cases: [string, string][] = [
    ['Connection: content-length (CL body = request)', 'smuggled'],
    ['CL.TE (CL 6, TE chunked, "0\\r\\n\\r\\nG")', 'ambiguous'],
    ['TE.TE "xchunked" + CL', 'ambiguous'],
    ['CL body then pipelined GET (valid)', 'normalized'],
  ];
  for (const [name, verdict] of cases) {
    it(`${name}: ${verdict}`, async () => {
      const v = smugglingCorpus({ trapPort: trap.port }).find((x) => x.name === name);
      assert.ok(v, `no vector ${name}`);
      const o = await observe({ port: relay.port, node, trap }, v, {
        responseTimeoutMs: 500,
        closeWaitMs: 100,
        awaitClose: 'on-error',
        settleMs: 30,
        isolate: true,
      });
      assert.equal(verdictOf(v, o), verdict);
    });
  }
});
