/**
 * Black-box: a corpus of malformed, ambiguous and smuggling requests sent as raw bytes to a real fnlb
 * process whose only node is an in-process recording raw backend. For each vector, on a fresh connection:
 *   - rejected vectors: the exact 4xx/5xx status, Connection: close and the connection closed by fnlb,
 *     and NOT ONE byte reached the node;
 *   - valid vectors: forwarded, and the bytes the node received parse as exactly the expected number of
 *     requests with nothing left over (so no smuggled second request).
 * fnlb must still serve a normal GET at the end. A table (vector → status, closed, node bytes) is printed.
 *
 * The regression sections hold the framing bugs the first version of these tests found (listed framing
 * fields stripped, Host structure, '#', chunk-ext grammar, HTTP/1.0 + Transfer-Encoding reuse).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRawBackend, type RawBackend } from '../../harness/nodes/raw-backend.js';
import { httpRequest } from '../../harness/client/raw-client.js';
import { startFnlb, cleanup, type FnlbProcess } from '../../harness/processes.js';
import { HOST, smugglingCorpus } from '../../harness/scenarios/smuggling-corpus.js';
import { assertExpected, observe, statusText } from '../../harness/scenarios/corpus-observe.js';

interface Row {
  vector: string;
  expected: string;
  status: string;
  closed: string;
  nodeBytes: number;
  nodeRequests: string;
  verdict: string;
}

describe('malformed and smuggling requests through fnlb', () => {
  let node: RawBackend;
  let trap: RawBackend;
  let lb: FnlbProcess;
  const rows: Row[] = [];

  before(async () => {
    node = await startRawBackend();
    trap = await startRawBackend({ recordOnly: true });
    lb = await startFnlb([
      '--listen',
      '127.0.0.1:0',
      '--nodes',
      node.id,
      '--hc-path=', // TCP connect checks: the node receives only what clients send
      '--hc-interval',
      '2s',
      '--max-idle-per-node',
      '0', // a fresh node connection per request: vectors cannot leak into each other
      '--access-log',
      'off',
    ]);
  });

  after(async () => {
    const cols: (keyof Row)[] = ['vector', 'expected', 'status', 'closed', 'nodeBytes', 'nodeRequests', 'verdict'];
    const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      [
        `\nmalformed-request corpus: ${rows.length} vectors, fnlb pid ${lb?.pid}`,
        line(cols.map(String)),
        line(widths.map((w) => '-'.repeat(w))),
        ...rows.map((r) => line(cols.map((c) => String(r[c])))),
      ].join('\n'),
    );
    await cleanup();
    await node?.close();
    await trap?.close();
  });

  // Vectors are built per test (the absolute-form ones need the trap port); names do not depend on it.
  smugglingCorpus({ trapPort: 0 }).forEach(({ name, todo }, index) => {
    it(name, todo ? { todo } : {}, async () => {
      const v = smugglingCorpus({ trapPort: trap.port })[index]!;
      const forward = v.expect === 'forward';
      const o = await observe({ port: lb.port, node, trap }, v, {
        responseTimeoutMs: 2000,
        closeWaitMs: 1000,
        awaitClose: forward ? 'never' : 'always',
        settleMs: forward ? 60 : 25,
      });
      const row: Row = {
        vector: v.name,
        expected: forward ? `fwd×${v.requests ?? 1}` : Array.isArray(v.expect) ? v.expect.join('|') : String(v.expect),
        status: statusText(o),
        closed: forward ? (o.closed ? 'yes' : '-') : o.closed ? 'yes' : 'NO',
        nodeBytes: o.nodeBytes,
        nodeRequests: `${o.nodeCounted}${o.leftover ? '+junk' : ''}`,
        verdict: todo ? 'BUG (todo)' : 'FAIL',
      };
      rows.push(row);
      assertExpected(v, o);
      row.verdict = todo ? 'ok (fixed? drop the todo)' : 'ok';
    });
  });

  it('fnlb is still up and forwards a normal GET', async () => {
    assert.equal(lb.proc.exitCode, null, `fnlb exited: ${lb.stderr}`);
    const before = node.requests.length;
    const r = await httpRequest(lb.port, { path: '/r/app/final', headers: { host: HOST } });
    assert.equal(r.status, 200);
    assert.equal(r.text(), 'ok');
    assert.equal(node.requests.length, before + 1);
    assert.equal(node.requests.at(-1)!.target, '/r/app/final');
    assert.equal(trap.connections.length, 0, 'the absolute-form host was never contacted');
    assert.equal(lb.stderr.includes('Error'), false, `fnlb stderr: ${lb.stderr.slice(0, 500)}`);
  });
});
