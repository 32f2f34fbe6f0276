import { FIELD_VALUE, HEX, LOWER, TOKEN, Ch } from './chars.js';
import { FramingError } from './framing-error.js';
import { Buffer } from 'node:buffer';

const enum State {
  Size,
  SizeWhitespace,
  /** After ';': optional BWS, then the extension name. */
  ExtNameStart,
  ExtName,
  /** After the name: BWS, then '=', ';' or the end of the line. */
  ExtAfterName,
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  /** Right after a closing quote: the end of the line, ';' or BWS. */
  ExtQuoteEnd,
  /** Whitespace after a value: only more BWS then ';' may follow (no BWS before CRLF). */
  ExtAfterValue,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  TrailerLineStart,
  TrailerLine,
  TrailerLF,
  FinalLF,
  Done,
}

const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding', 'latin1');

/** 2^52: comfortably exact in a double, and far beyond any real chunk. */
const MAX_CHUNK = 0x10000000000000;
const MAX_SIZE_LINE = 4096;

/**
 * Incremental, strict validator of a chunked body (RFC 9112 §7.1). It never copies: callers forward
 * the raw bytes it accepted (chunk extensions and trailers included, already validated), or, when
 * `collectData` is on, read the data spans it found in `spans` to de-chunk for HTTP/1.0 clients.
 * The same input split at any byte position yields the same result.
 */
export class ChunkedDecoder {
  private state = State.Size;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  private trailerNameDone = false;
  private trailerNameLength = 0;
  /** Bit 1: the trailer name so far is a prefix of content-length; bit 2: of transfer-encoding. */
  private trailerFraming = 0;
  /** Data spans [start, end) found by the last feed(), when collecting. */
  readonly spans: number[] = [];
  /** Total payload bytes seen. */
  dataBytes = 0;

  constructor(
    private readonly maxTrailerBytes: number,
    private readonly collectData = false,
  ) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  private extensionByte(): void {
    if (++this.lineBytes > MAX_SIZE_LINE) throw new FramingError(400, 'chunk extension too long');
  }

  /**
   * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ), checked byte by
   * byte so that what we forward is exactly what a strict node parser will frame the same way.
   */
  private extension(c: number): void {
    this.extensionByte();
    const ws = c === Ch.SP || c === Ch.HTAB;
    const token = TOKEN[c] === 1;
    let next: State | -1 = -1;
    switch (this.state) {
      case State.ExtNameStart:
        next = token ? State.ExtName : ws ? State.ExtNameStart : -1;
        break;
      case State.ExtName:
      case State.ExtToken:
        if (token) next = this.state;
        else if (c === Ch.CR) next = State.SizeLF;
        else if (c === 0x3b /* ; */) next = State.ExtNameStart;
        else if (c === 0x3d /* = */ && this.state === State.ExtName) next = State.ExtValueStart;
        else if (ws) next = this.state === State.ExtName ? State.ExtAfterName : State.ExtAfterValue;
        break;
      case State.ExtAfterName:
        next = c === 0x3d ? State.ExtValueStart : c === 0x3b ? State.ExtNameStart : ws ? State.ExtAfterName : -1;
        break;
      case State.ExtValueStart:
        next = c === 0x22 /* " */ ? State.ExtQuoted : token ? State.ExtToken : ws ? State.ExtValueStart : -1;
        break;
      case State.ExtQuoted:
        next = c === 0x22 ? State.ExtQuoteEnd : c === 0x5c /* \ */ ? State.ExtQuotedPair : FIELD_VALUE[c] === 1 ? State.ExtQuoted : -1;
        break;
      case State.ExtQuotedPair:
        next = FIELD_VALUE[c] === 1 ? State.ExtQuoted : -1;
        break;
      case State.ExtQuoteEnd:
        next = c === Ch.CR ? State.SizeLF : c === 0x3b ? State.ExtNameStart : ws ? State.ExtAfterValue : -1;
        break;
      case State.ExtAfterValue:
        next = c === 0x3b ? State.ExtNameStart : ws ? State.ExtAfterValue : -1;
        break;
    }
    if (next === -1) throw new FramingError(400, 'invalid chunk extension');
    this.state = next;
  }

