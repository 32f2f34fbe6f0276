/**
 * Our side of the differential: the http1 parsers composed exactly as the engine composes them, fed a
 * byte stream in pieces of any size.
 *
 * - Requests mirror ClientConnection.parseNext/handleData and Exchange.start/onClientBody
 *   (src/engine/client-connection.ts, src/engine/exchange.ts): a growing buffer scanned from where the
 *   last scan stopped, up to four empty lines skipped before a request line, a 431 over the head limit,
 *   the body by Content-Length or ChunkedDecoder, the next request parsed from what is left, nothing
 *   read after a request that does not keep the connection alive.
 * - Responses mirror Exchange.readResponseHead/forwardBody: interim 1xx heads skipped (at most 16), one
 *   final response, its body by the kind parseResponseHead chose; bytes after it are never read (the
 *   node connection is not reused when a node sends more than its response).
 *
 * When the engine changes how it frames, this file must follow (the differential tests would then be
 * testing a model, not fnlb).
 */
import { ChunkedDecoder } from '../src/engine/http1/chunked.js';
import { FramingError } from '../src/engine/http1/framing-error.js';
import { emptyLinesToSkip, findHeadEnd, headTooLarge } from '../src/engine/http1/head-scan.js';
import { parseRequestHead, type RequestHead } from '../src/engine/http1/request-head.js';
import { BodyKind, parseResponseHead, type ResponseHead } from '../src/engine/http1/response-head.js';

/** The engine's defaults (src/options.ts maxHeaderSize, src/engine/exchange.ts MAX_RESPONSE_HEAD, MAX_INTERIM). */
export const MAX_HEADER_SIZE = 16 * 1024;
export const MAX_RESPONSE_HEAD = 64 * 1024;
const MAX_INTERIM = 16;

export interface OurMessage<H> {
  /** Absolute offset of the first byte of the head. */
  begin: number;
  /** Absolute offset just past the head. */
  headEnd: number;
  /** Absolute offset just past the body; -1 while the body is incomplete. */
  end: number;
  head: H;
  /** The bytes the head was parsed from: head[0, headEnd - begin). */
  headBuf: Buffer;
  /** Payload (de-chunked). */
  body: Buffer;
  /** The body bytes as forwarded (chunked framing included). */
  rawBody: Buffer;
}

/**
 * - end: every byte framed, stream at a message boundary;
 * - incomplete: input ended inside a head or a body;
 * - closed: the connection is done after the last message (no keep-alive, or a close-delimited
 *   response); later bytes are never parsed;
 * - rejected: a FramingError (`status`, `reason`); nothing after it is parsed.
 */
export type Outcome = 'end' | 'incomplete' | 'closed' | 'rejected';

export interface FrameResult<H> {
  /** Messages whose head and body were accepted completely. */
  messages: OurMessage<H>[];
  /** A message whose head was accepted but whose body was cut short or refused. */
  partial: OurMessage<H> | undefined;
  outcome: Outcome;
  status: number;
  reason: string;
}

interface BodyState<H> {
  msg: OurMessage<H>;
  decoder: ChunkedDecoder | null;
  lengthLeft: number;
  payload: Buffer[];
  raw: Buffer[];
}

/** Common part: body consumption by Content-Length or chunked, with absolute offsets. */
abstract class Framer<H> {
  protected pending: Buffer | null = null;
  /** Absolute offset of pending[0]. */
  protected base = 0;
  protected scanned = 0;
  protected body: BodyState<H> | null = null;
  protected readonly result: FrameResult<H> = { messages: [], partial: undefined, outcome: 'end', status: 0, reason: '' };
  protected stopped = false;
  /** Absolute offset of the next byte push() will receive. */
  protected received = 0;

  push(chunk: Buffer): void {
    const at = this.received;
    this.received += chunk.length;
    if (this.stopped) return;
    try {
      if (this.body !== null) {
        const used = this.feedBody(chunk, at);
        if (used === chunk.length || this.stopped) return;
        chunk = chunk.subarray(used);
      }
      this.stash(chunk);
      this.parse();
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.reject(err);
    }
  }

  protected stash(chunk: Buffer): void {
    if (this.pending === null) {
      this.pending = chunk;
      this.base = this.received - chunk.length;
    } else this.pending = Buffer.concat([this.pending, chunk]);
  }

  /** Drops pending[0, n). */
  protected consume(n: number): void {
    const buf = this.pending!;
    this.pending = n === buf.length ? null : buf.subarray(n);
    this.base += n;
    this.scanned = 0;
  }

