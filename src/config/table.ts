import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import type { NodeAddress } from '../membership/address.js';
import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
import {
  DEFAULT_OPTIONS,
  type AccessLogMode,
  type BalancerOptions,
  type HashKeySource,
  type NotExecutedMarker,
  type WaitSpillRange,
} from './options.js';
import { parseHostPort, parseNodeList } from './parse-address.js';
import { checkTablePrefix, parseRegistryUrl } from '../registry/url.js';
import { parseDnsSpec } from '../discovery/dns.js';
import { formatSize, parseSize } from './size.js';

/**
 * One option of fnlb, as the command line, the environment and the library see it. Values come in two
 * ways: as text (a flag or an FNLB_* variable) through `parse`, or typed from the library. Both then go
 * through `check`, so a value is refused with the same message whichever way it came.
 *
 * `parse` refuses only text that does not spell a value of the type; every limit on the value itself
 * (greater than 0, at least 1KiB, a known log level...) belongs in `check`. `check` also sees whatever a
 * JavaScript caller passes, so it tests the type at run time too. Both throw a ConfigError describing the
 * problem without naming the flag; the caller puts the flag (or variable) in front.
 */
export interface OptionSpec<T = unknown> {
  /** Flags with a value; --help and --version are the command line's own. */
  readonly kind: 'value';
  /** Long name without dashes, e.g. "hc-interval". */
  readonly name: string;
  /** "--hc-interval" */
  readonly flag: string;
  /** "FNLB_HC_INTERVAL" (derived from the name). */
  readonly env: string;
  /** The BalancerOptions fields this option sets (two for --listen). */
  readonly keys: ReadonlyArray<keyof BalancerOptions>;
  /** Value placeholder for the help text, e.g. "<duration>". */
  readonly placeholder: string;
  /** One line. */
  readonly description: string;
  /** The default as it would be written on the command line, rendered from DEFAULT_OPTIONS; undefined = required, no default. */
  readonly defaultText: string | undefined;
  /** Text (flag or environment variable) → value; throws ConfigError. */
  parse(text: string): T;
  /** Refuses a value that is not allowed, from either path; throws ConfigError. */
  check(value: T): void;
  /** The option's value in a (possibly partial, unchecked) options object. */
  get(options: Readonly<BalancerOptions>): T;
  /** Stores a checked value. */
  set(options: BalancerOptions, value: T): void;
  /** Another spelling of an option's field on the command line only (the library names the field's own option). */
  readonly alias?: true;
}

/** "hc-interval" → "FNLB_HC_INTERVAL" */
export function envName(flagName: string): string {
  return `FNLB_${flagName.toUpperCase().replaceAll('-', '_')}`;
}

/** A value from the library in a message: strings quoted, anything else as JavaScript would show it. */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  }
  return typeof value === 'function' ? 'a function' : String(value);
}

type Fields<T> = Pick<OptionSpec<T>, 'placeholder' | 'description' | 'defaultText' | 'parse' | 'check'>;

/** An option stored in one field of the same name and type. */
function option<K extends keyof BalancerOptions>(name: string, key: K, fields: Fields<BalancerOptions[K]>): OptionSpec<BalancerOptions[K]> {
  return {
    kind: 'value',
    name,
    flag: `--${name}`,
    env: envName(name),
    keys: [key],
    ...fields,
    get: (options) => options[key],
    set: (options, value) => {
      options[key] = value;
    },
  };
}

type KeysOfType<V> = { [K in keyof BalancerOptions]: BalancerOptions[K] extends V ? K : never }[keyof BalancerOptions];

// --- durations: whole milliseconds; text as parseDuration reads it.

/**
 * A library number as the command line spells it ("0", "1m30s", "-1s", "1.5ms"), so that a value is shown
 * alike whichever way it came; anything else as it is.
 */
function shownDuration(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return shownValue(value);
  if (value === 0) return '"0"';
  const abs = Math.abs(value);
  return JSON.stringify(`${value < 0 ? '-' : ''}${Number.isSafeInteger(abs) ? formatDuration(abs) : `${abs}ms`}`);
}

