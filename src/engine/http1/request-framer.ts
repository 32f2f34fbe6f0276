import { owned } from '../read-arena.js';
import { ChunkedDecoder } from './chunked.js';
import { FramingError } from './framing-error.js';
import { emptyLinesToSkip, findHeadEnd, headLimit, headTooLarge } from './head-scan.js';
import { parseRequestHead, readRequestHead, type RequestHead, type RequestHeadOptions } from './request-head.js';
import { Buffer } from 'node:buffer';

/** What a request stream framer reports, in stream order. Buffers are valid only during the call. */
export interface RequestSink {
  /** A complete, valid head; `buf` holds it at [0, head.headEnd). */
  onRequestHead(head: RequestHead, buf: Buffer): void;
  /**
   * Body bytes exactly as they are to be forwarded (chunk framing included, already validated), never
   * empty; `complete`: these are the body's last bytes.
   */
  onRequestBody(chunk: Buffer, complete: boolean): void;
  /** The stream cannot be framed: nothing after this is read. `inBody`: the head was accepted, its body was not. */
  onRequestError(err: FramingError, inBody: boolean, head?: Buffer): void;
}

const enum State {
  /** Looking for the next head. */
  Head,
  Body,
  /** A request was framed; the next head waits until the consumer calls next() (pipelining is in order). */
  Waiting,
  /** A framing error: the rest of the stream is never looked at. */
  Stopped,
}

/**
 * Frames a client's byte stream into requests (RFC 9112): up to four empty lines before a request line,
 * the head within the size limit (431, or 414 for a request line alone over it), the body by
 * Content-Length or chunked. Socket-free: bytes in, events out. Heads are parsed in place from the
 * pushed buffer; only bytes held for later are copied (pushed buffers may be views of the read arena).
 * The same stream split at any byte position gives the same events.
 */
export class RequestFramer {
  // State. Invariants: in Body, `pending` is null (bytes go straight to the body) and `decoder` is set
  // exactly for a chunked body (else `lengthLeft` > 0 counts down); in Waiting, `pending` holds the
  // requests pipelined behind the current one; in Stopped, nothing is held and nothing is read.
  private state = State.Head;
  /** Bytes received but not framed yet (a partial head, or requests pipelined behind the current one). */
  private pending: Buffer | null = null;
  /** How far pending was scanned for the end of the head, so a head arriving in pieces is scanned once. */
  private scanned = 0;
  /** Empty lines skipped before the next request line, counted across pushes. */
  private emptyLines = 0;
  private lengthLeft = 0;
  private decoder: ChunkedDecoder | null = null;
  /** True while push() or next() runs: a next() from inside a sink call only flags, the running loop goes on. */
  private running = false;

  constructor(
    private readonly sink: RequestSink,
    private readonly maxHeaderSize: number,
    private readonly headOptions: RequestHeadOptions,
  ) {}

  /** Inside a request body (its head was reported, its end not yet). */
  get inBody(): boolean {
    return this.state === State.Body;
  }

  /** A framing error ended the stream, or the consumer stopped it (read as a method: sink calls change it). */
  private get stopped(): boolean {
    return this.state === State.Stopped;
  }

  /** Bytes held that are not framed yet: a partial head, or pipelined requests. */
  get pendingBytes(): number {
    return this.pending === null ? 0 : this.pending.length;
  }

  /** The start of a head not complete yet (for the log of a 408), undefined if none. */
  get pendingHead(): Buffer | undefined {
    return this.state === State.Head && this.pending !== null ? this.pending : undefined;
  }

  push(chunk: Buffer): void {
    if (this.state === State.Stopped) return;
    if (this.state === State.Body) {
      const used = this.feedBody(chunk);
      if (used === chunk.length || this.stopped) return;
      chunk = chunk.subarray(used);
    }
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.run();
    if (this.pending !== null) this.pending = owned(this.pending);
  }

