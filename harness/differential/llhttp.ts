/**
 * The oracle: llhttp, the parser inside node:http, driven directly through Node's internal binding
 * (`process.binding('http_parser')`, deprecated but present in Node 20) in strict mode (no lenient
 * flags), the way a Node.js function node behind fnlb would parse what it receives.
 *
 * The input is fed one byte per execute() call, so that every callback is tied to an exact offset:
 * where each message begins (after the empty lines llhttp skips), where its head ends, where it ends
 * (the next message's start) and which byte an error was raised on.
 */
export interface LlMessage {
  /** Offset of the message's first byte. */
  begin: number;
  /** Offset just past the head (headers complete), -1 while incomplete. */
  headEnd: number;
  /** Offset just past the message: where the next one starts; -1 while incomplete. */
  end: number;
  versionMajor: number;
  versionMinor: number;
  /** Requests only. */
  method: string;
  url: string;
  /** Responses only. */
  status: number;
  reason: string;
  /** Field lines in order, names as sent, values with leading and trailing whitespace removed. */
  headers: [string, string][];
  trailers: [string, string][];
  body: Buffer;
  keepAlive: boolean;
  upgrade: boolean;
}

export interface LlError {
  code: string;
  reason: string;
  /** Offset of the byte the error was raised on (input length for an error at end of input). */
  at: number;
}

export interface LlResult {
  messages: LlMessage[];
  error: LlError | undefined;
  /** llhttp stopped after the head of a message that upgrades the connection; -1 when none did. */
  upgradedAt: number;
}

interface Binding {
  HTTPParser: {
    new (): NativeParser;
    REQUEST: number;
    RESPONSE: number;
    kOnMessageBegin: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
    kLenientNone: number;
  };
  methods: string[];
}

interface NativeParser {
  [k: number]: unknown;
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code: string; reason: string; bytesParsed: number });
  finish(): undefined | (Error & { code: string; reason: string; bytesParsed: number });
  close(): void;
}

let binding: Binding | undefined;

/** The internal binding, loaded once with its deprecation warning (DEP0111) silenced. */
function llhttpBinding(): Binding {
  if (binding !== undefined) return binding;
  const saved = process.noDeprecation;
  process.noDeprecation = true;
  try {
    binding = (process as unknown as { binding(name: string): unknown }).binding('http_parser') as Binding;
  } finally {
    process.noDeprecation = saved;
  }
  return binding;
}

/** The llhttp version inside this Node.js. */
export const llhttpVersion = (): string => process.versions.llhttp ?? 'unknown';

const pairs = (flat: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let k = 0; k + 1 < flat.length; k += 2) out.push([flat[k]!, flat[k + 1]!]);
  return out;
};

export interface LlOptions {
  /** Responses: true when message `index` (counting 1xx ones) answers a HEAD request, so it has no body. */
  skipBody?: (index: number, status: number) => boolean;
  /** Largest head llhttp accepts (node:http's --max-http-header-size); default 16 KiB. */
  maxHeaderSize?: number;
}

/**
 * Parses `input` as a stream of requests or responses, then signals the end of input (finish()),
 * as a server or client socket that reads everything and then sees FIN.
 */
export function llhttpParse(mode: 'request' | 'response', input: Uint8Array, opts: LlOptions = {}): LlResult {
  const { HTTPParser, methods } = llhttpBinding();
  const parser = new HTTPParser();
  parser.initialize(
    mode === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE,
    {},
    opts.maxHeaderSize ?? 16 * 1024,
    HTTPParser.kLenientNone,
  );
  const messages: LlMessage[] = [];
  let offset = 0; // offset of the byte being fed
  let current: LlMessage | undefined;
  let flushedHeaders: string[] = [];
  let flushedUrl = '';
  let bodyParts: Buffer[] = [];

  parser[HTTPParser.kOnMessageBegin] = () => {
    current = {
      begin: offset,
      headEnd: -1,
      end: -1,
      versionMajor: 0,
      versionMinor: 0,
      method: '',
      url: '',
      status: 0,
      reason: '',
      headers: [],
      trailers: [],
      body: Buffer.alloc(0),
      keepAlive: false,
      upgrade: false,
    };
    messages.push(current);
    flushedHeaders = [];
    flushedUrl = '';
    bodyParts = [];
  };
  // Node flushes fields early (over 32 of them) and always flushes trailers this way.
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    if (current !== undefined && current.headEnd !== -1) current.trailers.push(...pairs(headers));
    else {
      flushedHeaders.push(...headers);
      flushedUrl += url;
    }
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    status: number | undefined,
    reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    const m = current!;
    m.headEnd = offset + 1;
    m.versionMajor = major;
    m.versionMinor = minor;
    m.headers = pairs([...flushedHeaders, ...(headers ?? [])]);
    m.url = flushedUrl + (url ?? '');
    m.method = typeof method === 'number' ? methods[method]! : '';
    m.status = status ?? 0;
    m.reason = reason ?? '';
    m.upgrade = upgrade;
    m.keepAlive = keepAlive;
    return mode === 'response' && opts.skipBody?.(messages.length - 1, m.status) ? 1 : 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer) => {
    bodyParts.push(Buffer.from(b));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    const m = current!;
    m.end = offset + 1;
    m.body = Buffer.concat(bodyParts);
  };
  parser[HTTPParser.kOnExecute] = () => {};

  let error: LlError | undefined;
  let upgradedAt = -1;
  const toError = (e: { code: string; reason: string }, at: number): LlError => ({ code: e.code, reason: String(e.reason ?? ''), at });
  for (; offset < input.length; offset++) {
    const r = parser.execute(Buffer.from(input.buffer, input.byteOffset + offset, 1));
    if (typeof r !== 'number') {
      error = toError(r, offset);
      break;
    }
    const last = messages[messages.length - 1];
    if (last !== undefined && last.headEnd !== -1 && last.upgrade) {
      // node:http hands the socket over after an upgrade head (or handles the request without upgrading):
      // what llhttp does with the bytes after it is not what a node does, so nothing past the head counts.
      upgradedAt = last.headEnd;
      break;
    }
  }
  if (error === undefined && upgradedAt === -1) {
    // A close-delimited body ends here: finish() completes it, at the end of input.
    offset = input.length - 1;
    const r = parser.finish();
    if (r !== undefined) error = toError(r, input.length);
  }
  if (current !== undefined && current.end === -1) current.body = Buffer.concat(bodyParts); // the body so far
  parser.close();
  return { messages, error, upgradedAt };
}

const PROBE = {
  request: Buffer.from('GET /probe HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1'),
  response: Buffer.from('HTTP/1.1 204 No Content\r\n\r\n', 'latin1'),
};

/**
 * llhttp's keep-alive decision for one complete message, taken from what it does rather than from the
 * flag node passes to the head callback (computed before a HEAD response's body is skipped): does it
 * parse another message after this one?
 */
export function llhttpKeepsAlive(mode: 'request' | 'response', message: Uint8Array, opts: LlOptions = {}): boolean {
  const probe = PROBE[mode];
  const r = llhttpParse(mode, Buffer.concat([message, probe]), {
    ...opts,
    skipBody: (i, status) => i === 0 && (opts.skipBody?.(0, status) ?? false),
  });
  return (
    r.error === undefined &&
    r.messages.length === 2 &&
    r.messages[1]!.begin === message.length &&
    r.messages[1]!.end === message.length + probe.length
  );
}