  /**
   * Consumes buf[start, end). Returns the index just past the last byte that belongs to the body:
   * `end` when more is needed, less when the body ended inside this piece (the rest is the next message).
   */
  feed(buf: Uint8Array, start: number, end: number): number {
    const spans = this.spans;
    if (this.collectData) spans.length = 0;
    let i = start;
    while (i < end) {
      const c = buf[i];
      switch (this.state) {
        case State.Size: {
          const h = HEX[c];
          if (h !== 255) {
            this.remaining = this.remaining * 16 + h;
            if (this.remaining >= MAX_CHUNK) throw new FramingError(400, 'chunk size too large');
            if (++this.digits > 16) throw new FramingError(400, 'chunk size too long');
            this.lineBytes++;
            i++;
            break;
          }
          if (this.digits === 0) throw new FramingError(400, 'invalid chunk size');
          if (c === Ch.CR) this.state = State.SizeLF;
          else if (c === 0x3b /* ; */) this.state = State.ExtNameStart;
          else if (c === Ch.SP || c === Ch.HTAB) this.state = State.SizeWhitespace;
          else throw new FramingError(400, 'invalid chunk size');
          this.lineBytes++;
          i++;
          break;
        }
        case State.SizeWhitespace:
          // BWS is only allowed before a chunk extension.
          if (c === 0x3b) this.state = State.ExtNameStart;
          else if (c !== Ch.SP && c !== Ch.HTAB) throw new FramingError(400, 'invalid chunk size line');
          this.extensionByte();
          i++;
          break;
        default:
          if (this.state >= State.ExtNameStart && this.state <= State.ExtAfterValue) {
            this.extension(c);
            i++;
            break;
          }
          throw new Error('unreachable chunked state');
        case State.SizeLF:
          if (c !== Ch.LF) throw new FramingError(400, 'invalid chunk size line');
          i++;
          this.digits = 0;
          this.lineBytes = 0;
          if (this.remaining === 0) {
            this.state = State.TrailerLineStart;
          } else {
            this.state = State.Data;
          }
          break;
        case State.Data: {
          const n = Math.min(end - i, this.remaining);
          if (this.collectData) {
            const last = spans.length;
            if (last > 0 && spans[last - 1] === i) spans[last - 1] = i + n;
            else spans.push(i, i + n);
          }
          this.remaining -= n;
          this.dataBytes += n;
          i += n;
          if (this.remaining === 0) this.state = State.DataCR;
          break;
        }
        case State.DataCR:
          if (c !== Ch.CR) throw new FramingError(400, 'missing CRLF after chunk data');
          this.state = State.DataLF;
          i++;
          break;
        case State.DataLF:
          if (c !== Ch.LF) throw new FramingError(400, 'missing CRLF after chunk data');
          this.state = State.Size;
          i++;
          break;
        case State.TrailerLineStart:
          if (c === Ch.CR) {
            this.state = State.FinalLF;
            i++;
            break;
          }
          if (c === Ch.SP || c === Ch.HTAB) throw new FramingError(400, 'obsolete line folding in trailer');
          this.trailerNameDone = false;
          this.trailerNameLength = 0;
          this.trailerFraming = 3;
          this.state = State.TrailerLine;
          break;
        case State.TrailerLine:
          if (++this.trailerBytes > this.maxTrailerBytes) throw new FramingError(431, 'trailer section too large');
          if (!this.trailerNameDone) {
            if (TOKEN[c] === 1) {
              const n = this.trailerNameLength++;
              if (this.trailerFraming !== 0) {
                const l = LOWER[c];
                if (CONTENT_LENGTH[n] !== l) this.trailerFraming &= 2;
                if (TRANSFER_ENCODING[n] !== l) this.trailerFraming &= 1;
              }
            } else if (c === Ch.COLON && this.trailerNameLength > 0) {
              this.trailerNameDone = true;
              // RFC 9110 §6.5.1: framing fields are not allowed in trailers; parsers (llhttp) refuse them.
              const n = this.trailerNameLength;
              if (
                ((this.trailerFraming & 1) !== 0 && n === CONTENT_LENGTH.length) ||
                ((this.trailerFraming & 2) !== 0 && n === TRANSFER_ENCODING.length)
              ) {
                throw new FramingError(400, 'framing field in trailer');
              }
            } else throw new FramingError(400, 'malformed trailer field');
          } else if (c === Ch.CR) {
            this.state = State.TrailerLF;
          } else if (FIELD_VALUE[c] !== 1) {
            throw new FramingError(400, 'invalid character in trailer field');
          }
          i++;
          break;
        case State.TrailerLF:
          if (c !== Ch.LF) throw new FramingError(400, 'bare CR in trailer');
          this.state = State.TrailerLineStart;
          i++;
          break;
        case State.FinalLF:
          if (c !== Ch.LF) throw new FramingError(400, 'malformed end of chunked body');
          this.state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
    }
    return i;
  }
}