  protected startBody(msg: OurMessage<H>, chunked: boolean, length: number, maxTrailer: number, collect: boolean): void {
    this.body = {
      msg,
      decoder: chunked ? new ChunkedDecoder(maxTrailer, collect) : null,
      lengthLeft: length,
      payload: [],
      raw: [],
    };
    this.result.partial = msg;
  }

  /** Feeds a piece that starts at absolute offset `at`; returns how many bytes belonged to the body. */
  protected feedBody(chunk: Buffer, at: number): number {
    const b = this.body!;
    let used: number;
    let complete: boolean;
    if (b.decoder !== null) {
      used = b.decoder.feed(chunk, 0, chunk.length); // throws FramingError
      const spans = b.decoder.spans;
      for (let i = 0; i < spans.length; i += 2) b.payload.push(Buffer.from(chunk.subarray(spans[i], spans[i + 1])));
      complete = b.decoder.done;
    } else {
      used = chunk.length < b.lengthLeft ? chunk.length : b.lengthLeft;
      b.lengthLeft -= used;
      b.payload.push(Buffer.from(chunk.subarray(0, used)));
      complete = b.lengthLeft === 0;
    }
    b.raw.push(Buffer.from(chunk.subarray(0, used)));
    if (complete) this.completeBody(at + used);
    return used;
  }

  /** The bytes that followed a head go to its body first; what the body does not take stays pending. */
  protected feedPendingToBody(): void {
    if (this.pending === null) return;
    const rest = this.pending;
    const at = this.base;
    this.pending = null;
    const used = this.feedBody(rest, at);
    if (used < rest.length && !this.stopped) {
      this.pending = rest.subarray(used);
      this.base = at + used;
    }
  }

  protected completeBody(end: number): void {
    const b = this.body!;
    this.body = null;
    b.msg.end = end;
    b.msg.body = Buffer.concat(b.payload);
    b.msg.rawBody = Buffer.concat(b.raw);
    this.result.partial = undefined;
    this.result.messages.push(b.msg);
    this.messageDone(b.msg);
  }

  protected syncPartial(): void {
    const b = this.body;
    if (b === null) return;
    b.msg.body = Buffer.concat(b.payload);
    b.msg.rawBody = Buffer.concat(b.raw);
  }

  protected reject(err: FramingError): void {
    this.syncPartial();
    this.stopped = true;
    this.pending = null;
    this.result.outcome = 'rejected';
    this.result.status = err.status;
    this.result.reason = err.message;
  }

  protected close(): void {
    this.stopped = true;
    this.pending = null;
    this.result.outcome = 'closed';
  }

  protected newMessage(head: H, buf: Buffer, headEnd: number): OurMessage<H> {
    return {
      begin: this.base,
      headEnd: this.base + headEnd,
      end: -1,
      head,
      headBuf: Buffer.from(buf.subarray(0, headEnd)),
      body: Buffer.alloc(0),
      rawBody: Buffer.alloc(0),
    };
  }

  protected abstract parse(): void;
  protected abstract messageDone(msg: OurMessage<H>): void;

  /** The peer closed its side (FIN). */
  end(): FrameResult<H> {
    if (!this.stopped) {
      this.stopped = true;
      this.endOfInput();
    }
    this.syncPartial();
    return this.result;
  }

  protected abstract endOfInput(): void;
}

export class RequestFramer extends Framer<RequestHead> {
  private emptyLines = 0;

  constructor(
    private readonly maxHeaderSize = MAX_HEADER_SIZE,
    private readonly hashHeader: Uint8Array | undefined = undefined,
  ) {
    super();
  }

  /** ClientConnection.parseNext. */
  protected parse(): void {
    while (this.body === null && this.pending !== null && !this.stopped) {
      let buf = this.pending;
      const lines = emptyLinesToSkip(buf, this.emptyLines);
      if (lines > 0) {
        this.emptyLines += lines;
        this.consume(2 * lines);
        if (this.pending === null) break;
        buf = this.pending;
      }
      const end = findHeadEnd(buf, this.scanned);
      if (end === -1) {
        if (buf.length > this.maxHeaderSize) throw headTooLarge(buf, this.maxHeaderSize);
        this.scanned = buf.length;
        return;
      }
      if (end > this.maxHeaderSize) throw headTooLarge(buf, this.maxHeaderSize);
      const head = parseRequestHead(buf, end, { hashHeader: this.hashHeader });
      this.emptyLines = 0;
      const msg = this.newMessage(head, buf, end);
      this.consume(end);
      const hasBody = head.chunked || head.contentLength > 0;
      if (!hasBody) {
        this.result.messages.push({ ...msg, end: msg.headEnd });
        this.messageDone(msg);
        continue;
      }
      this.startBody(msg, head.chunked, head.contentLength, this.maxHeaderSize, true);
      this.feedPendingToBody();
    }
  }

