/** Parsed heads read as text, for checks: the engine itself keeps these as byte ranges. */
import type { RequestHead } from '../src/engine/http1/request-head.js';

/** The host a request names: an absolute-form target's authority, or the Host field's value; undefined when neither came. */
export function hostOf(buf: Buffer, head: RequestHead): string | undefined {
  if (head.authority !== undefined) return head.authority;
  return head.hostStart === -1 ? undefined : buf.toString('latin1', head.hostStart, head.hostEnd);
}
