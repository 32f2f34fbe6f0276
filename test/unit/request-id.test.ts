/** Request ids: 16 lowercase hex characters, one process prefix, then a counter that counts and wraps. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { nextRequestNumber, REQUEST_ID_LENGTH, requestIdText, writeRequestId } from '../../src/engine/request-id.js';

it('ids are 16 hex characters: a fixed prefix, then the counter in 8 digits', () => {
  const first = requestIdText(nextRequestNumber());
  assert.match(first, /^[0-9a-f]{16}$/);
  const prefix = first.slice(0, 8);
  let previous = parseInt(first.slice(8), 16);
  for (let i = 0; i < 70_000; i++) {
    const id = requestIdText(nextRequestNumber());
    assert.equal(id.length, 16);
    assert.equal(id.slice(0, 8), prefix);
    const n = parseInt(id.slice(8), 16);
    assert.equal(n, (previous + 1) >>> 0, id);
    previous = n;
  }
});

it('writeRequestId writes the bytes of requestIdText, and nothing around them', () => {
  for (const n of [0, 1, 0xf, 0x10, 0xabcdef, 0x7fffffff, 0x80000000, 0xffffffff, nextRequestNumber()]) {
    const out = Buffer.alloc(REQUEST_ID_LENGTH + 4, '.');
    writeRequestId(out, 2, n);
    assert.equal(out.toString('latin1'), `..${requestIdText(n)}..`, String(n));
  }
});
