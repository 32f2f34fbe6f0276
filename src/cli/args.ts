import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { parseHostPort, parseNodeList } from '../config/parse-address.js';
import { DEFAULT_OPTIONS, type BalancerOptions, type HashKeySource, type AccessLogMode } from '../config/options.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { formatSize, parseSize } from '../config/size.js';

/** What the command line asks for. */
export type CommandLine =
  | { kind: 'run'; options: BalancerOptions }
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string };

function readVersion(): string {
  try {
    // dist/src/cli/args.js → package root (also src/cli/args.ts → repo root when run from source).
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // fall through: a missing or broken package.json must not stop the balancer
  }
  return '0.0.0-unknown';
}

/** The package version from package.json ("0.0.0-unknown" if it cannot be read). */
export const VERSION: string = readVersion();

/** A flag that takes a value; also settable by its environment variable. */
export interface ValueFlag {
  readonly kind: 'value';
  /** Long name without dashes, e.g. "hc-interval". */
  readonly name: string;
  /** "--hc-interval" */
  readonly flag: string;
  /** "FNLB_HC_INTERVAL" (derived from the name). */
  readonly env: string;
  /** Value placeholder for the help text, e.g. "<duration>". */
  readonly placeholder: string;
  /** One line. */
  readonly description: string;
  /** The default as it would be written on the command line, rendered from DEFAULT_OPTIONS; undefined = required, no default. */
  readonly defaultText: string | undefined;
  /** Parses `value` into `options`; throws ConfigError describing the problem (without naming the flag). */
  readonly apply: (options: BalancerOptions, value: string) => void;
}

/** --help / --version: no value, no environment variable. */
export interface SwitchFlag {
  readonly kind: 'switch';
  readonly name: 'help' | 'version';
  readonly flag: string;
  readonly short: string;
  readonly description: string;
}

export type FlagDefinition = ValueFlag | SwitchFlag;

/** "hc-interval" → "FNLB_HC_INTERVAL" */
export function envName(flagName: string): string {
  return `FNLB_${flagName.toUpperCase().replaceAll('-', '_')}`;
}

function valueFlag(
  name: string,
  placeholder: string,
  description: string,
  defaultText: string | undefined,
  apply: (options: BalancerOptions, value: string) => void,
): ValueFlag {
  return { kind: 'value', name, flag: `--${name}`, env: envName(name), placeholder, description, defaultText, apply };
}

type DurationKey =
  | 'hcInterval'
  | 'hcTimeout'
  | 'connectTimeout'
  | 'responseTimeout'
  | 'idleTimeout'
  | 'headerTimeout'
  | 'upstreamIdleTimeout'
  | 'shutdownTimeout';

type CountKey = 'hcHealthy' | 'hcUnhealthy' | 'maxIdlePerNode' | 'maxConnections';

function durationFlag(name: string, key: DurationKey, description: string, allowZero = false): ValueFlag {
  return valueFlag(name, '<duration>', description, formatDuration(DEFAULT_OPTIONS[key]), (options, value) => {
    const ms = parseDuration(value);
    if (ms === 0 && !allowZero) throw new ConfigError(`invalid duration ${JSON.stringify(value)} (must be greater than 0)`);
    options[key] = ms;
  });
}

function parseWorkers(value: string): number {
  if (value === 'auto') return Math.max(1, availableParallelism());
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256) throw new ConfigError(`invalid worker count ${JSON.stringify(value)} (use 1..256 or auto)`);
  return n;
}

function countFlag(name: string, key: CountKey, description: string, min: number): ValueFlag {
  return valueFlag(name, '<count>', description, String(DEFAULT_OPTIONS[key]), (options, value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new ConfigError(`invalid number ${JSON.stringify(value)} (use a whole number, e.g. ${DEFAULT_OPTIONS[key]})`);
    }
    if (n < min) throw new ConfigError(`invalid number ${JSON.stringify(value)} (must be at least ${min})`);
    options[key] = n;
  });
}

