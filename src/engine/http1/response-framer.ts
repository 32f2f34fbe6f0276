import { owned } from '../read-arena.js';
import { ChunkedDecoder } from './chunked.js';
import { FramingError } from './framing-error.js';
import { findHeadEnd, headLimit } from './head-scan.js';
import { BodyKind, parseResponseHead, readResponseHead, type NotExecutedMatch, type ResponseHead } from './response-head.js';
import { Buffer } from 'node:buffer';

/** A response head from a node larger than this is refused (502). */
export const MAX_RESPONSE_HEAD = 64 * 1024;
/** 1xx responses accepted before the final one. */
export const MAX_INTERIM = 16;

/** What a response framer reports, in stream order. Buffers are valid only during the call. */
export interface ResponseSink {
  /** A 1xx head: `buf` holds it at [0, res.headEnd). */
  onInterimHead(res: ResponseHead, buf: Buffer): void;
  /**
   * The final head: `buf` holds it at [0, res.headEnd), and may go on with body bytes (reported next,
   * by onResponseBody, as ranges of the same buffer).
   */
  onResponseHead(res: ResponseHead, buf: Buffer): void;
  /**
   * Body bytes to forward, buf[start, end): as received (chunk framing included), or the data alone
   * when de-chunking. A range, not a view: making a view of part of a buffer costs as much as a
   * small copy, and the sink often needs none (the bytes join the head, or are the whole buffer).
   */
  onResponseBody(buf: Buffer, start: number, end: number): void;
  /** The response is complete; `overran`: the node sent bytes after it (its connection must not be reused). */
  onResponseEnd(overran: boolean): void;
}

/**
 * Frames one response from a node's byte stream (RFC 9112 §6.3): interim 1xx heads (at most
 * MAX_INTERIM), then the final head and its body by the kind parseResponseHead chose. Socket-free:
 * bytes in, events out; a response the client could frame differently throws FramingError (502).
 * Bytes after the final response are never framed. `dechunk`: a chunked body is reported as its data
 * alone (for HTTP/1.0 clients, which must never see Transfer-Encoding). Nothing is framed before `begin`.
 */
export class ResponseFramer {
  // State. Invariants: `pending` and `scanned` are used only until the final head (`res`) is found;
  // after it, `decoder` is set exactly for a chunked body and `lengthLeft` counts a Content-Length body;
  // `done` is final for the response (later bytes are never framed) until `begin` starts the next.
  private sink: ResponseSink | null = null;
  private isHeadRequest = false;
  private dechunk = false;
  private res: ResponseHead | null = null;
  /** A partial head held across reads (copied out of the read arena). */
  private pending: Buffer | null = null;
  private scanned = 0;
  private interim = 0;
  private lengthLeft = 0;
  private decoder: ChunkedDecoder | null = null;
  private done = true;

  /**
   * One framer per node connection, reused for each response on it (`begin`): one object less per
   * request. `marker`: the --not-executed-header marker (undefined: off); `readWait`: read
   * XXX-FXLB-WAIT (wait-aware spill is on).
   */
  constructor(
    private readonly marker?: NotExecutedMatch,
    private readonly readWait = false,
  ) {}

  /** Frames the next response of the stream, for a request of the given kind, reporting to `sink`. */
  begin(sink: ResponseSink, isHeadRequest: boolean, dechunk: boolean): void {
    this.sink = sink;
    this.isHeadRequest = isHeadRequest;
    this.dechunk = dechunk;
    this.res = null;
    this.pending = null;
    this.scanned = 0;
    this.interim = 0;
    this.lengthLeft = 0;
    this.decoder = null;
    this.done = false;
  }

  /** Stop framing: the sink dropped this response (later bytes, even of this read, are never reported). */
  stop(): void {
    this.done = true;
  }

  /** The final head, once received. */
  get head(): ResponseHead | null {
    return this.res;
  }

  /** Feeds bytes from the node. Throws FramingError when the response cannot be framed safely. */
  push(chunk: Buffer): void {
    if (this.done) return;
    if (this.res !== null) {
      this.feedBody(chunk, 0);
      return;
    }
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    for (;;) {
      let res = this.scanned === 0 ? this.readWhole(buf) : null;
      const end = res !== null ? res.headEnd : findHeadEnd(buf, this.scanned);
      if (end === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
        this.pending = owned(buf);
        this.scanned = buf.length;
        return;
      }
      if (end > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
      res ??= parseResponseHead(buf, end, this.isHeadRequest, this.marker, this.readWait);
      this.scanned = 0;
      if (res.status >= 200) {
        this.res = res;
        if (res.bodyKind === BodyKind.Length) this.lengthLeft = res.contentLength;
        else if (res.bodyKind === BodyKind.Chunked) this.decoder = new ChunkedDecoder(MAX_RESPONSE_HEAD, this.dechunk);
        this.sink!.onResponseHead(res, buf);
        if (this.done) return; // stopped by the sink
        this.feedBody(buf, end);
        return;
      }
      if (++this.interim > MAX_INTERIM) throw new FramingError(502, 'too many interim responses from node');
      this.sink!.onInterimHead(res, buf);
      if (end === buf.length) return;
      buf = buf.subarray(end);
    }
  }

  /**
   * The first look at a head: most came whole in one read, and are parsed in one pass. Null for anything
   * else (cut short, too large, refused), which takes the long way (findHeadEnd, then parseResponseHead
   * decides what it is).
   */
  private readWhole(buf: Buffer): ResponseHead | null {
    try {
      return readResponseHead(buf, headLimit(buf, MAX_RESPONSE_HEAD), this.isHeadRequest, this.marker, this.readWait);
    } catch (err) {
      if (err instanceof FramingError) return null;
      throw err;
    }
  }

  /**
   * The node closed the connection. True when that ends the response (a close-delimited body);
   * otherwise the response is cut short.
   */
  endOfStream(): boolean {
    if (this.done || this.res === null || this.res.bodyKind !== BodyKind.Close) return false;
    this.finish(false);
    return true;
  }

  private feedBody(buf: Buffer, start: number): void {
    const n = buf.length - start;
    switch (this.res!.bodyKind) {
      case BodyKind.None:
        this.finish(n > 0);
        return;
      case BodyKind.Length: {
        const take = n < this.lengthLeft ? n : this.lengthLeft;
        if (take > 0) this.sink!.onResponseBody(buf, start, start + take);
        this.lengthLeft -= take;
        if (this.lengthLeft === 0) this.finish(take < n);
        return;
      }
      case BodyKind.Chunked: {
        const decoder = this.decoder!;
        const used = decoder.feed(buf, start, buf.length);
        if (this.dechunk) {
          const spans = decoder.spans;
          for (let i = 0; i < spans.length; i += 2) this.sink!.onResponseBody(buf, spans[i]!, spans[i + 1]!);
        } else if (used > start) {
          this.sink!.onResponseBody(buf, start, used);
        }
        if (decoder.done) this.finish(used < buf.length);
        return;
      }
      case BodyKind.Close:
        if (n > 0) this.sink!.onResponseBody(buf, start, buf.length);
        return;
    }
  }

  private finish(overran: boolean): void {
    this.done = true;
    // Let go of the sink: the framer stays with its connection in the pool, the exchange need not.
    const sink = this.sink!;
    this.sink = null;
    sink.onResponseEnd(overran);
  }
}
