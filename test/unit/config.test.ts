/** One option table: the command line and the library refuse a value with the same message and agree on good ones. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolveOptions, type BalancerInit } from '../../src/balancer.js';
import { parseCommandLine, type CommandLine } from '../../src/cli/args.js';
import { DEFAULT_OPTIONS, type BalancerOptions } from '../../src/config/options.js';
import { OPTIONS } from '../../src/config/table.js';
import { ConfigError } from '../../src/errors.js';

const NODE = '10.0.0.1:8080';

/** The ConfigError message of `fn`; fails if it returns or throws anything else. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('no ConfigError thrown');
}

function cli(name: string, text: string): () => CommandLine {
  // --nodes-dns names the nodes itself: never with --nodes.
  return () => parseCommandLine([...(name === 'nodes' || name === 'nodes-dns' ? [] : ['--nodes', NODE]), `--${name}=${text}`], {});
}

function library(init: Partial<BalancerInit>): () => BalancerOptions {
  return () => resolveOptions({ nodes: [NODE], ...init });
}

/** The same bad value, as flag text and as a library value. */
const BAD: Array<[flag: string, text: string, init: Partial<BalancerInit>]> = [
  ['listen', '0.0.0.0:70000', { listenPort: 70000 }],
  ['listen', 'a_b:1', { listenHost: 'a_b', listenPort: 1 }],
  ['nodes', '', { nodes: [] }],
  ['nodes', 'a:1,b', { nodes: ['a:1', 'b'] }],
  ['nodes', 'a:1,http://a:1/', { nodes: ['a:1', 'http://a:1/'] }],
  ['hash-key', 'header:X Fn', { hashKey: { kind: 'header', name: 'X Fn' } }],
  ['hash-key', 'header:', { hashKey: { kind: 'header', name: '' } }],
  ['balance-factor', '0.5', { balanceFactor: 0.5 }],
  ['balance-factor', '101', { balanceFactor: 101 }],
  ['warmup', '-1s', { warmup: -1000 }],
  ['wait-spill', '2s:1s', { waitSpill: { from: 2000, full: 1000 } }],
  ['hc-interval', '0', { hcInterval: 0 }],
  ['hc-interval', '-1s', { hcInterval: -1000 }],
  ['hc-timeout', '0', { hcTimeout: 0 }],
  ['hc-path', 'version', { hcPath: 'version' }],
  ['hc-path', '/a b', { hcPath: '/a b' }],
  ['hc-healthy', '0', { hcHealthy: 0 }],
  ['hc-healthy', '1.5', { hcHealthy: 1.5 }],
  ['hc-unhealthy', '-1', { hcUnhealthy: -1 }],
  ['connect-timeout', '0', { connectTimeout: 0 }],
  ['response-timeout', '0', { responseTimeout: 0 }],
  ['idle-timeout', '0', { idleTimeout: 0 }],
  ['header-timeout', '1.5ms', { headerTimeout: 1.5 }],
  ['upstream-idle-timeout', '0', { upstreamIdleTimeout: 0 }],
  ['shutdown-timeout', '596h31m23s648ms', { shutdownTimeout: 2 ** 31 }],
  ['shutdown-timeout', '-1m', { shutdownTimeout: -60_000 }],
  ['max-replay-body', '-1KiB', { maxReplayBody: -1024 }],
  ['max-replay-body', '1.5B', { maxReplayBody: 1.5 }],
  ['max-header-size', '512B', { maxHeaderSize: 512 }],
  ['max-header-size', '10B', { maxHeaderSize: 10 }],
  ['request-id-header', 'X Id', { requestIdHeader: 'X Id' }],
  ['request-id-header', 'Host', { requestIdHeader: 'Host' }],
  ['not-executed-header', 'X Fn:1', { notExecutedHeader: { kind: 'header', name: 'X Fn', value: '1' } }],
  ['not-executed-header', ':1', { notExecutedHeader: { kind: 'header', name: '', value: '1' } }],
  ['retry-budget', '1001%', { retryBudget: 1001 }],
  ['retry-budget-window', '0', { retryBudgetWindow: 0 }],
  ['retry-budget-min', '-1', { retryBudgetMin: -1 }],
  ['max-idle-per-node', '-1', { maxIdlePerNode: -1 }],
  ['max-connections', '-5', { maxConnections: -5 }],
  ['workers', '0', { workers: 0 }],
  ['workers', '300', { workers: 300 }],
  ['workers', '1.5', { workers: 1.5 }],
  ['log-level', 'verbose', { logLevel: 'verbose' as BalancerOptions['logLevel'] }],
  ['log-level', 'INFO', { logLevel: 'INFO' as BalancerOptions['logLevel'] }],
  ['access-log', '0', { accessLog: { kind: 'sample', rate: 0 } }],
  ['admin-listen', 'a_b:1', { adminListen: { host: 'a_b', port: 1 } }],
  ['admin-listen', '127.0.0.1:70000', { adminListen: { host: '127.0.0.1', port: 70000 } }],
  ['admin-token', 'short', { adminToken: 'short' }],
  ['admin-token', 'has a space in it, too long', { adminToken: 'has a space in it, too long' }],
  ['state-file', '', { stateFile: '' }],
  ['registry', 'mysql://db/x', { registry: 'mysql://db/x' }],
  ['registry', 'not a url', { registry: 'not a url' }],
  ['registry-prefix', 'Bad-Prefix', { registryPrefix: 'Bad-Prefix' }],
  ['registry-resync', '0', { registryResync: 0 }],
  ['nodes-dns', 'no-port.example', { nodesDns: 'no-port.example' }],
  ['nodes-dns', 'srv:plain.example', { nodesDns: 'srv:plain.example' }],
  ['dns-interval', '0', { dnsInterval: 0 }],
  ['dns-servers', 'dns.example', { dnsServers: ['dns.example'] }],
  ['dns-servers', '10.0.0.1:70000', { dnsServers: ['10.0.0.1:70000'] }],
  ['access-log', '1.5', { accessLog: { kind: 'sample', rate: 1.5 } }],
];