/** The checks parseDuration makes of text, made of a number, with its reasons. */
function checkDuration(value: unknown, allowZero: boolean): void {
  const invalid = (reason: string) => new ConfigError(`invalid duration ${shownDuration(value)} (${reason})`);
  if (typeof value !== 'number') throw invalid('must be a number of milliseconds');
  if (value < 0) throw invalid('must not be negative');
  if (!Number.isInteger(value)) throw invalid('not a whole number of milliseconds');
  if (value > MAX_DURATION_MS) throw invalid(`at most ${formatDuration(MAX_DURATION_MS)}`);
  if (value === 0 && !allowZero) throw invalid('must be greater than 0');
}

function durationOption(
  name: string,
  key: KeysOfType<number>,
  description: string,
  allowZero = false,
  bareSeconds = false,
): OptionSpec<number> {
  return option(name, key, {
    placeholder: '<duration>',
    description,
    defaultText: formatDuration(DEFAULT_OPTIONS[key]),
    // The Go balancers' health check flags are whole seconds: "--hc-interval 3" is read as 3s there.
    parse: bareSeconds ? (text) => (/^\d{1,7}$/.test(text) ? Number(text) * 1000 : parseDuration(text)) : parseDuration,
    check: (ms) => checkDuration(ms, allowZero),
  });
}

// --- sizes: whole bytes; text as parseSize reads it.

/** A library number as the command line spells it ("512B", "1MiB", "-1B", "1.5B"); anything else as it is. */
function shownSize(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return shownValue(value);
  const abs = Math.abs(value);
  return JSON.stringify(`${value < 0 ? '-' : ''}${Number.isSafeInteger(abs) ? formatSize(abs) : `${abs}B`}`);
}

function sizeOption(name: string, key: KeysOfType<number>, description: string, min: number): OptionSpec<number> {
  return option(name, key, {
    placeholder: '<size>',
    description,
    defaultText: formatSize(DEFAULT_OPTIONS[key]),
    parse: parseSize,
    check: (value: unknown) => {
      const invalid = (reason: string) => new ConfigError(`invalid size ${shownSize(value)} (${reason})`);
      if (typeof value !== 'number') throw invalid('must be a number of bytes');
      if (value < 0) throw invalid('must not be negative');
      if (!Number.isInteger(value)) throw invalid('not a whole number of bytes');
      if (!Number.isSafeInteger(value)) throw invalid('too large');
      if (value < min) throw invalid(`must be at least ${formatSize(min)}`);
    },
  });
}

// --- counts: whole numbers.

/** A library number as the command line spells it ("-1", "1.5"); anything else as it is. */
function shownNumber(value: unknown): string {
  return typeof value === 'number' ? JSON.stringify(String(value)) : shownValue(value);
}

/** Whole numbers, sign included: the sign is the check's business, so "-1" and -1 get the same answer. */
function parseWhole(text: string, example: number, noun: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new ConfigError(`invalid ${noun} ${JSON.stringify(text)} (use a whole number, e.g. ${example})`);
  }
  return n;
}

function countOption(name: string, key: KeysOfType<number>, description: string, min: number): OptionSpec<number> {
  const example = DEFAULT_OPTIONS[key];
  return option(name, key, {
    placeholder: '<count>',
    description,
    defaultText: String(example),
    parse: (text) => parseWhole(text, example, 'number'),
    check: (value: unknown) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new ConfigError(`invalid number ${shownNumber(value)} (use a whole number, e.g. ${example})`);
      }
      if (value < min) throw new ConfigError(`invalid number ${shownNumber(value)} (must be at least ${min})`);
    },
  });
}

/** Worker processes at most; more than this is a typo, not a machine. */
const MAX_WORKERS = 256;

function parseWorkers(text: string): number {
  if (text === 'auto') return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new ConfigError(`invalid worker count ${JSON.stringify(text)} (use 1..${MAX_WORKERS} or auto)`);
  }
  return Number(text);
}

