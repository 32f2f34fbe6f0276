import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { nearest } from '../config/nearest.js';
import { DEFAULT_OPTIONS, type BalancerOptions } from '../config/options.js';
import { naming, OPTIONS, type OptionSpec } from '../config/table.js';
import { checkAdminExposure, checkMembershipSources } from '../config/resolve.js';

/** What the command line asks for. */
export type CommandLine = { kind: 'run'; options: BalancerOptions } | { kind: 'help'; text: string } | { kind: 'version'; text: string };

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

/** A flag that takes a value; also settable by its environment variable: an entry of the option table. */
export type ValueFlag = OptionSpec;

/** --help / --version: no value, no environment variable. */
export interface SwitchFlag {
  readonly kind: 'switch';
  readonly name: 'help' | 'version';
  readonly flag: string;
  readonly short: string;
  readonly description: string;
}

export type FlagDefinition = ValueFlag | SwitchFlag;

/** Every flag, in help order: the options of src/config, then --help and --version. */
export const FLAGS: readonly FlagDefinition[] = Object.freeze([
  ...OPTIONS,
  { kind: 'switch', name: 'help', flag: '--help', short: 'h', description: 'Show this help and exit.' },
  { kind: 'switch', name: 'version', flag: '--version', short: 'v', description: 'Show the version and exit.' },
] satisfies FlagDefinition[]);

const BY_NAME: ReadonlyMap<string, FlagDefinition> = new Map(FLAGS.map((f) => [f.name, f]));

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

function unknownFlag(raw: string): string {
  const name = raw.replace(/^-+/, '').split('=')[0]!.toLowerCase();
  const best = nearest(
    name,
    FLAGS.map((f) => f.name),
  );
  return `unknown flag ${shown(raw)}${best === undefined ? '' : ` (did you mean --${best}?)`}`;
}

const SWITCH_SPELLINGS: ReadonlyMap<string, 'help' | 'version'> = new Map(
  FLAGS.flatMap((f) =>
    f.kind === 'switch'
      ? ([
          [f.flag, f.name],
          [`-${f.short}`, f.name],
        ] as const)
      : [],
  ),
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
    const def = isShort ? FLAGS.find((f) => f.kind === 'switch' && `-${f.short}` === token.rawName) : BY_NAME.get(token.name);
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
  for (const f of OPTIONS) {
    let value = given.get(f);
    let source = f.flag;
    if (value === undefined) {
      value = env[f.env];
      source = f.env;
    }
    if (value === undefined) continue;
    const text = value;
    naming(source, () => {
      const parsed = f.parse(text);
      f.check(parsed);
      f.set(options, parsed);
    });
  }
  const mgmt = [...given.keys()].some((f) => f.name === 'mgmt-port') || env['FNLB_MGMT_PORT'] !== undefined;
  const adminListen = [...given.keys()].some((f) => f.name === 'admin-listen') || env['FNLB_ADMIN_LISTEN'] !== undefined;
  if (mgmt && adminListen) throw new ConfigError('--mgmt-port: give either --mgmt-port or --admin-listen, not both');
  checkAdminExposure(options);
  checkMembershipSources(options);
  return { kind: 'run', options };
}