/** Options whose every typed value is allowed: the command line cannot spell a bad one. */
const NO_BAD_TYPED_VALUE = new Set(['retry-on-reset']);

/** Command-line spellings of another option's field (the library knows the field by its own option's name). */
const CLI_ALIASES = new Set(['mgmt-port']);

/** The same good value both ways. */
const GOOD: Array<[flag: string, text: string, init: Partial<BalancerInit>]> = [
  ['listen', '127.0.0.1:9000', { listenHost: '127.0.0.1', listenPort: 9000 }],
  ['listen', '[::1]:0', { listenHost: '::1', listenPort: 0 }],
  ['nodes', 'a:1,http://b:2/x=3', { nodes: ['a:1', 'http://b:2/x=3'] }],
  ['hash-key', 'header:X-Fn-Id', { hashKey: { kind: 'header', name: 'X-Fn-Id' } }],
  ['hash-key', 'function', { hashKey: { kind: 'function' } }],
  ['balance-factor', '1.25', { balanceFactor: 1.25 }],
  ['balance-factor', '0', { balanceFactor: 0 }],
  ['warmup', '30s', { warmup: 30_000 }],
  ['warmup', '0', { warmup: 0 }],
  ['wait-spill', 'off', { waitSpill: null }],
  ['wait-spill', '250ms:1s', { waitSpill: { from: 250, full: 1000 } }],
  ['hc-interval', '250ms', { hcInterval: 250 }],
  // The Go balancers' whole seconds.
  ['hc-interval', '3', { hcInterval: 3000 }],
  ['hc-timeout', '2', { hcTimeout: 2000 }],
  ['hc-timeout', '1.5s', { hcTimeout: 1500 }],
  ['hc-path', '', { hcPath: '' }],
  ['hc-path', '/health', { hcPath: '/health' }],
  ['hc-healthy', '3', { hcHealthy: 3 }],
  ['hc-unhealthy', '1', { hcUnhealthy: 1 }],
  ['connect-timeout', '3s', { connectTimeout: 3000 }],
  ['response-timeout', '1h', { responseTimeout: 3_600_000 }],
  ['idle-timeout', '90s', { idleTimeout: 90_000 }],
  ['header-timeout', '5s', { headerTimeout: 5000 }],
  ['upstream-idle-timeout', '2s', { upstreamIdleTimeout: 2000 }],
  ['shutdown-timeout', '0', { shutdownTimeout: 0 }],
  ['max-replay-body', '0', { maxReplayBody: 0 }],
  ['max-header-size', '1KiB', { maxHeaderSize: 1024 }],
  ['retry-on-reset', 'on', { retryOnReset: true }],
  ['not-executed-header', 'X-Refused:yes', { notExecutedHeader: { kind: 'header', name: 'X-Refused', value: 'yes' } }],
  ['not-executed-header', 'X-Refused', { notExecutedHeader: { kind: 'header', name: 'X-Refused' } }],
  ['not-executed-header', 'off', { notExecutedHeader: { kind: 'off' } }],
  ['request-id-header', 'X-Trace-Id', { requestIdHeader: 'X-Trace-Id' }],
  ['request-id-header', 'off', { requestIdHeader: null }],
  ['retry-budget', '50%', { retryBudget: 50 }],
  ['retry-budget', 'off', { retryBudget: 'off' }],
  ['retry-budget-window', '30s', { retryBudgetWindow: 30_000 }],
  ['retry-budget-min', '0', { retryBudgetMin: 0 }],
  ['max-idle-per-node', '0', { maxIdlePerNode: 0 }],
  ['max-connections', '100', { maxConnections: 100 }],
  ['workers', '1', { workers: 1 }],
  ['log-level', 'debug', { logLevel: 'debug' }],
  ['access-log', '0.25', { accessLog: { kind: 'sample', rate: 0.25 } }],
  ['access-log', 'off', { accessLog: { kind: 'off' } }],
  ['admin-listen', 'off', { adminListen: null }],
  ['admin-listen', '[::1]:9090', { adminListen: { host: '::1', port: 9090 } }],
  ['admin-token', 'abcdefghijklmnop1234', { adminToken: 'abcdefghijklmnop1234' }],
  ['state-file', '/var/lib/fnlb/state.json', { stateFile: '/var/lib/fnlb/state.json' }],
  ['registry', 'postgresql://u:secret@127.0.0.1:5432/test', { registry: 'postgresql://u:secret@127.0.0.1:5432/test' }],
  ['registry-prefix', 'fnlb_', { registryPrefix: 'fnlb_' }],
  ['registry-resync', '5s', { registryResync: 5000 }],
  ['nodes-dns', 'fn.default.svc.cluster.local:8080', { nodesDns: 'fn.default.svc.cluster.local:8080' }],
  ['dns-interval', '2s', { dnsInterval: 2000 }],
  ['dns-servers', '127.0.0.1:5353', { dnsServers: ['127.0.0.1:5353'] }],
];