function checkWorkers(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new ConfigError(`invalid worker count ${shownNumber(value)} (use 1..${MAX_WORKERS} or auto)`);
  }
}

// --- the rest, one by one.

function formatListen(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Go's ":8081" (every interface) is 0.0.0.0:8081. */
function anyHost(text: string): string {
  return /^:\d+$/.test(text) ? `0.0.0.0${text}` : text;
}

/** The listen address goes through the address parser in both paths, so both get its messages. */
function checkListen(value: { host: unknown; port: unknown }): void {
  const { host, port } = value;
  if (typeof host !== 'string') throw new ConfigError(`invalid address host ${shownValue(host)} (must be a string, e.g. "0.0.0.0")`);
  if (typeof port !== 'number' || !Number.isInteger(port)) {
    throw new ConfigError(`invalid address port ${shownValue(port)} (must be a whole number 0..65535)`);
  }
  parseHostPort(formatListen(host, port), { allowPortZero: true });
}

function formatHashKey(key: HashKeySource): string {
  return key.kind === 'function' ? 'function' : `header:${key.name}`;
}

/** RFC 9110 token: the characters allowed in a header field name. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseHashKey(text: string): HashKeySource {
  if (text === 'function') return { kind: 'function' };
  if (text.startsWith('header:')) return { kind: 'header', name: text.slice('header:'.length) };
  throw new ConfigError(`invalid hash key ${JSON.stringify(text)} (use function or header:<name>, e.g. header:X-Fn-Id)`);
}

function checkHashKey(value: unknown): void {
  const key = value as Partial<{ kind: unknown; name: unknown }> | null;
  if (key?.kind === 'function') return;
  if (key?.kind === 'header') {
    if (typeof key.name === 'string' && HTTP_TOKEN.test(key.name)) return;
    throw new ConfigError(`invalid header name ${shownValue(key.name)} (must be an HTTP token, e.g. header:X-Fn-Id)`);
  }
  throw new ConfigError(`invalid hash key ${shownValue(value)} (use {kind: 'function'} or {kind: 'header', name})`);
}

function formatWaitSpill(range: WaitSpillRange | null): string {
  return range === null ? 'off' : `${formatDuration(range.from)}:${formatDuration(range.full)}`;
}

function parseWaitSpill(text: string): WaitSpillRange | null {
  if (text === 'off') return null;
  const parts = text.split(':');
  if (parts.length !== 2) throw new ConfigError(`invalid wait spill ${JSON.stringify(text)} (use from:full such as 500ms:2s, or off)`);
  return { from: parseDuration(parts[0]!), full: parseDuration(parts[1]!) };
}

function checkWaitSpill(value: unknown): void {
  if (value === null) return;
  const range = value as Partial<Record<keyof WaitSpillRange, unknown>> | undefined;
  const from = range?.from;
  const full = range?.full;
  const ok = typeof from === 'number' && typeof full === 'number' && Number.isInteger(from) && Number.isInteger(full);
  if (!ok || from <= 0 || full <= from || full > MAX_DURATION_MS) {
    // Shown as the command line spells it, so both paths give one message.
    const shown = ok && from >= 0 && full >= 0 ? JSON.stringify(`${formatDuration(from)}:${formatDuration(full)}`) : shownValue(value);
    throw new ConfigError(`invalid wait spill ${shown} (from must be above 0 and full above from, e.g. 500ms:2s; or off)`);
  }
}

/** A plain decimal number: "1.25", "2", "0". */
function parseFactor(text: string): number {
  if (!/^\d+(?:\.\d+)?$/.test(text))
    throw new ConfigError(`invalid factor ${JSON.stringify(text)} (use a number such as 1.25, or 0 for off)`);
  return Number(text);
}

/** 0 (off) or at least 1: below 1 the bound would be under the average load, and no node could take a request. */
function checkFactor(value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(`invalid factor ${shownValue(value)} (must be a number)`);
  if (value !== 0 && (value < 1 || value > 100)) {
    throw new ConfigError(`invalid factor ${JSON.stringify(String(value))} (must be 0 for off, or from 1 to 100, e.g. 1.25)`);
  }
}

function checkHcPath(value: unknown): void {
  if (value === '') return;
  if (typeof value !== 'string' || !value.startsWith('/') || !/^[\x21-\x7e]+$/.test(value) || value.includes('#')) {
    throw new ConfigError(`invalid path ${shownValue(value)} (must start with /, or be empty for a TCP connect check)`);
  }
}

function parseOnOff(text: string): boolean {
  if (text !== 'on' && text !== 'off') throw new ConfigError(`invalid value ${JSON.stringify(text)} (use on or off)`);
  return text === 'on';
}

function checkBoolean(value: unknown): void {
  if (typeof value !== 'boolean') {
    throw new ConfigError(`invalid value ${shownValue(value)} (use true or false; on or off on the command line)`);
  }
}

function formatMarker(marker: NotExecutedMarker): string {
  if (marker.kind === 'off') return 'off';
  return marker.value === undefined ? marker.name : `${marker.name}:${marker.value}`;
}

/** "off", "<name>" (any value) or "<name>:<value>" (the value trimmed, compared exactly). */
function parseMarker(text: string): NotExecutedMarker {
  if (text === 'off') return { kind: 'off' };
  const colon = text.indexOf(':');
  if (colon === -1) return { kind: 'header', name: text };
  return { kind: 'header', name: text.slice(0, colon).trim(), value: text.slice(colon + 1).trim() };
}

/** What a node may send as a field value (RFC 9110 §5.5), without surrounding whitespace. */
const FIELD_VALUE_TEXT = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

function checkMarker(value: unknown): void {
  const marker = value as Partial<{ kind: unknown; name: unknown; value: unknown }> | null;
  if (marker?.kind === 'off') return;
  if (marker?.kind === 'header') {
    if (typeof marker.name !== 'string' || !HTTP_TOKEN.test(marker.name)) {
      throw new ConfigError(`invalid header name ${shownValue(marker.name)} (must be an HTTP token, e.g. X-Fn-Not-Executed:1)`);
    }
    if (marker.value === undefined || (typeof marker.value === 'string' && FIELD_VALUE_TEXT.test(marker.value))) return;
    throw new ConfigError(`invalid header value ${shownValue(marker.value)} (printable ASCII, e.g. X-Fn-Not-Executed:1)`);
  }
  throw new ConfigError(`invalid marker ${shownValue(value)} (use off, <name> or <name>:<value>, e.g. X-Fn-Not-Executed:1)`);
}

function formatBudget(budget: number | 'off'): string {
  return budget === 'off' ? 'off' : `${budget}%`;
}

/** "20%", "20" or "off". */
function parseBudget(text: string): number | 'off' {
  if (text === 'off') return 'off';
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  if (m === null) throw new ConfigError(`invalid retry budget ${JSON.stringify(text)} (use a percentage such as 20% or off)`);
  return Number(m[1]);
}

function checkBudget(value: unknown): void {
  if (value === 'off') return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1000) {
    const shown = typeof value === 'number' ? JSON.stringify(`${value}%`) : shownValue(value);
    throw new ConfigError(`invalid retry budget ${shown} (use a percentage from 0% to 1000%, or off)`);
  }
}

