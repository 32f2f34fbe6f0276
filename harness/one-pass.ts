/**
 * The framers read a head that came whole in one pass (readRequestHead / readResponseHead) and leave
 * anything else to the long way (findHeadEnd, then parseRequestHead / parseResponseHead), which
 * decides. This checks the one-pass read of `buf` (up to its last LF) against the long way: a head the
 * long way accepts is read identically; a whole head it refuses is refused with the same status and
 * reason, or left to it (null); a head it finds cut short is null or refused.
 */
import assert from 'node:assert/strict';

import { FramingError } from '../src/engine/http1/framing-error.js';
import { findHeadEnd } from '../src/engine/http1/head-scan.js';

export function checkOnePass<T>(buf: Buffer, long: (headEnd: number) => T, read: (limit: number) => T | null): void {
  const outcome = <R>(f: () => R): R | FramingError => {
    try {
      return f();
    } catch (err) {
      if (err instanceof FramingError) return err;
      throw err;
    }
  };
  const end = outcome(() => findHeadEnd(buf, 0));
  // As far as the read may go: just past the last LF.
  const once = outcome(() => read(buf.lastIndexOf(0x0a) + 1));
  if (end instanceof FramingError) {
    assert.ok(once instanceof FramingError, 'a head with a bare LF is refused in one pass too');
    return;
  }
  if (end === -1) {
    assert.ok(once === null || once instanceof FramingError, 'a head cut short is never read in one pass');
    return;
  }
  const whole = outcome(() => long(end));
  if (whole instanceof FramingError) {
    if (once === null) return; // left to the long way, which refuses it
    assert.ok(once instanceof FramingError, `refused in one pass too: ${whole.message}`);
    assert.equal(once.status, whole.status);
    assert.equal(once.message, whole.message);
  } else {
    assert.deepEqual(once, whole, 'read in one pass as the long way reads it');
  }
}