  /** The current request was answered: frame the next one (from bytes already held, or when they come). */
  next(): void {
    if (this.state !== State.Waiting) return;
    this.state = State.Head;
    this.run();
    if (this.pending !== null) this.pending = owned(this.pending);
  }

  /** Nothing more is to be read (the connection is closing). */
  stop(): void {
    this.state = State.Stopped;
    this.pending = null;
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    try {
      while (this.state === State.Head && this.pending !== null && this.frameHead(this.pending));
    } finally {
      this.running = false;
    }
  }

  /** Frames one head (and whatever of its body is held) from `buf` = pending; false: more bytes are needed. */
  private frameHead(buf: Buffer): boolean {
    // RFC 9112 §2.2: ignore empty lines before a request line (some clients add CRLF after a body).
    const lines = emptyLinesToSkip(buf, this.emptyLines);
    if (lines > 0) {
      this.emptyLines += lines;
      this.scanned = 0;
      if (2 * lines === buf.length) {
        this.pending = null;
        return false;
      }
      buf = this.pending = buf.subarray(2 * lines);
    }
    const max = this.maxHeaderSize;
    let head = this.scanned === 0 ? this.readWhole(buf) : null;
    if (head === null) {
      try {
        const end = findHeadEnd(buf, this.scanned);
        if (end === -1) {
          if (buf.length > max) throw headTooLarge(buf, max);
          this.scanned = buf.length;
          return false;
        }
        if (end > max) throw headTooLarge(buf, max);
        head = parseRequestHead(buf, end, this.headOptions);
      } catch (err) {
        this.fail(err, false, buf);
        return false;
      }
    }
    const end = head.headEnd;
    this.pending = end === buf.length ? null : buf.subarray(end);
    this.scanned = 0;
    this.emptyLines = 0;
    if (head.chunked || head.contentLength > 0) {
      this.state = State.Body;
      if (head.chunked) this.decoder = new ChunkedDecoder(this.maxHeaderSize);
      else this.lengthLeft = head.contentLength;
    } else {
      this.state = State.Waiting;
    }
    this.sink.onRequestHead(head, buf);
    if (this.state === State.Body && this.pending !== null) {
      const rest = this.pending;
      this.pending = null;
      const used = this.feedBody(rest);
      if (used < rest.length && !this.stopped) this.pending = rest.subarray(used);
    }
    return true;
  }

  /**
   * The first look at a head: most came whole in one read, and are parsed in one pass. Null for anything
   * else (cut short, too large, refused), which takes the long way (findHeadEnd, then parseRequestHead
   * decides what it is).
   */
  private readWhole(buf: Buffer): RequestHead | null {
    try {
      return readRequestHead(buf, headLimit(buf, this.maxHeaderSize), this.headOptions);
    } catch (err) {
      if (err instanceof FramingError) return null;
      throw err;
    }
  }

  /** Feeds body bytes; returns how many belonged to the body. */
  private feedBody(chunk: Buffer): number {
    let used: number;
    let complete: boolean;
    const decoder = this.decoder;
    if (decoder !== null) {
      try {
        used = decoder.feed(chunk, 0, chunk.length);
      } catch (err) {
        this.fail(err, true);
        return chunk.length;
      }
      complete = decoder.done;
    } else {
      used = chunk.length < this.lengthLeft ? chunk.length : this.lengthLeft;
      this.lengthLeft -= used;
      complete = this.lengthLeft === 0;
    }
    if (complete) {
      this.decoder = null;
      this.state = State.Waiting;
    }
    // A body always ends on a byte of its own (a length > 0, or the chunked terminator): `used` > 0 then.
    if (used > 0) this.sink.onRequestBody(used === chunk.length ? chunk : chunk.subarray(0, used), complete);
    return used;
  }

  /** `head`: the bytes of a head that was refused (valid during the call), for the log. */
  private fail(err: unknown, inBody: boolean, head?: Buffer): void {
    if (!(err instanceof FramingError)) throw err;
    this.stop();
    this.sink.onRequestError(err, inBody, head);
  }
}