const LOG_LEVELS: ReadonlyArray<BalancerOptions['logLevel']> = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function checkLogLevel(value: unknown): void {
  if (!LOG_LEVELS.some((l) => l === value)) throw new ConfigError(`invalid log level ${shownValue(value)} (use ${LOG_LEVELS.join(', ')})`);
}

function formatAccessLog(mode: AccessLogMode): string {
  return mode.kind === 'sample' ? String(mode.rate) : mode.kind;
}

function parseAccessLog(text: string): AccessLogMode {
  if (text === 'on') return { kind: 'on' };
  if (text === 'off') return { kind: 'off' };
  if (/^\d+(?:\.\d+)?$/.test(text)) return { kind: 'sample', rate: Number(text) };
  throw accessLogError(JSON.stringify(text));
}

function accessLogError(shown: string): ConfigError {
  return new ConfigError(`invalid access log mode ${shown} (use on, off, or a fraction 0<r<=1 such as 0.1)`);
}

function checkAccessLog(value: unknown): void {
  const mode = value as Partial<{ kind: unknown; rate: unknown }> | null;
  if (mode?.kind === 'on' || mode?.kind === 'off') return;
  if (mode?.kind === 'sample' && typeof mode.rate === 'number') {
    if (mode.rate > 0 && mode.rate <= 1) return;
    throw accessLogError(JSON.stringify(String(mode.rate)));
  }
  throw accessLogError(shownValue(value));
}

