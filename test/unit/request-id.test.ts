/** Request ids: 16 lowercase hex characters, one process prefix, then a counter that counts and wraps. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { nextRequestId } from '../../src/engine/request-id.js';

it('ids are 16 hex characters: a fixed prefix, then the counter in 8 digits', () => {
  const first = nextRequestId();
  assert.match(first, /^[0-9a-f]{16}$/);
  const prefix = first.slice(0, 8);
  let previous = parseInt(first.slice(8), 16);
  for (let i = 0; i < 70_000; i++) {
    const id = nextRequestId();
    assert.equal(id.length, 16);
    assert.equal(id.slice(0, 8), prefix);
    const n = parseInt(id.slice(8), 16);
    assert.equal(n, (previous + 1) >>> 0, id);
    previous = n;
  }
});