function formatListen(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function formatHashKey(key: HashKeySource): string {
  return key.kind === 'function' ? 'function' : `header:${key.name}`;
}

function formatAccessLog(mode: AccessLogMode): string {
  return mode.kind === 'sample' ? String(mode.rate) : mode.kind;
}

/** RFC 9110 token: the characters allowed in a header field name. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseHashKey(value: string): HashKeySource {
  if (value === 'function') return { kind: 'function' };
  if (value.startsWith('header:')) {
    const name = value.slice('header:'.length);
    if (!HTTP_TOKEN.test(name)) {
      throw new ConfigError(`invalid header name ${JSON.stringify(name)} (must be an HTTP token, e.g. header:X-Fn-Id)`);
    }
    // Header names are case-insensitive; the lowercase form is what Node.js and the engine see.
    return { kind: 'header', name: name.toLowerCase() };
  }
  throw new ConfigError(`invalid hash key ${JSON.stringify(value)} (use function or header:<name>, e.g. header:X-Fn-Id)`);
}

function parseHcPath(value: string): string {
  if (value === '') return '';
  if (!value.startsWith('/') || !/^[\x21-\x7e]+$/.test(value) || value.includes('#')) {
    throw new ConfigError(`invalid path ${JSON.stringify(value)} (must start with /, or be empty for a TCP connect check)`);
  }
  return value;
}

const LOG_LEVELS: ReadonlyArray<BalancerOptions['logLevel']> = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function parseLogLevel(value: string): BalancerOptions['logLevel'] {
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined) throw new ConfigError(`invalid log level ${JSON.stringify(value)} (use ${LOG_LEVELS.join(', ')})`);
  return level;
}

function parseAccessLog(value: string): AccessLogMode {
  if (value === 'on') return { kind: 'on' };
  if (value === 'off') return { kind: 'off' };
  const rate = Number(value);
  if (/^\d+(?:\.\d+)?$/.test(value) && rate > 0 && rate <= 1) return { kind: 'sample', rate };
  throw new ConfigError(`invalid access log mode ${JSON.stringify(value)} (use on, off, or a fraction 0<r<=1 such as 0.1)`);
}

/** Every flag, in help order: the single source of truth for parsing, environment variables and help. */
export const FLAGS: readonly FlagDefinition[] = Object.freeze([
  valueFlag(
    'listen',
    '<host:port>',
    'Address to listen on; IPv6 as [::]:8081, port 0 = any free port.',
    formatListen(DEFAULT_OPTIONS.listenHost, DEFAULT_OPTIONS.listenPort),
    (options, value) => {
      const { host, port } = parseHostPort(value, { allowPortZero: true });
      options.listenHost = host;
      options.listenPort = port;
    },
  ),
  valueFlag(
    'nodes',
    '<node>,<node>,...',
    'Function nodes: host:port, http://host:port/base or [::1]:8080, each with an optional weight =N.',
    undefined,
    (options, value) => {
      options.nodes = parseNodeList(value);
    },
  ),
  valueFlag(
    'hash-key',
    '<key>',
    'Routing key: "function" (the function called) or "header:<name>" (a request header).',
    formatHashKey(DEFAULT_OPTIONS.hashKey),
    (options, value) => {
      options.hashKey = parseHashKey(value);
    },
  ),
  durationFlag('hc-interval', 'hcInterval', 'Time between two health checks of a node.'),
  durationFlag('hc-timeout', 'hcTimeout', 'A health check not answered within this fails.'),
  valueFlag(
    'hc-path',
    '<path>',
    'Path the health check requests; empty (--hc-path=) means a TCP connect check.',
    DEFAULT_OPTIONS.hcPath === '' ? '"" (TCP connect)' : DEFAULT_OPTIONS.hcPath,
    (options, value) => {
      options.hcPath = parseHcPath(value);
    },
  ),
  countFlag('hc-healthy', 'hcHealthy', 'Consecutive passed checks before a down node is used again.', 1),
  countFlag('hc-unhealthy', 'hcUnhealthy', 'Consecutive failed checks before a node is taken out.', 1),
  durationFlag('connect-timeout', 'connectTimeout', 'Give up connecting to a node after this.'),
  durationFlag('response-timeout', 'responseTimeout', 'Longest wait for the first response byte from a node.'),
  durationFlag('idle-timeout', 'idleTimeout', 'Close idle client keep-alive connections and stalled transfers after this.'),
  durationFlag('header-timeout', 'headerTimeout', 'A client must send its complete request head within this.'),
  durationFlag('upstream-idle-timeout', 'upstreamIdleTimeout', 'Close idle pooled node connections after this.'),
  durationFlag('shutdown-timeout', 'shutdownTimeout', 'On shutdown, wait at most this long for requests in flight (0 = do not wait).', true),
  valueFlag(
    'max-replay-body',
    '<size>',
    'Keep request bodies up to this size to replay them on a fallback node (0 = never replay).',
    formatSize(DEFAULT_OPTIONS.maxReplayBody),
    (options, value) => {
      options.maxReplayBody = parseSize(value);
    },
  ),
  valueFlag(
    'max-header-size',
    '<size>',
    'Largest request head (request line + headers) accepted, at least 1KiB; larger gets 431.',
    formatSize(DEFAULT_OPTIONS.maxHeaderSize),
    (options, value) => {
      const bytes = parseSize(value);
      if (bytes < 1024) throw new ConfigError(`invalid size ${JSON.stringify(value)} (must be at least 1KiB)`);
      options.maxHeaderSize = bytes;
    },
  ),
  valueFlag(
    'retry-on-reset',
    '<on|off>',
    'Also replay POST/PATCH whose node reset the connection (RST) before answering: the node did not read all of it.',
    DEFAULT_OPTIONS.retryOnReset ? 'on' : 'off',
    (options, value) => {
      if (value !== 'on' && value !== 'off') throw new ConfigError(`invalid value ${JSON.stringify(value)} (use on or off)`);
      options.retryOnReset = value === 'on';
    },
  ),
  countFlag('max-idle-per-node', 'maxIdlePerNode', 'Idle pooled connections kept per node (0 = no pooling).', 0),
  countFlag('max-connections', 'maxConnections', 'Client connections open at once (per worker); more are answered 503 and closed (0 = no limit).', 0),
  valueFlag(
    'workers',
    '<count|auto>',
    'Worker processes sharing the listening socket; auto = one per CPU. Health checks run once, in the primary.',
    String(DEFAULT_OPTIONS.workers),
    (options, value) => {
      options.workers = parseWorkers(value);
    },
  ),
  valueFlag(
    'log-level',
    '<level>',
    `Log level: ${LOG_LEVELS.join(', ')}.`,
    DEFAULT_OPTIONS.logLevel,
    (options, value) => {
      options.logLevel = parseLogLevel(value);
    },
  ),
  valueFlag(
    'access-log',
    '<mode>',
    'Access log: on, off, or the fraction 0<r<=1 of requests to log (e.g. 0.1).',
    formatAccessLog(DEFAULT_OPTIONS.accessLog),
    (options, value) => {
      options.accessLog = parseAccessLog(value);
    },
  ),
  { kind: 'switch', name: 'help', flag: '--help', short: 'h', description: 'Show this help and exit.' },
  { kind: 'switch', name: 'version', flag: '--version', short: 'v', description: 'Show the version and exit.' },
] satisfies FlagDefinition[]);

const BY_NAME: ReadonlyMap<string, FlagDefinition> = new Map(FLAGS.map((f) => [f.name, f]));
const VALUE_FLAGS: readonly ValueFlag[] = FLAGS.filter((f): f is ValueFlag => f.kind === 'value');

const PARSE_ARGS_OPTIONS = Object.fromEntries(
  FLAGS.map((f) => [f.name, f.kind === 'value' ? { type: 'string' as const } : { type: 'boolean' as const, short: f.short }]),
);

/** The help text, generated from FLAGS. */
export function helpText(): string {
  const lines = [
    `fnlb ${VERSION} - load balancer for function-as-a-service (IronFunctions) clusters`,
    '',
    'Usage: fnlb --listen <addr> --nodes <node1>,<node2>,... [flags]',
    '',
    'Every flag can also be set by the environment variable shown with it; the flag wins.',
    'Durations: 500ms, 2s, 1m30s, 1h.  Sizes: 512B, 64KiB, 1MiB, 64k (= 64KiB), 1MB (= 1000000 bytes).',
    'Nodes: 10.0.0.1:8080, http://fn-1:8080/base, [::1]:8080; weight suffix =N, e.g. 10.0.0.1:8080=2.',
    '',
    'Flags:',
  ];
  const left = (f: FlagDefinition): string => (f.kind === 'value' ? `${f.flag} ${f.placeholder}` : `-${f.short}, ${f.flag}`);
  const width = Math.max(...FLAGS.map((f) => left(f).length));
  for (const f of FLAGS) {
    const extra = f.kind === 'switch' ? '' : `${f.env}, ${f.defaultText === undefined ? 'required' : `default ${f.defaultText}`}`;
    lines.push(`  ${left(f).padEnd(width)}  ${extra}`.trimEnd());
    lines.push(`      ${f.description}`);
  }
  return lines.join('\n') + '\n';
}

/** Shows a raw argument as is when it is plain, quoted otherwise (so a message stays one line). */
function shown(raw: string): string {
  return /^[\x21-\x7e]+$/.test(raw) ? raw : JSON.stringify(raw);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownFlag(raw: string): string {
  const name = raw.replace(/^-+/, '').split('=')[0]!.toLowerCase();
  let best: FlagDefinition | undefined;
  let bestDistance = Infinity;
  for (const f of FLAGS) {
    const d = editDistance(name, f.name);
    if (d < bestDistance) {
      best = f;
      bestDistance = d;
    }
  }
  const hint = best !== undefined && name.length > 1 && bestDistance <= 2 ? ` (did you mean ${best.flag}?)` : '';
  return `unknown flag ${shown(raw)}${hint}`;
}

const SWITCH_SPELLINGS: ReadonlyMap<string, 'help' | 'version'> = new Map(
  FLAGS.flatMap((f) => (f.kind === 'switch' ? ([[f.flag, f.name], [`-${f.short}`, f.name]] as const) : [])),
);

/**
 * Reads the command line (without the node and script paths) and the environment into what to do.
 * Flags win over FNLB_* variables; --help and --version win over everything, errors included.
 * Any problem throws a ConfigError with one line naming the flag or variable.
 */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined>): CommandLine {
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: argv, options: PARSE_ARGS_OPTIONS, strict: false, allowPositionals: true, tokens: true }));
  } catch (err) {
    // Not expected with strict: false, but keep the one-line promise.
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`invalid arguments: ${message.split('\n')[0]}`);
  }

  let wantHelp = false;
  let wantVersion = false;
  let firstProblem: string | undefined;
  const given = new Map<ValueFlag, string>();

  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      firstProblem ??= `unexpected argument ${JSON.stringify(token.value)} (fnlb takes only flags; see --help)`;
      continue;
    }
    const raw = argv[token.index] ?? token.rawName;
    const isShort = !token.rawName.startsWith('--');
    // A short token must be a configured short flag; "-listen" is reported whole, not as "-l".
    const def = isShort
      ? FLAGS.find((f) => f.kind === 'switch' && `-${f.short}` === token.rawName)
      : BY_NAME.get(token.name);
    if (def === undefined) {
      firstProblem ??= unknownFlag(isShort ? raw : token.rawName);
      continue;
    }
    if (def.kind === 'switch') {
      // --help and --version win over every problem, so "--help=x" is not worth an error.
      if (def.name === 'help') wantHelp = true;
      else wantVersion = true;
      continue;
    }
    const value = token.value;
    if (value === undefined) {
      firstProblem ??= `${def.flag}: missing value`;
    } else if (!token.inlineValue && value.startsWith('-')) {
      // "--listen --nodes x": parseArgs took the next flag as the value.
      const sw = SWITCH_SPELLINGS.get(value);
      if (sw === 'help') wantHelp = true;
      if (sw === 'version') wantVersion = true;
      firstProblem ??= `${def.flag}: missing value (found ${shown(value)}; write ${def.flag}=<value> if it really starts with "-")`;
    } else if (given.has(def)) {
      firstProblem ??= `${def.flag}: given more than once`;
    } else {
      given.set(def, value);
    }
  }

  if (wantHelp) return { kind: 'help', text: helpText() };
  if (wantVersion) return { kind: 'version', text: `fnlb ${VERSION}` };
  if (firstProblem !== undefined) throw new ConfigError(firstProblem);

  const options = structuredClone(DEFAULT_OPTIONS) as BalancerOptions;
  for (const f of VALUE_FLAGS) {
    let value = given.get(f);
    let source = f.flag;
    if (value === undefined) {
      value = env[f.env];
      source = f.env;
    }
    if (value === undefined) continue;
    try {
      f.apply(options, value);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${source}: ${err.message}`);
      throw err;
    }
  }
  if (options.nodes.length === 0) {
    throw new ConfigError('--nodes: no nodes given (set --nodes or FNLB_NODES, e.g. --nodes 10.0.0.1:8080,10.0.0.2:8080)');
  }
  return { kind: 'run', options };
}