/** Library node lists hold parsed addresses; one built by hand is checked for the fields routing needs. */
function checkNodes(value: unknown): void {
  if (!Array.isArray(value)) {
    throw new ConfigError(`invalid node list ${shownValue(value)} (use an array of addresses, e.g. ["10.0.0.1:8080"])`);
  }
  if (value.length === 0) throw new ConfigError('no nodes given');
  const seen = new Set<string>();
  for (const node of value as unknown[]) {
    const n = node as Partial<Record<keyof NodeAddress, unknown>> | null;
    const wellFormed =
      typeof n?.id === 'string' &&
      n.id !== '' &&
      typeof n.host === 'string' &&
      typeof n.port === 'number' &&
      Number.isInteger(n.port) &&
      n.port >= 1 &&
      n.port <= 65535 &&
      typeof n.basePath === 'string';
    if (!wellFormed) throw new ConfigError(`invalid node ${shownValue(node)} (use "host:port" or an address from parseNodeAddress)`);
    const id = n.id as string;
    if (typeof n.weight !== 'number' || !Number.isFinite(n.weight) || n.weight <= 0) {
      const weight = shownValue(n.weight);
      throw new ConfigError(`invalid node ${JSON.stringify(id)} (invalid weight ${weight}; must be a positive number, e.g. =2)`);
    }
    if (seen.has(id)) throw new ConfigError(`duplicate node ${id}`);
    seen.add(id);
  }
}

function formatAdminListen(value: { host: string; port: number } | null): string {
  return value === null ? 'off' : formatListen(value.host, value.port);
}

function checkAdminListen(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'object') throw new ConfigError(`invalid address ${shownValue(value)} (use {host, port}, or null for off)`);
  checkListen(value as { host: unknown; port: unknown });
}

/** Printable, no spaces: it travels in an Authorization header and a cookie. */
function checkAdminToken(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(value) || value.includes(';') || value.includes(',')) {
    throw new ConfigError('invalid token (16 to 256 printable characters, no spaces, commas or semicolons)');
  }
}

function checkRequestIdHeader(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'string' || !HTTP_TOKEN.test(value)) {
    throw new ConfigError(`invalid header name ${shownValue(value)} (must be an HTTP token such as X-Request-Id, or off)`);
  }
  const lower = value.toLowerCase();
  if (
    ['host', 'content-length', 'transfer-encoding', 'connection', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'].includes(
      lower,
    )
  ) {
    throw new ConfigError(`invalid header name ${shownValue(value)} (a header fnlb frames or sets itself; use e.g. X-Request-Id)`);
  }
}