describe('option table', () => {
  it('covers every BalancerOptions field exactly once', () => {
    const keys = OPTIONS.filter((o) => !CLI_ALIASES.has(o.name)).flatMap((o) => o.keys);
    assert.deepEqual([...keys].sort(), Object.keys(DEFAULT_OPTIONS).sort());
  });

  it('the cases below cover every option', () => {
    const names = OPTIONS.map((o) => o.name)
      .filter((n) => !CLI_ALIASES.has(n))
      .sort();
    assert.deepEqual([...new Set([...BAD.map(([n]) => n), ...NO_BAD_TYPED_VALUE])].sort(), names);
    assert.deepEqual([...new Set(GOOD.map(([n]) => n))].sort(), names);
  });

  it('the library with no options but nodes gets DEFAULT_OPTIONS', () => {
    assert.deepEqual(resolveOptions({ nodes: [NODE] }), { ...DEFAULT_OPTIONS, nodes: resolveOptions({ nodes: [NODE] }).nodes });
  });
});

describe('a bad value: the same ConfigError from the command line and the library', () => {
  for (const [name, text, init] of BAD) {
    it(`--${name}=${text} and ${JSON.stringify(init)}`, () => {
      const fromCli = configError(cli(name, text));
      assert.ok(fromCli.startsWith(`--${name}: `), fromCli);
      assert.equal(configError(library(init)), fromCli);
    });
  }
});

describe('a good value: the same options from the command line and the library', () => {
  for (const [name, text, init] of GOOD) {
    it(`--${name}=${text} and ${JSON.stringify(init)}`, () => {
      const result = cli(name, text)();
      assert.equal(result.kind, 'run');
      const fromLibrary = library(init)();
      // The library always takes a node list (with DNS, the current one); the command takes none with --nodes-dns.
      if (name === 'nodes-dns') fromLibrary.nodes = [];
      assert.deepEqual(fromLibrary, result.kind === 'run' && result.options);
    });
  }
});