  protected messageDone(msg: OurMessage<RequestHead>): void {
    if (!msg.head.keepAlive) this.close();
  }

  protected endOfInput(): void {
    // ClientConnection.handleEnd: a body cut short is abandoned; a head cut short is never parsed.
    this.result.outcome = this.body !== null || this.pending !== null ? 'incomplete' : 'end';
  }
}

export class ResponseFramer extends Framer<ResponseHead> {
  private interim = 0;
  private finalSeen = false;
  /** 1xx responses seen before the final one (they are messages too, with no body). */
  constructor(private readonly isHeadRequest: boolean) {
    super();
  }

  /** Exchange.readResponseHead. */
  protected parse(): void {
    while (this.body === null && this.pending !== null && !this.stopped) {
      if (this.finalSeen) {
        // Bytes after the final response: the engine never reads them (nodeOverran).
        this.close();
        return;
      }
      const buf = this.pending;
      const end = findHeadEnd(buf, this.scanned);
      if (end === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
        this.scanned = buf.length;
        return;
      }
      if (end > MAX_RESPONSE_HEAD) throw new FramingError(502, 'response head from node too large');
      const res = parseResponseHead(buf, end, this.isHeadRequest);
      const msg = this.newMessage(res, buf, end);
      this.consume(end);
      if (res.status < 200) {
        if (++this.interim > MAX_INTERIM) throw new FramingError(502, 'too many interim responses from node');
        this.result.messages.push({ ...msg, end: msg.headEnd });
        continue;
      }
      this.finalSeen = true;
      switch (res.bodyKind) {
        case BodyKind.None:
          this.result.messages.push({ ...msg, end: msg.headEnd });
          this.messageDone(msg);
          continue;
        case BodyKind.Length:
          if (res.contentLength === 0) {
            this.result.messages.push({ ...msg, end: msg.headEnd });
            this.messageDone(msg);
            continue;
          }
          this.startBody(msg, false, res.contentLength, 0, true);
          break;
        case BodyKind.Chunked:
          this.startBody(msg, true, 0, MAX_RESPONSE_HEAD, true);
          break;
        case BodyKind.Close:
          this.startBody(msg, false, Number.MAX_SAFE_INTEGER, 0, true);
          break;
      }
      this.feedPendingToBody();
    }
  }

  protected messageDone(msg: OurMessage<ResponseHead>): void {
    if (!msg.head.reusable) this.close();
  }

  protected endOfInput(): void {
    const b = this.body;
    if (b !== null && b.decoder === null && b.lengthLeft > Number.MAX_SAFE_INTEGER / 2) {
      // A close-delimited body ends with the connection (Exchange.onUpstreamGone).
      this.completeBody(this.received);
      return;
    }
    this.result.outcome = b !== null || this.pending !== null || !this.finalSeen ? 'incomplete' : 'end';
  }
}

/** Frames `input` fed in pieces cut at `cuts` (sorted or not; out-of-range cuts are ignored). */
function feed<H>(framer: Framer<H>, input: Buffer, cuts: readonly number[]): FrameResult<H> {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b);
  let prev = 0;
  for (const c of [...points, input.length]) {
    if (c > prev) framer.push(Buffer.from(input.subarray(prev, c))); // a fresh buffer per piece, as a socket gives
    prev = c;
  }
  return framer.end();
}

export const frameRequests = (input: Buffer, cuts: readonly number[] = [], maxHeaderSize = MAX_HEADER_SIZE): FrameResult<RequestHead> =>
  feed(new RequestFramer(maxHeaderSize), input, cuts);

export const frameResponse = (input: Buffer, isHeadRequest: boolean, cuts: readonly number[] = []): FrameResult<ResponseHead> =>
  feed(new ResponseFramer(isHeadRequest), input, cuts);

/** Every position: the input in 1-byte pieces. */
export const everyByte = (length: number): number[] => Array.from({ length }, (_, i) => i + 1);