/** Every option, in help order: the single source of truth for flags, environment variables, help and library checks. */
export const OPTIONS: readonly OptionSpec[] = Object.freeze<OptionSpec[]>([
  {
    kind: 'value',
    name: 'listen',
    flag: '--listen',
    env: envName('listen'),
    keys: ['listenHost', 'listenPort'],
    placeholder: '<host:port>',
    description: 'Address to listen on; IPv6 as [::]:8081, :8081 = every interface (as in Go), port 0 = any free port.',
    defaultText: formatListen(DEFAULT_OPTIONS.listenHost, DEFAULT_OPTIONS.listenPort),
    parse: (text) => parseHostPort(anyHost(text), { allowPortZero: true }),
    check: checkListen,
    get: (options) => ({ host: options.listenHost, port: options.listenPort }),
    set: (options, { host, port }) => {
      options.listenHost = host;
      options.listenPort = port;
    },
  } satisfies OptionSpec<{ host: string; port: number }>,
  option('nodes', 'nodes', {
    placeholder: '<node>,<node>,...',
    description: 'Function nodes: host:port, http://host:port/base or [::1]:8080, each with an optional weight =N.',
    defaultText: undefined,
    parse: parseNodeList,
    check: checkNodes,
  }),
  {
    ...option('hash-key', 'hashKey', {
      placeholder: '<key>',
      description: 'Routing key: "function" (the function called) or "header:<name>" (a request header).',
      defaultText: formatHashKey(DEFAULT_OPTIONS.hashKey),
      parse: parseHashKey,
      check: checkHashKey,
    }),
    set: (options: BalancerOptions, key: HashKeySource) => {
      // Header names are case-insensitive; the lowercase form is what Node.js and the engine see.
      options.hashKey = key.kind === 'header' ? { kind: 'header', name: key.name.toLowerCase() } : { kind: 'function' };
    },
  },
  option('balance-factor', 'balanceFactor', {
    placeholder: '<factor>',
    description: 'Bounded loads: a node carries at most factor x the average requests in flight (e.g. 1.25); 0 = off.',
    defaultText: String(DEFAULT_OPTIONS.balanceFactor),
    parse: parseFactor,
    check: checkFactor,
  }),
  durationOption(
    'warmup',
    'warmup',
    'A node that comes back takes its functions back gradually over this long, function by function (0 = at once).',
    true,
  ),
  option('wait-spill', 'waitSpill', {
    placeholder: '<from:full|off>',
    description:
      'A node reporting a longer average wait (XXX-FXLB-WAIT) than from for a function hands on a growing share of its calls, down to 10% kept at full.',
    defaultText: formatWaitSpill(DEFAULT_OPTIONS.waitSpill),
    parse: parseWaitSpill,
    check: checkWaitSpill,
  }),
  durationOption(
    'hc-interval',
    'hcInterval',
    'Time between two health checks of a node (a bare number is seconds, as in the Go lb).',
    false,
    true,
  ),
  durationOption('hc-timeout', 'hcTimeout', 'A health check not answered within this fails (a bare number is seconds).', false, true),
  option('hc-path', 'hcPath', {
    placeholder: '<path>',
    description: 'Path the health check requests; empty (--hc-path=) means a TCP connect check.',
    defaultText: DEFAULT_OPTIONS.hcPath === '' ? '"" (TCP connect)' : DEFAULT_OPTIONS.hcPath,
    parse: (text) => text,
    check: checkHcPath,
  }),
  countOption('hc-healthy', 'hcHealthy', 'Consecutive passed checks before a down node is used again.', 1),
  countOption('hc-unhealthy', 'hcUnhealthy', 'Consecutive failed checks before a node is taken out.', 1),
  durationOption('connect-timeout', 'connectTimeout', 'Give up connecting to a node after this.'),
  durationOption('response-timeout', 'responseTimeout', 'Longest wait for the first response byte from a node.'),
  durationOption('idle-timeout', 'idleTimeout', 'Close idle client keep-alive connections and stalled transfers after this.'),
  durationOption('header-timeout', 'headerTimeout', 'A client must send its complete request head within this.'),
  durationOption('upstream-idle-timeout', 'upstreamIdleTimeout', 'Close idle pooled node connections after this.'),
  durationOption(
    'shutdown-timeout',
    'shutdownTimeout',
    'On shutdown, wait at most this long for requests in flight (0 = do not wait).',
    true,
  ),
  sizeOption(
    'max-replay-body',
    'maxReplayBody',
    'Keep request bodies up to this size to replay them on a fallback node (0 = never replay).',
    0,
  ),
  sizeOption(
    'max-header-size',
    'maxHeaderSize',
    'Largest request head (request line + headers) accepted, at least 1KiB; larger gets 431.',
    1024,
  ),
  option('retry-on-reset', 'retryOnReset', {
    placeholder: '<on|off>',
    description: 'Also replay POST/PATCH whose node reset the connection (RST) before answering: the node did not read all of it.',
    defaultText: DEFAULT_OPTIONS.retryOnReset ? 'on' : 'off',
    parse: parseOnOff,
    check: checkBoolean,
  }),
  option('not-executed-header', 'notExecutedHeader', {
    placeholder: '<name[:value]|off>',
    description: 'A 503/429 with this header was not run by the node: fnlb tries the next node (any method); off = none.',
    defaultText: formatMarker(DEFAULT_OPTIONS.notExecutedHeader),
    parse: parseMarker,
    check: checkMarker,
  }),
  option('retry-budget', 'retryBudget', {
    placeholder: '<percent|off>',
    description: 'Retries allowed on top of --retry-budget-min, in percent of the requests of the window (per worker); off = no limit.',
    defaultText: formatBudget(DEFAULT_OPTIONS.retryBudget),
    parse: parseBudget,
    check: checkBudget,
  }),
  durationOption('retry-budget-window', 'retryBudgetWindow', 'The sliding window of the retry budget.'),
  countOption('retry-budget-min', 'retryBudgetMin', 'Retries per second always allowed by the retry budget (per worker).', 0),
  countOption('max-idle-per-node', 'maxIdlePerNode', 'Idle pooled connections kept per node (0 = no pooling).', 0),
  countOption(
    'max-connections',
    'maxConnections',
    'Client connections open at once (per worker); more are answered 503 and closed (0 = no limit).',
    0,
  ),
  option('workers', 'workers', {
    placeholder: '<count|auto>',
    description: 'Worker processes sharing the listening socket; auto = one per CPU. Health checks run once, in the primary.',
    defaultText: String(DEFAULT_OPTIONS.workers),
    parse: parseWorkers,
    check: checkWorkers,
  }),
  option('log-level', 'logLevel', {
    placeholder: '<level>',
    description: `Log level: ${LOG_LEVELS.join(', ')}.`,
    defaultText: DEFAULT_OPTIONS.logLevel,
    // Any text is a candidate level; the check knows which exist.
    parse: (text) => text as BalancerOptions['logLevel'],
    check: checkLogLevel,
  }),
  {
    ...option('mgmt-port', 'adminListen', {
      placeholder: '<port>',
      description: "fnproject fnlb's spelling of --admin-listen 127.0.0.1:<port>.",
      defaultText: 'none',
      parse: (text) => ({ host: '127.0.0.1', port: parseWhole(text, 8082, 'port') }),
      check: checkAdminListen,
    }),
    alias: true,
  },
  option('admin-listen', 'adminListen', {
    placeholder: '<host:port|off>',
    description: 'Admin API, metrics and dashboard; on a non-loopback address only with --admin-token.',
    defaultText: formatAdminListen(DEFAULT_OPTIONS.adminListen),
    parse: (text) => {
      if (text === 'off') return null;
      const { host, port } = parseHostPort(text, { allowPortZero: true });
      return { host, port };
    },
    check: checkAdminListen,
  }),
  option('admin-token', 'adminToken', {
    placeholder: '<token>',
    description: 'Bearer token the admin API requires (not /healthz, /readyz); without it the API is open, on loopback only.',
    defaultText: 'none',
    parse: (text) => text,
    check: checkAdminToken,
  }),
  option('state-file', 'stateFile', {
    placeholder: '<path>',
    description: 'Keep the node list here: written on every change, read at start (instead of --nodes) and on SIGHUP.',
    defaultText: 'none',
    parse: (text) => text,
    check: (value: unknown) => {
      if (value !== null && (typeof value !== 'string' || value === '')) {
        throw new ConfigError(`invalid path ${shownValue(value)} (a file name, or null for none)`);
      }
    },
  }),
  option('registry', 'registry', {
    placeholder: '<postgres://...>',
    description: 'Share the node list with other instances in PostgreSQL (seeded from --nodes when empty); not with --state-file.',
    defaultText: 'none',
    parse: (text) => unprefixed(() => parseRegistryUrl(text)),
    check: textCheck('URL', 'postgres://user@host:5432/db, or null', parseRegistryUrl, true),
  }),
  option('registry-prefix', 'registryPrefix', {
    placeholder: '<prefix>',
    description: 'Prefix of the registry table (<prefix>nodes) and of its notification channel.',
    defaultText: DEFAULT_OPTIONS.registryPrefix,
    parse: (text) => text,
    check: textCheck('prefix', 'e.g. fnlb_', checkTablePrefix, false),
  }),
  durationOption('registry-resync', 'registryResync', 'Full re-read of the registry, healing missed notifications.'),
  option('nodes-dns', 'nodesDns', {
    placeholder: '<name:port|srv:name>',
    description: 'Nodes from DNS: every address of name (A/AAAA) at port, or every SRV record; re-resolved, instead of --nodes.',
    defaultText: 'none',
    parse: (text) => text,
    check: textCheck('name', 'name:port or srv:_http._tcp.name, or null', parseDnsSpec, true),
  }),
  durationOption('dns-interval', 'dnsInterval', 'How often --nodes-dns is resolved again.'),
  option('dns-servers', 'dnsServers', {
    placeholder: '<ip[:port],...>',
    description: 'DNS servers for --nodes-dns, instead of the system resolver.',
    defaultText: 'system',
    parse: (text) =>
      text.trim() === 'system'
        ? []
        : text
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t !== ''),
    check: checkDnsServers,
  }),
  option('request-id-header', 'requestIdHeader', {
    placeholder: '<name|off>',
    description: 'Request id header: a valid one is kept, else fnlb adds its own to the forwarded request; logged. off = none.',
    defaultText: DEFAULT_OPTIONS.requestIdHeader ?? 'off',
    parse: (text) => (text === 'off' ? null : text),
    check: checkRequestIdHeader,
  }),
  option('access-log', 'accessLog', {
    placeholder: '<mode>',
    description: 'Access log: on, off, or the fraction 0<r<=1 of requests to log (e.g. 0.1).',
    defaultText: formatAccessLog(DEFAULT_OPTIONS.accessLog),
    parse: parseAccessLog,
    check: checkAccessLog,
  }),
]);