describe('library-only refusals', () => {
  const cases: Array<[string, Record<string, unknown>, string | RegExp]> = [
    ['a misspelt field', { hcIntervall: 100 }, 'unknown option "hcIntervall" (did you mean hcInterval?)'],
    ['an unknown field', { colour: 'blue' }, 'unknown option "colour"'],
    ['workers above 1', { workers: 4 }, /^--workers: .*fnlb command .*--workers/],
    ['a duration as text', { hcInterval: '2s' }, '--hc-interval: invalid duration "2s" (must be a number of milliseconds)'],
    ['NaN', { connectTimeout: NaN }, '--connect-timeout: invalid duration NaN (not a whole number of milliseconds)'],
    ['Infinity', { idleTimeout: Infinity }, '--idle-timeout: invalid duration Infinity (not a whole number of milliseconds)'],
    ['a count as text', { hcHealthy: '2' }, '--hc-healthy: invalid number "2" (use a whole number, e.g. 2)'],
    ['a size as text', { maxReplayBody: '1MiB' }, '--max-replay-body: invalid size "1MiB" (must be a number of bytes)'],
    ['a non-boolean', { retryOnReset: 'on' }, /^--retry-on-reset: invalid value "on" \(use true or false/],
    ['a bad hash key', { hashKey: 'function' }, /^--hash-key: invalid hash key "function"/],
    ['a bad access log mode', { accessLog: 'on' }, /^--access-log: invalid access log mode "on"/],
    ['a port as text', { listenPort: '80' }, /^--listen: invalid address port "80"/],
    ['nodes not a list', { nodes: 'a:1' }, /^--nodes: invalid node list "a:1"/],
    ['a hand-made node without a port', { nodes: [{ id: 'a', host: 'a', basePath: '', weight: 1 }] }, /^--nodes: invalid node \{"id":"a"/],
    [
      'a hand-made node with weight 0',
      { nodes: [{ id: 'a:1', host: 'a', port: 1, basePath: '', weight: 0 }] },
      /^--nodes: invalid node "a:1" \(invalid weight 0;/,
    ],
  ];
  for (const [title, init, expected] of cases) {
    it(title, () => {
      const message = configError(library(init as Partial<BalancerInit>));
      if (typeof expected === 'string') assert.equal(message, expected);
      else assert.match(message, expected);
    });
  }

  it('takes logger and healthView, and undefined for any option (its default)', () => {
    assert.equal(library({ logger: undefined, healthView: undefined, hcInterval: undefined })().hcInterval, DEFAULT_OPTIONS.hcInterval);
  });

  it('normalizes like the command line: header names lowercase, nodes parsed', () => {
    const options = library({ hashKey: { kind: 'header', name: 'X-Fn-Id' }, nodes: ['HTTP://Fn-1:80/base/'] })();
    assert.deepEqual(options.hashKey, { kind: 'header', name: 'x-fn-id' });
    assert.deepEqual(options.nodes, [{ id: 'fn-1:80/base', host: 'fn-1', port: 80, basePath: '/base', weight: 1 }]);
  });
});

describe('resolved options object', () => {
  it('has a fixed shape (V8 fast properties), so the engine reads options per request without hash lookups', () => {
    // Checked in a child process: the V8 intrinsic needs --allow-natives-syntax.
    const resolve = new URL('../../src/balancer.js', import.meta.url).href;
    const args = new URL('../../src/cli/args.js', import.meta.url).href;
    const code = `
      const { resolveOptions } = await import(${JSON.stringify(resolve)});
      const { parseCommandLine } = await import(${JSON.stringify(args)});
      const lib = resolveOptions({ nodes: ['10.0.0.1:8080'] });
      const cli = parseCommandLine(['--nodes', '10.0.0.1:8080', '--retry-budget', '30'], {}).options;
      console.log(JSON.stringify([Object.keys(lib).length, %HasFastProperties(lib), %HasFastProperties(cli)]));
    `;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', code], { encoding: 'utf8' });
    const [count, libFast, cliFast] = JSON.parse(out) as [number, boolean, boolean];
    assert.ok(count > 12, `only ${count} options: the test no longer shows anything`);
    assert.equal(libFast, true, 'library options are in dictionary mode');
    assert.equal(cliFast, true, 'command-line options are in dictionary mode');
  });
});
