/**
 * Our side of the differential: the engine's own stream framers (src/engine/http1/request-framer.ts,
 * response-framer.ts), fed a byte stream in pieces of any size, their events recorded as messages with
 * absolute offsets. Nothing here frames: it only drives the framers as the engine does.
 *
 * - Requests: the next request is framed as soon as one is complete (the engine waits for the answer
 *   first; framing is the same, only later); nothing is read after a request that does not keep the
 *   connection alive (the engine closes it).
 * - Responses: one exchange's response; bytes after the final response are never framed (the engine
 *   does not reuse that node connection).
 */
import { ChunkedDecoder } from '../../src/engine/http1/chunked.js';
import { FramingError } from '../../src/engine/http1/framing-error.js';
import { RequestFramer, type RequestSink } from '../../src/engine/http1/request-framer.js';
import type { RequestHead } from '../../src/engine/http1/request-head.js';
import { MAX_RESPONSE_HEAD, ResponseFramer, type ResponseSink } from '../../src/engine/http1/response-framer.js';
import { BodyKind, type ResponseHead } from '../../src/engine/http1/response-head.js';
import { Ch } from '../../src/engine/http1/chars.js';

export { MAX_RESPONSE_HEAD };
/** The engine's default request head limit (--max-header-size). */
export const MAX_HEADER_SIZE = 16 * 1024;

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

/** Collects messages from framer events; `pos` is the absolute offset just past the last framed byte. */
class Recorder<H extends RequestHead | ResponseHead> {
  readonly result: FrameResult<H> = { messages: [], partial: undefined, outcome: 'end', status: 0, reason: '' };
  pos = 0;
  private raw: Buffer[] = [];

  head(head: H, buf: Buffer, begin: number, hasBody: boolean): void {
    const msg: OurMessage<H> = {
      begin,
      headEnd: begin + head.headEnd,
      end: -1,
      head,
      headBuf: Buffer.from(buf.subarray(0, head.headEnd)),
      body: Buffer.alloc(0),
      rawBody: Buffer.alloc(0),
    };
    this.pos = msg.headEnd;
    this.raw = [];
    if (hasBody) this.result.partial = msg;
    else this.complete(msg);
  }

  body(chunk: Buffer): void {
    this.raw.push(Buffer.from(chunk));
    this.pos += chunk.length;
    this.sync();
  }

  /** The body that was open is complete. */
  bodyEnd(): void {
    const msg = this.result.partial!;
    this.result.partial = undefined;
    this.complete(msg);
  }

  private complete(msg: OurMessage<H>): void {
    msg.end = this.pos;
    this.result.messages.push(msg);
  }

  private sync(): void {
    const msg = this.result.partial;
    if (msg === undefined) return;
    msg.rawBody = Buffer.concat(this.raw);
    msg.body = isChunked(msg.head) ? payloadOf(msg.rawBody) : msg.rawBody;
  }

  reject(err: unknown): void {
    if (!(err instanceof FramingError)) throw err;
    this.result.outcome = 'rejected';
    this.result.status = err.status;
    this.result.reason = err.message;
  }
}

function isChunked(head: RequestHead | ResponseHead): boolean {
  return 'chunked' in head ? head.chunked : head.bodyKind === BodyKind.Chunked;
}

/** The data of a chunked body the framer already validated. */
function payloadOf(raw: Buffer): Buffer {
  const decoder = new ChunkedDecoder(Number.MAX_SAFE_INTEGER, true);
  decoder.feed(raw, 0, raw.length);
  const parts: Buffer[] = [];
  for (let i = 0; i < decoder.spans.length; i += 2) parts.push(raw.subarray(decoder.spans[i], decoder.spans[i + 1]));
  return Buffer.concat(parts);
}

class RequestRecorder extends Recorder<RequestHead> implements RequestSink {
  readonly framer: RequestFramer;
  closed = false;

  constructor(
    private readonly input: Buffer,
    maxHeaderSize: number,
  ) {
    super();
    this.framer = new RequestFramer(this, maxHeaderSize, { hashHeader: undefined });
  }

  onRequestHead(head: RequestHead, buf: Buffer): void {
    // The framer skips up to four empty lines before a request line; a fifth is part of a (bad) head.
    let begin = this.pos;
    for (let k = 0; k < 4 && this.input[begin] === Ch.CR && this.input[begin + 1] === Ch.LF; k++) begin += 2;
    const hasBody = head.chunked || head.contentLength > 0;
    this.head(head, buf, begin, hasBody);
    if (!hasBody) this.requestDone(head);
  }

  onRequestBody(chunk: Buffer, complete: boolean): void {
    this.body(chunk);
    if (!complete) return;
    const head = this.result.partial!.head;
    this.bodyEnd();
    this.requestDone(head);
  }

  onRequestError(err: FramingError): void {
    this.reject(err);
  }

  /** As the engine after the answer: the next request, or the end of the connection. */
  private requestDone(head: RequestHead): void {
    if (head.keepAlive) this.framer.next();
    else {
      this.closed = true;
      this.framer.stop();
    }
  }
}

class ResponseRecorder extends Recorder<ResponseHead> implements ResponseSink {
  readonly framer: ResponseFramer;
  finalDone = false;
  closed = false;

  constructor(isHeadRequest: boolean) {
    super();
    this.framer = new ResponseFramer();
    this.framer.begin(this, isHeadRequest, false);
  }

  onInterimHead(res: ResponseHead, buf: Buffer): void {
    this.head(res, buf, this.pos, false);
  }

  onResponseHead(res: ResponseHead, buf: Buffer): void {
    this.head(res, buf, this.pos, true);
  }

  onResponseBody(buf: Buffer, start: number, end: number): void {
    this.body(buf.subarray(start, end));
  }

  onResponseEnd(overran: boolean): void {
    const head = this.result.partial!.head;
    this.bodyEnd();
    this.finalDone = true;
    if (overran || !head.reusable) this.closed = true;
  }
}

/** Cuts `input` at `cuts` (sorted or not; out-of-range cuts are ignored), a fresh buffer per piece as a socket gives. */
function pieces(input: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...points, input.length]) {
    if (c > prev) out.push(Buffer.from(input.subarray(prev, c)));
    prev = c;
  }
  return out;
}

export function frameRequests(input: Buffer, cuts: readonly number[] = [], maxHeaderSize = MAX_HEADER_SIZE): FrameResult<RequestHead> {
  const rec = new RequestRecorder(input, maxHeaderSize);
  for (const piece of pieces(input, cuts)) rec.framer.push(piece);
  const r = rec.result;
  if (r.outcome === 'rejected') return r;
  if (rec.closed) r.outcome = 'closed';
  else r.outcome = rec.framer.inBody || rec.framer.pendingBytes > 0 ? 'incomplete' : 'end';
  return r;
}

export function frameResponse(input: Buffer, isHeadRequest: boolean, cuts: readonly number[] = []): FrameResult<ResponseHead> {
  const rec = new ResponseRecorder(isHeadRequest);
  try {
    for (const piece of pieces(input, cuts)) {
      if (rec.finalDone) {
        rec.closed = true; // bytes after the final response: never framed
        break;
      }
      rec.framer.push(piece);
    }
    rec.framer.endOfStream(); // a close-delimited body ends with the connection
  } catch (err) {
    rec.reject(err);
    return rec.result;
  }
  const r = rec.result;
  r.outcome = rec.closed ? 'closed' : rec.finalDone ? 'end' : 'incomplete';
  return r;
}

/** Every position: the input in 1-byte pieces. */
export const everyByte = (length: number): number[] => Array.from({ length }, (_, i) => i + 1);