/** The option that sets a BalancerOptions field. */
export const OPTION_OF_KEY: ReadonlyMap<keyof BalancerOptions, OptionSpec> = new Map(
  OPTIONS.filter((o) => !o.alias).flatMap((o) => o.keys.map((k) => [k, o] as const)),
);

/** Runs `fn` (a parse or check) and puts `source` (a flag, or the variable the text came from) in front of a ConfigError's message. */
/** "ip", "ip:port" or "[v6]:port", as node:dns setServers takes them. */
function checkDnsServers(value: unknown): void {
  if (!Array.isArray(value)) throw new ConfigError(`invalid server list ${shownValue(value)} (e.g. 10.96.0.10,10.96.0.11:53)`);
  for (const server of value) {
    const m =
      typeof server === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?|([0-9.]+)(?::(\d{1,5}))?|([0-9a-fA-F:]+))$/.exec(server) : null;
    const ip = m === null ? '' : (m[1] ?? m[3] ?? m[5] ?? '');
    const port = m === null ? undefined : (m[2] ?? m[4]);
    if (isIP(ip) === 0 || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
      throw new ConfigError(`invalid DNS server ${shownValue(server)} (an IP address, optionally :port; IPv6 with a port as [::1]:53)`);
    }
  }
}

/** A text option checked by a parser whose messages name their flag (null allowed when nullable). */
function textCheck(noun: string, hint: string, parser: (text: string) => unknown, nullable: boolean): (value: unknown) => void {
  return (value) => {
    if (value === null && nullable) return;
    if (typeof value !== 'string') throw new ConfigError(`invalid ${noun} ${shownValue(value)} (${hint})`);
    unprefixed(() => parser(value));
  };
}

/** Runs a parser whose messages already name their flag ("--registry: ..."), without that name: naming() adds it. */
function unprefixed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^--[a-z-]+: /, ''));
    throw err;
  }
}

export function naming<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${source}: ${err.message}`);
    throw err;
  }
}
