import { equalsLower } from './chars.js';
import { Buffer } from 'node:buffer';

/** The header fields framing and forwarding care about; everything else is `Other` and passes as is. */
export const enum Known {
  Other,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  ProxyConnection,
  TE,
  Trailer,
  Upgrade,
  Host,
  Expect,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  IdempotencyKey,
  /** XXX-FXLB-WAIT: how long a call waited on the node before it started (fnproject nodes). */
  FxlbWait,
}

const name = (s: string) => Buffer.from(s, 'latin1');
const CONTENT_LENGTH = name('content-length');
const TRANSFER_ENCODING = name('transfer-encoding');
const CONNECTION = name('connection');
const KEEP_ALIVE = name('keep-alive');
const PROXY_CONNECTION = name('proxy-connection');
const TE = name('te');
const TRAILER = name('trailer');
const UPGRADE = name('upgrade');
const HOST = name('host');
const EXPECT = name('expect');
const X_FORWARDED_FOR = name('x-forwarded-for');
const X_FORWARDED_PROTO = name('x-forwarded-proto');
const X_FORWARDED_HOST = name('x-forwarded-host');
const IDEMPOTENCY_KEY = name('idempotency-key');
const XXX_FXLB_WAIT = name('xxx-fxlb-wait');

/**
 * Which known field the name buf[start, end) is, case-insensitively. One switch on the length, then at
 * most two byte compares: shared by the request and the response parser.
 */
export function knownField(buf: Buffer, start: number, end: number): Known {
  switch (end - start) {
    case 2:
      return equalsLower(buf, start, end, TE) ? Known.TE : Known.Other;
    case 4:
      return equalsLower(buf, start, end, HOST) ? Known.Host : Known.Other;
    case 6:
      return equalsLower(buf, start, end, EXPECT) ? Known.Expect : Known.Other;
    case 7:
      if (equalsLower(buf, start, end, UPGRADE)) return Known.Upgrade;
      return equalsLower(buf, start, end, TRAILER) ? Known.Trailer : Known.Other;
    case 10:
      if (equalsLower(buf, start, end, CONNECTION)) return Known.Connection;
      return equalsLower(buf, start, end, KEEP_ALIVE) ? Known.KeepAlive : Known.Other;
    case 13:
      return equalsLower(buf, start, end, XXX_FXLB_WAIT) ? Known.FxlbWait : Known.Other;
    case 14:
      return equalsLower(buf, start, end, CONTENT_LENGTH) ? Known.ContentLength : Known.Other;
    case 15:
      if (equalsLower(buf, start, end, X_FORWARDED_FOR)) return Known.XForwardedFor;
      return equalsLower(buf, start, end, IDEMPOTENCY_KEY) ? Known.IdempotencyKey : Known.Other;
    case 16:
      if (equalsLower(buf, start, end, PROXY_CONNECTION)) return Known.ProxyConnection;
      return equalsLower(buf, start, end, X_FORWARDED_HOST) ? Known.XForwardedHost : Known.Other;
    case 17:
      if (equalsLower(buf, start, end, TRANSFER_ENCODING)) return Known.TransferEncoding;
      return equalsLower(buf, start, end, X_FORWARDED_PROTO) ? Known.XForwardedProto : Known.Other;
  }
  return Known.Other;
}
