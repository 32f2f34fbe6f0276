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

/**
 * Which known field the name buf[start, end) is, case-insensitively. One switch on the length, then at
 * most two compares: shared by the request and the response parser.
 */
export function knownField(buf: Buffer, start: number, end: number): Known {
  switch (end - start) {
    case 2:
      return isName(buf, start, 'te') ? Known.TE : Known.Other;
    case 4:
      return isName(buf, start, 'host') ? Known.Host : Known.Other;
    case 6:
      return isName(buf, start, 'expect') ? Known.Expect : Known.Other;
    case 7:
      if (isName(buf, start, 'upgrade')) return Known.Upgrade;
      return isName(buf, start, 'trailer') ? Known.Trailer : Known.Other;
    case 10:
      if (isName(buf, start, 'connection')) return Known.Connection;
      return isName(buf, start, 'keep-alive') ? Known.KeepAlive : Known.Other;
    case 13:
      return isName(buf, start, 'xxx-fxlb-wait') ? Known.FxlbWait : Known.Other;
    case 14:
      return isName(buf, start, 'content-length') ? Known.ContentLength : Known.Other;
    case 15:
      if (isName(buf, start, 'x-forwarded-for')) return Known.XForwardedFor;
      return isName(buf, start, 'idempotency-key') ? Known.IdempotencyKey : Known.Other;
    case 16:
      if (isName(buf, start, 'proxy-connection')) return Known.ProxyConnection;
      return isName(buf, start, 'x-forwarded-host') ? Known.XForwardedHost : Known.Other;
    case 17:
      if (isName(buf, start, 'transfer-encoding')) return Known.TransferEncoding;
      return isName(buf, start, 'x-forwarded-proto') ? Known.XForwardedProto : Known.Other;
  }
  return Known.Other;
}

/**
 * buf[start, start + name.length) is `name` in any case. `name` is lower-case letters and '-': a byte
 * with bit 0x20 set equals one of those only if it is that letter in either case, or that '-' (the
 * other bytes it could come from are controls, never in a field name). No table lookup per byte: that
 * cost about twice the instructions.
 */
function isName(buf: Buffer, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if ((buf[start + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}
