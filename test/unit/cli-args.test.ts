import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_OPTIONS, type BalancerOptions } from '../../src/config/options.js';
import { formatDuration, parseDuration, MAX_DURATION_MS } from '../../src/config/duration.js';
import { formatSize, parseSize } from '../../src/config/size.js';
import { parseHostPort, parseNodeAddress, parseNodeList } from '../../src/config/parse-address.js';
import { FLAGS, VERSION, helpText, parseCommandLine, type ValueFlag } from '../../src/cli/args.js';
import { envName } from '../../src/config/table.js';

/** Asserts `fn` throws a ConfigError with a single-line message matching every pattern. */
function assertConfigError(fn: () => unknown, ...patterns: Array<string | RegExp>): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  const message = caught.message;
  assert.ok(!/[\r\n]/.test(message), `message must be one line: ${JSON.stringify(message)}`);
  assert.ok(message.length > 0);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(message.includes(p), `${JSON.stringify(message)} should include ${JSON.stringify(p)}`);
    else assert.match(message, p);
  }
  return message;
}

const VALUE_FLAGS = FLAGS.filter((f): f is ValueFlag => f.kind === 'value');
const NODES = ['--nodes', '10.0.0.1:8080'];

function run(argv: string[], env: Record<string, string | undefined> = {}): BalancerOptions {
  const result = parseCommandLine(argv, env);
  assert.equal(result.kind, 'run');
  return (result as { kind: 'run'; options: BalancerOptions }).options;
}

/** Flags that name the nodes themselves: given without --nodes. */
const ownNodes = (name: string): boolean => name === 'nodes' || name === 'nodes-dns';

describe('parseDuration', () => {
  const good: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['1ms', 1],
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['0.001s', 1],
    ['1.001s', 1001],
    ['1.0000s', 1000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1h30m', 5_400_000],
    ['1.5m', 90_000],
    ['0.5h', 1_800_000],
    ['90s', 90_000],
    ['01s', 1000],
    ['596h31m23s647ms', MAX_DURATION_MS],
  ];
  for (const [text, ms] of good) {
    it(`parses ${JSON.stringify(text)} as ${ms}ms`, () => assert.equal(parseDuration(text), ms));
  }

  const bad: Array<[string, string]> = [
    ['', 'use e.g.'],
    ['abc', 'use e.g. 500ms, 2s, 1m'],
    ['5', 'a unit is required'],
    ['1000', 'a unit is required'],
    ['1.5', 'a unit is required'],
    ['-1s', 'must not be negative'],
    ['-0', 'must not be negative'],
    ['+1s', 'use e.g.'],
    ['1.5ms', 'not a whole number of milliseconds'],
    ['0.0001s', 'not a whole number of milliseconds'],
    ['1s1m', 'largest to smallest'],
    ['1s1s', 'largest to smallest'],
    ['1ms1s', 'largest to smallest'],
    ['1d', 'use e.g.'],
    ['1us', 'use e.g.'],
    ['1S', 'use e.g.'],
    ['1M', 'use e.g.'],
    [' 1s', 'use e.g.'],
    ['1s ', 'use e.g.'],
    ['1 s', 'use e.g.'],
    ['.5s', 'use e.g.'],
    ['1.s', 'use e.g.'],
    ['s', 'use e.g.'],
    ['NaN', 'use e.g.'],
    ['Infinity', 'use e.g.'],
    ['1e3ms', 'use e.g.'],
    ['0x10s', 'use e.g.'],
    ['1s\n', 'use e.g.'],
    ['596h31m23s648ms', 'at most 596h31m23s647ms'],
    ['99999999999999999999h', 'at most'],
  ];
  for (const [text, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assertConfigError(() => parseDuration(text), `invalid duration ${JSON.stringify(text)}`, reason);
    });
  }

  it('formatDuration renders largest units first', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [1, '1ms'],
      [500, '500ms'],
      [1000, '1s'],
      [1500, '1s500ms'],
      [60_000, '1m'],
      [90_000, '1m30s'],
      [300_000, '5m'],
      [3_600_000, '1h'],
      [90_000_000, '25h'],
      [3_723_004, '1h2m3s4ms'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text);
  });

  it('formatDuration rejects negative, fractional and non-finite input', () => {
    for (const bad of [-1, 1.5, NaN, Infinity]) assert.throws(() => formatDuration(bad), RangeError);
  });

  it('round-trips every whole number of milliseconds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseSize', () => {
  const good: Array<[string, number]> = [
    ['0', 0],
    ['0B', 0],
    ['1', 1],
    ['1048576', 1_048_576],
    ['512B', 512],
    ['16KiB', 16_384],
    ['1MiB', 1_048_576],
    ['1GiB', 1_073_741_824],
    ['1TiB', 1_099_511_627_776],
    ['64k', 65_536],
    ['64K', 65_536],
    ['2m', 2_097_152],
    ['2M', 2_097_152],
    ['1g', 1_073_741_824],
    ['1G', 1_073_741_824],
    ['1kB', 1000],
    ['1KB', 1000],
    ['1MB', 1_000_000],
    ['1GB', 1_000_000_000],
    ['1TB', 1_000_000_000_000],
    ['1.5KiB', 1536],
    ['0.5k', 512],
    ['1.5MB', 1_500_000],
  ];
  for (const [text, bytes] of good) {
    it(`parses ${JSON.stringify(text)} as ${bytes} bytes`, () => assert.equal(parseSize(text), bytes));
  }

  const bad: Array<[string, string]> = [
    ['', 'use e.g.'],
    ['abc', 'use e.g.'],
    ['-1', 'must not be negative'],
    ['-1KiB', 'must not be negative'],
    ['1.5', 'not a whole number of bytes'],
    ['1.1B', 'not a whole number of bytes'],
    ['0.1k', 'not a whole number of bytes'],
    ['1mb', 'unknown unit "mb"'],
    ['1kib', 'unknown unit "kib"'],
    ['1Kb', 'unknown unit "Kb"'],
    ['1PiB', 'unknown unit'],
    ['1 MiB', 'use e.g.'],
    [' 1MiB', 'use e.g.'],
    ['MiB', 'use e.g.'],
    ['1e6', 'use e.g.'],
    ['NaN', 'use e.g.'],
    ['Infinity', 'use e.g.'],
    ['0x10', 'use e.g.'],
    ['1x', 'unknown unit "x"'],
    ['1,024', 'use e.g.'],
    ['9007199254740992', 'too large'],
    ['10000TB', 'too large'],
  ];
  for (const [text, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assertConfigError(() => parseSize(text), `invalid size ${JSON.stringify(text)}`, reason);
    });
  }

  it('formatSize prefers exact binary units, then decimal ones, then bytes', () => {
    const cases: Array<[number, string]> = [
      [0, '0B'],
      [1, '1B'],
      [512, '512B'],
      [1024, '1KiB'],
      [16_384, '16KiB'],
      [1_048_576, '1MiB'],
      [1_073_741_824, '1GiB'],
      [1536, '1536B'],
      [1000, '1kB'],
      [1_000_000, '1MB'],
      [1_500_000, '1500kB'],
    ];
    for (const [bytes, text] of cases) assert.equal(formatSize(bytes), text);
    for (const bad of [-1, 0.5, NaN]) assert.throws(() => formatSize(bad), RangeError);
  });

  it('round-trips whole byte counts (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.maxSafeNat(),
          fc.nat({ max: 4096 }).map((n) => n * 1024),
        ),
        (bytes) => {
          assert.equal(parseSize(formatSize(bytes)), bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('parseNodeAddress', () => {
  type Expect = { id: string; host: string; port: number; basePath?: string; weight?: number };
  const good: Array<[string, Expect]> = [
    ['10.0.0.1:8080', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080 }],
    ['http://10.0.0.1:8080', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080 }],
    ['http://10.0.0.1:8080/', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080 }],
    ['HTTP://10.0.0.1:8080', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080 }],
    ['fn-1.internal:8080', { id: 'fn-1.internal:8080', host: 'fn-1.internal', port: 8080 }],
    ['FN-1.Internal:8080', { id: 'fn-1.internal:8080', host: 'fn-1.internal', port: 8080 }],
    ['http:8080', { id: 'http:8080', host: 'http', port: 8080 }],
    ['localhost:1', { id: 'localhost:1', host: 'localhost', port: 1 }],
    ['h:65535', { id: 'h:65535', host: 'h', port: 65535 }],
    ['h:08080', { id: 'h:8080', host: 'h', port: 8080 }],
    ['http://h:8080/base', { id: 'h:8080/base', host: 'h', port: 8080, basePath: '/base' }],
    ['http://h:8080/base/', { id: 'h:8080/base', host: 'h', port: 8080, basePath: '/base' }],
    ['http://h:8080/a/b//', { id: 'h:8080/a/b', host: 'h', port: 8080, basePath: '/a/b' }],
    ['http://h:8080/r/fn%20x', { id: 'h:8080/r/fn%20x', host: 'h', port: 8080, basePath: '/r/fn%20x' }],
    ['h:8080/base', { id: 'h:8080/base', host: 'h', port: 8080, basePath: '/base' }],
    ['[::1]:8080', { id: '[::1]:8080', host: '::1', port: 8080 }],
    ['[0:0::1]:8080', { id: '[::1]:8080', host: '::1', port: 8080 }],
    ['[FE80::A]:80', { id: '[fe80::a]:80', host: 'fe80::a', port: 80 }],
    ['http://[::1]:8080/base', { id: '[::1]:8080/base', host: '::1', port: 8080, basePath: '/base' }],
    ['10.0.0.1:8080=2', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080, weight: 2 }],
    ['10.0.0.1:8080=0.5', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080, weight: 0.5 }],
    ['http://h:8080/base=3', { id: 'h:8080/base', host: 'h', port: 8080, basePath: '/base', weight: 3 }],
    ['http://h:8080/=3', { id: 'h:8080', host: 'h', port: 8080, weight: 3 }],
    ['[::1]:8080=10', { id: '[::1]:8080', host: '::1', port: 8080, weight: 10 }],
    ['  10.0.0.1:8080  ', { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080 }],
  ];
  for (const [text, expect] of good) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseNodeAddress(text), { basePath: '', weight: 1, ...expect });
    });
  }

  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['10.0.0.1', 'missing port'],
    ['http://10.0.0.1', 'missing port'],
    ['http://10.0.0.1/base', 'missing port'],
    ['fn-1', 'missing port'],
    ['10.0.0.1:', 'missing port'],
    ['[::1]', 'missing port'],
    ['[::1]:', 'missing port'],
    ['::1:8080', 'brackets'],
    ['h:0', 'invalid port "0"'],
    ['h:65536', 'invalid port'],
    ['h:99999999', 'invalid port'],
    ['h:-1', 'invalid port'],
    ['h:80a', 'invalid port'],
    ['h:8080:90', 'brackets'],
    [':8080', 'missing host'],
    ['https://h:8443', 'https nodes are not supported yet'],
    ['HTTPS://h:8443', 'https nodes are not supported yet'],
    ['ftp://h:21', 'unsupported scheme "ftp"'],
    ['http://', 'missing host and port'],
    ['http:/h:80', 'malformed scheme'],
    ['http:h:80', 'malformed scheme'],
    ['h:/x', 'missing port'],
    ['user@h:80', 'user info'],
    ['http://user:pw@h:80', 'user info'],
    ['h:80/?x=1', 'query'],
    ['h:80/a#b', 'fragment'],
    ['h 1:80', 'spaces'],
    ['h\t1:80', 'spaces'],
    ['hö:80', 'printable ASCII'],
    ['h_1:80', 'invalid host "h_1"'],
    ['-h:80', 'invalid host'],
    ['h-:80', 'invalid host'],
    ['a..b:80', 'invalid host'],
    ['.h:80', 'invalid host'],
    ['h.:80', 'invalid host'],
    [`${'a'.repeat(64)}:80`, 'invalid host'],
    ['999.0.0.1:80', 'invalid IPv4 address'],
    ['1.2.3:80', 'invalid IPv4 address'],
    ['010.0.0.1:80', 'invalid IPv4 address'],
    ['[::g]:80', 'invalid IPv6 address'],
    ['[10.0.0.1]:80', 'invalid IPv6 address'],
    ['[fe80::1%eth0]:80', 'zone ids'],
    ['[::1:80', 'unterminated ['],
    ['[::1]8080', 'after IPv6 address'],
    ['h:80=', 'invalid weight'],
    ['h:80=0', 'invalid weight "0"'],
    ['h:80=-1', 'invalid weight'],
    ['h:80=abc', 'invalid weight'],
    ['h:80=1e3', 'invalid weight'],
    ['h:80=Infinity', 'invalid weight'],
    ['h:80=1=2', 'more than one "="'],
    ['http://h:80/a=b=2', 'more than one "="'],
    ['http://h:80/a//b', 'empty segment'],
    ['http://h:80/a/../b', '".."'],
    ['http://h:80/./b', '"."'],
    ['http://h:80/a%zz', 'invalid base path'],
    ['http://h:80/a[b]', 'invalid base path'],
  ];
  for (const [text, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assertConfigError(() => parseNodeAddress(text), `invalid node ${JSON.stringify(text)}`, reason);
    });
  }
});

describe('parseNodeList', () => {
  it('parses a comma separated list in order, trimming spaces', () => {
    const nodes = parseNodeList(' 10.0.0.1:8080, http://10.0.0.2:8080/fn=2 ,[::1]:9000');
    assert.deepEqual(
      nodes.map((n) => [n.id, n.weight]),
      [
        ['10.0.0.1:8080', 1],
        ['10.0.0.2:8080/fn', 2],
        ['[::1]:9000', 1],
      ],
    );
  });

  it('parses a single node', () => {
    assert.equal(parseNodeList('h:1').length, 1);
  });

  it('treats differently based paths on one host:port as different nodes', () => {
    assert.equal(parseNodeList('h:1/a,h:1/b,h:1').length, 3);
  });

  const bad: Array<[string, string]> = [
    ['', 'no nodes given'],
    ['   ', 'no nodes given'],
    ['10.0.0.1:8080,,10.0.0.2:8080', 'empty item in node list'],
    ['10.0.0.1:8080,', 'empty item'],
    [',10.0.0.1:8080', 'empty item'],
    ['10.0.0.1:8080, ,10.0.0.2:8080', 'empty item'],
    ['10.0.0.1:8080,http://10.0.0.1:8080/', 'duplicate node 10.0.0.1:8080'],
    ['10.0.0.1:8080,10.0.0.1:8080=2', 'duplicate node 10.0.0.1:8080'],
    ['H:1,h:1', 'duplicate node h:1'],
    ['[::1]:1,[0::1]:1', 'duplicate node [::1]:1'],
    ['h:1/a,http://h:1/a/', 'duplicate node h:1/a'],
    ['h:1,https://h:2', 'https nodes are not supported yet'],
    ['h:1,h', 'invalid node "h" (missing port'],
  ];
  for (const [text, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assertConfigError(() => parseNodeList(text), reason);
    });
  }
  it('says exactly "duplicate node <id>" and "no nodes given"', () => {
    assert.equal(
      assertConfigError(() => parseNodeList('a:1,a:1')),
      'duplicate node a:1',
    );
    assert.equal(
      assertConfigError(() => parseNodeList('')),
      'no nodes given',
    );
  });
});

describe('parseHostPort', () => {
  it('parses host:port, IPv6 in brackets, port 0 when allowed', () => {
    assert.deepEqual(parseHostPort('0.0.0.0:8081', { allowPortZero: true }), { host: '0.0.0.0', port: 8081, id: '0.0.0.0:8081' });
    assert.deepEqual(parseHostPort('[::]:0', { allowPortZero: true }), { host: '::', port: 0, id: '[::]:0' });
    assert.deepEqual(parseHostPort('Localhost:80'), { host: 'localhost', port: 80, id: 'localhost:80' });
  });
  it('rejects port 0 unless allowed, schemes, paths and missing ports', () => {
    assertConfigError(() => parseHostPort('h:0'), 'invalid address "h:0"', 'invalid port');
    assertConfigError(() => parseHostPort('http://h:1'), 'without scheme or path');
    assertConfigError(() => parseHostPort('h:1/x'), 'without scheme or path');
    assertConfigError(() => parseHostPort('h'), 'missing port');
    assertConfigError(() => parseHostPort('8081'), 'missing port');
  });
});

describe('parseCommandLine', () => {
  it('applies DEFAULT_OPTIONS for everything but the nodes', () => {
    const options = run(NODES);
    const { nodes, ...rest } = options;
    const { nodes: _defaultNodes, ...defaults } = DEFAULT_OPTIONS;
    assert.deepEqual(rest, defaults);
    assert.deepEqual(nodes, [{ id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080, basePath: '', weight: 1 }]);
  });

  it('does not share or mutate DEFAULT_OPTIONS', () => {
    const options = run([...NODES, '--hash-key', 'header:X-A', '--access-log', 'off']);
    assert.deepEqual(DEFAULT_OPTIONS.hashKey, { kind: 'function' });
    assert.deepEqual(DEFAULT_OPTIONS.accessLog, { kind: 'on' });
    assert.deepEqual(DEFAULT_OPTIONS.nodes, []);
    options.nodes.push(options.nodes[0]!);
    assert.deepEqual(DEFAULT_OPTIONS.nodes, []);
  });

  /** Every value flag with one valid value and what it must produce. */
  const EVERY_FLAG: Array<[string, string, Partial<BalancerOptions>]> = [
    ['listen', '127.0.0.1:9000', { listenHost: '127.0.0.1', listenPort: 9000 }],
    [
      'nodes',
      'a:1,http://b:2/x=3',
      {
        nodes: [
          { id: 'a:1', host: 'a', port: 1, basePath: '', weight: 1 },
          { id: 'b:2/x', host: 'b', port: 2, basePath: '/x', weight: 3 },
        ],
      },
    ],
    ['hash-key', 'header:X-Fn-Id', { hashKey: { kind: 'header', name: 'x-fn-id' } }],
    ['balance-factor', '1.25', { balanceFactor: 1.25 }],
    ['warmup', '30s', { warmup: 30_000 }],
    ['wait-spill', '1s:5s', { waitSpill: { from: 1000, full: 5000 } }],
    ['hc-interval', '250ms', { hcInterval: 250 }],
    ['hc-timeout', '1.5s', { hcTimeout: 1500 }],
    ['hc-path', '/health', { hcPath: '/health' }],
    ['hc-healthy', '3', { hcHealthy: 3 }],
    ['hc-unhealthy', '5', { hcUnhealthy: 5 }],
    ['connect-timeout', '3s', { connectTimeout: 3000 }],
    ['response-timeout', '1h', { responseTimeout: 3_600_000 }],
    ['idle-timeout', '90s', { idleTimeout: 90_000 }],
    ['header-timeout', '5s', { headerTimeout: 5000 }],
    ['upstream-idle-timeout', '2s', { upstreamIdleTimeout: 2000 }],
    ['shutdown-timeout', '1m', { shutdownTimeout: 60_000 }],
    ['max-replay-body', '64KiB', { maxReplayBody: 65_536 }],
    ['max-header-size', '32k', { maxHeaderSize: 32_768 }],
    ['max-idle-per-node', '16', { maxIdlePerNode: 16 }],
    ['retry-on-reset', 'on', { retryOnReset: true }],
    ['not-executed-header', 'X-Fn-Refused: 1', { notExecutedHeader: { kind: 'header', name: 'X-Fn-Refused', value: '1' } }],
    ['retry-budget', '5%', { retryBudget: 5 }],
    ['retry-budget-window', '1m', { retryBudgetWindow: 60_000 }],
    ['retry-budget-min', '3', { retryBudgetMin: 3 }],
    ['workers', '3', { workers: 3 }],
    ['max-connections', '100', { maxConnections: 100 }],
    ['log-level', 'debug', { logLevel: 'debug' }],
    ['access-log', '0.25', { accessLog: { kind: 'sample', rate: 0.25 } }],
    ['request-id-header', 'X-Trace-Id', { requestIdHeader: 'X-Trace-Id' }],
    ['admin-listen', '127.0.0.1:9090', { adminListen: { host: '127.0.0.1', port: 9090 } }],
    ['mgmt-port', '9001', { adminListen: { host: '127.0.0.1', port: 9001 } }],
    ['admin-token', 'abcdefghijklmnop1234', { adminToken: 'abcdefghijklmnop1234' }],
    ['state-file', '/var/lib/fnlb/state.json', { stateFile: '/var/lib/fnlb/state.json' }],
    ['registry', 'postgres://fnlb@db:5432/fnlb', { registry: 'postgres://fnlb@db:5432/fnlb' }],
    ['registry-prefix', 'team_a_', { registryPrefix: 'team_a_' }],
    ['registry-resync', '1m', { registryResync: 60_000 }],
    ['nodes-dns', 'srv:_http._tcp.fn.default.svc', { nodesDns: 'srv:_http._tcp.fn.default.svc' }],
    ['dns-interval', '10s', { dnsInterval: 10_000 }],
    ['dns-servers', '10.96.0.10,[::1]:5353', { dnsServers: ['10.96.0.10', '[::1]:5353'] }],
  ];

  it('the table above covers every value flag', () => {
    assert.deepEqual(EVERY_FLAG.map(([name]) => name).sort(), VALUE_FLAGS.map((f) => f.name).sort());
  });

  for (const [name, value, expected] of EVERY_FLAG) {
    const withNodes = ownNodes(name) ? [] : NODES;
    it(`--${name} ${value}`, () => {
      const options = run([...withNodes, `--${name}`, value]);
      assert.deepEqual(options, {
        ...structuredClone(DEFAULT_OPTIONS),
        ...(ownNodes(name) ? {} : { nodes: options.nodes }),
        ...expected,
      });
    });
    it(`--${name}=${value}`, () => {
      assert.deepEqual(run([...withNodes, `--${name}=${value}`]), run([...withNodes, `--${name}`, value]));
    });
    it(`${envName(name)}=${value}`, () => {
      const env = { [envName(name)]: value, ...(ownNodes(name) ? {} : { FNLB_NODES: '10.0.0.1:8080' }) };
      assert.deepEqual(run([], env), run([...withNodes, `--${name}`, value]));
    });
  }

  it('a flag wins over its environment variable, for every flag', () => {
    for (const [name, value] of EVERY_FLAG) {
      const flag = VALUE_FLAGS.find((f) => f.name === name)!;
      const env: Record<string, string> = { ...(ownNodes(name) ? {} : { FNLB_NODES: '10.0.0.9:1' }), [flag.env]: 'garbage value' };
      // The garbage env value is never parsed because the flag wins.
      const fromFlag = run([...(ownNodes(name) ? [] : NODES), `--${name}`, value], env);
      const expected = run([...(ownNodes(name) ? [] : NODES), `--${name}`, value]);
      assert.deepEqual(fromFlag, expected, name);
    }
  });

  it('env variables fill in what the flags leave out', () => {
    const options = run(['--hc-interval', '5s'], { FNLB_NODES: 'a:1', FNLB_HC_TIMEOUT: '3s', FNLB_HC_INTERVAL: '9s' });
    assert.equal(options.hcInterval, 5000);
    assert.equal(options.hcTimeout, 3000);
    assert.equal(options.nodes[0]!.id, 'a:1');
  });

  it('ignores unrelated and undefined env variables', () => {
    const options = run(NODES, { PATH: '/bin', FNLB_HC_INTERVAL: undefined, FNLB_SOMETHING_ELSE: 'x' });
    assert.equal(options.hcInterval, DEFAULT_OPTIONS.hcInterval);
  });

  it('more value forms', () => {
    assert.deepEqual(run([...NODES, '--listen', '[::]:8081']).listenHost, '::');
    assert.deepEqual(run([...NODES, '--listen', '[::1]:0']).listenPort, 0);
    assert.deepEqual(run([...NODES, '--listen', 'localhost:8081']).listenHost, 'localhost');
    // The Go balancers' spelling: every interface.
    assert.deepEqual(run([...NODES, '--listen', ':8081']).listenHost, '0.0.0.0');
    assert.deepEqual(run([...NODES, '--listen', ':8081']).listenPort, 8081);
    assert.deepEqual(run([...NODES, '--hash-key', 'function']).hashKey, { kind: 'function' });
    assert.equal(run([...NODES, '--hc-path', '']).hcPath, '');
    assert.equal(run([...NODES, '--hc-path=']).hcPath, '');
    assert.equal(run(NODES, { FNLB_HC_PATH: '' }).hcPath, '');
    assert.equal(run([...NODES, '--hc-path', '/v1/health?deep=1']).hcPath, '/v1/health?deep=1');
    assert.equal(run([...NODES, '--max-replay-body', '0']).maxReplayBody, 0);
    assert.equal(run([...NODES, '--max-header-size', '1KiB']).maxHeaderSize, 1024);
    assert.equal(run([...NODES, '--max-idle-per-node', '0']).maxIdlePerNode, 0);
    assert.equal(run([...NODES, '--shutdown-timeout', '0']).shutdownTimeout, 0);
    assert.deepEqual(run([...NODES, '--access-log', 'on']).accessLog, { kind: 'on' });
    assert.deepEqual(run([...NODES, '--access-log', 'off']).accessLog, { kind: 'off' });
    assert.deepEqual(run([...NODES, '--access-log', '1']).accessLog, { kind: 'sample', rate: 1 });
    assert.deepEqual(run([...NODES, '--access-log', '0.001']).accessLog, { kind: 'sample', rate: 0.001 });
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const) {
      assert.equal(run([...NODES, '--log-level', level]).logLevel, level);
    }
    assert.equal(run(['--nodes=a:1,b:2']).nodes.length, 2);
  });

  it('--help / -h and --version / -v', () => {
    for (const argv of [
      ['--help'],
      ['-h'],
      [...NODES, '--help'],
      ['--bogus', '-h'],
      ['--hc-interval', 'abc', '-h'],
      ['--listen', '--help'],
    ]) {
      const result = parseCommandLine(argv, {});
      assert.equal(result.kind, 'help', JSON.stringify(argv));
    }
    assert.equal(parseCommandLine(['--help'], { FNLB_HC_INTERVAL: 'garbage' }).kind, 'help');
    for (const argv of [['--version'], ['-v'], [...NODES, '-v'], ['x', '--version']]) {
      const result = parseCommandLine(argv, {});
      assert.deepEqual(result, { kind: 'version', text: `fnlb ${VERSION}` });
    }
    assert.equal(parseCommandLine(['-v', '-h'], {}).kind, 'help');
    assert.equal(parseCommandLine(['-hv'], {}).kind, 'help');
    assert.equal(parseCommandLine(['--help=yes'], {}).kind, 'help');
  });

  it('VERSION comes from package.json', () => {
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.notEqual(VERSION, '0.0.0-unknown');
  });

  describe('help text', () => {
    const text = helpText();
    const result = parseCommandLine(['--help'], {});
    it('is what --help returns', () => assert.equal(result.kind === 'help' && result.text, text));
    it('has the usage line', () => assert.ok(text.includes('fnlb --listen <addr> --nodes <node1>,<node2>,...')));
    for (const f of FLAGS) {
      it(`lists ${f.flag}${f.kind === 'value' ? ` with ${f.env} and its default` : ''}`, () => {
        const start = f.kind === 'value' ? `  ${f.flag} ` : `  -${f.short}, ${f.flag}`;
        const line = text.split('\n').find((l) => l.startsWith(start));
        assert.ok(line !== undefined, `no line for ${f.flag}`);
        if (f.kind === 'value') {
          assert.ok(line.includes(f.env), line);
          assert.ok(line.includes(f.defaultText === undefined ? 'required' : `default ${f.defaultText}`), line);
        } else {
          assert.ok(line.includes(`-${f.short}, ${f.flag}`), line);
        }
        assert.ok(text.includes(f.description));
      });
    }
    it('shows defaults rendered from DEFAULT_OPTIONS, which parse back to them', () => {
      for (const f of VALUE_FLAGS) {
        // undefined: required; "none": off unless given (a token, a file): nothing to parse back.
        if (f.defaultText === undefined || f.defaultText === 'none') continue;
        const fromDefault = run([...(ownNodes(f.name) ? [] : NODES), `--${f.name}=${f.defaultText}`]);
        assert.deepEqual(fromDefault, run(NODES), f.name);
      }
      assert.ok(text.includes('FNLB_LISTEN, default 0.0.0.0:8081'));
      assert.ok(text.includes('FNLB_RESPONSE_TIMEOUT, default 5m'));
      assert.ok(text.includes('FNLB_MAX_REPLAY_BODY, default 1MiB'));
      assert.ok(text.includes('FNLB_MAX_HEADER_SIZE, default 16KiB'));
      assert.ok(text.includes('FNLB_NODES, required'));
    });
  });

  it('FLAGS: unique names, env names derived from names, -h and -v', () => {
    const names = FLAGS.map((f) => f.name);
    assert.equal(new Set(names).size, names.length);
    for (const f of VALUE_FLAGS) {
      assert.equal(f.flag, `--${f.name}`);
      assert.equal(f.env, `FNLB_${f.name.toUpperCase().replaceAll('-', '_')}`);
      assert.ok(!f.description.includes('\n'));
    }
    assert.deepEqual(
      FLAGS.filter((f) => f.kind === 'switch').map((f) => [f.flag, f.kind === 'switch' && f.short]),
      [
        ['--help', 'h'],
        ['--version', 'v'],
      ],
    );
  });

  describe('errors: one line, naming the flag or variable', () => {
    const cases: Array<[string, string[], Record<string, string>, Array<string | RegExp>]> = [
      ['unknown flag', [...NODES, '--foo'], {}, ['unknown flag --foo']],
      ['unknown flag with value', [...NODES, '--foo=1'], {}, [/^unknown flag --foo$/]],
      ['unknown short flag', [...NODES, '-x'], {}, ['unknown flag -x']],
      ['single-dash long flag', ['-nodes', 'a:1'], {}, ['unknown flag -nodes', 'did you mean --nodes?']],
      ['misspelt flag', [...NODES, '--hc-intervl', '1s'], {}, ['unknown flag --hc-intervl (did you mean --hc-interval?)']],
      ['wrong case', [...NODES, '--Listen', 'h:1'], {}, ['unknown flag --Listen', 'did you mean --listen?']],
      ['flag with a newline', [...NODES, '--a\nb'], {}, ['unknown flag "--a\\nb"']],
      ['missing value at the end', [...NODES, '--hc-interval'], {}, [/^--hc-interval: missing value$/]],
      ['missing value before a flag', ['--listen', ...NODES], {}, ['--listen: missing value', '--nodes']],
      ['positional argument', [...NODES, 'extra'], {}, ['unexpected argument "extra"']],
      ['positional after --', [...NODES, '--', '--listen'], {}, ['unexpected argument "--listen"']],
      ['flag twice', [...NODES, '--hc-interval', '1s', '--hc-interval', '2s'], {}, ['--hc-interval: given more than once']],
      ['no nodes', [], {}, ['--nodes: no nodes given', 'FNLB_NODES']],
      ['empty --nodes', ['--nodes='], {}, [/^--nodes: no nodes given$/]],
      ['empty FNLB_NODES', [], { FNLB_NODES: '' }, [/^FNLB_NODES: no nodes given$/]],
      ['bad node', ['--nodes', 'a:1,b'], {}, ['--nodes: invalid node "b" (missing port']],
      ['bad node from env', [], { FNLB_NODES: 'a:1,b' }, ['FNLB_NODES: invalid node "b"']],
      ['https node', ['--nodes', 'https://a:1'], {}, ['--nodes: invalid node "https://a:1" (https nodes are not supported yet)']],
      ['duplicate node', ['--nodes', '10.0.0.1:8080,http://10.0.0.1:8080/'], {}, [/^--nodes: duplicate node 10\.0\.0\.1:8080$/]],
      ['empty node item', ['--nodes', 'a:1,,b:2'], {}, ['--nodes: empty item in node list']],
      ['bad duration', [...NODES, '--hc-interval', 'abc'], {}, [/^--hc-interval: invalid duration "abc" \(use e\.g\. 500ms, 2s, 1m\)$/]],
      ['bad duration inline', [...NODES, '--hc-interval=abc'], {}, ['--hc-interval: invalid duration "abc"']],
      ['bad duration from env', NODES, { FNLB_HC_INTERVAL: 'abc' }, [/^FNLB_HC_INTERVAL: invalid duration "abc"/]],
      ['bare number duration', [...NODES, '--connect-timeout', '5'], {}, ['--connect-timeout: invalid duration "5"', 'unit']],
      ['zero interval', [...NODES, '--hc-interval', '0'], {}, ['--hc-interval: invalid duration "0" (must be greater than 0)']],
      [
        'bare number for another duration',
        [...NODES, '--connect-timeout', '3'],
        {},
        ['--connect-timeout: invalid duration "3" (a unit is required'],
      ],
      ['zero response timeout', [...NODES, '--response-timeout', '0s'], {}, ['--response-timeout:', 'greater than 0']],
      ['env value with a newline', NODES, { FNLB_IDLE_TIMEOUT: '1s\n2s' }, ['FNLB_IDLE_TIMEOUT: invalid duration "1s\\n2s"']],
      ['bad size', [...NODES, '--max-replay-body', 'lots'], {}, ['--max-replay-body: invalid size "lots"']],
      ['bad size from env', NODES, { FNLB_MAX_REPLAY_BODY: '1mb' }, ['FNLB_MAX_REPLAY_BODY: invalid size "1mb"']],
      [
        'header size too small',
        [...NODES, '--max-header-size', '512B'],
        {},
        ['--max-header-size: invalid size "512B" (must be at least 1KiB)'],
      ],
      ['bad on/off', [...NODES, '--retry-on-reset', 'yes'], {}, ['--retry-on-reset: invalid value "yes" (use on or off)']],
      ['bad count', [...NODES, '--hc-healthy', 'two'], {}, ['--hc-healthy: invalid number "two"']],
      ['fractional count', [...NODES, '--hc-healthy', '1.5'], {}, ['--hc-healthy: invalid number "1.5"']],
      ['zero count', [...NODES, '--hc-unhealthy', '0'], {}, ['--hc-unhealthy: invalid number "0" (must be at least 1)']],
      ['negative count', [...NODES, '--max-idle-per-node=-1'], {}, ['--max-idle-per-node: invalid number "-1"']],
      ['huge count', [...NODES, '--max-idle-per-node', '99999999999999999999'], {}, ['--max-idle-per-node: invalid number']],
      ['bad count from env', NODES, { FNLB_HC_UNHEALTHY: '' }, ['FNLB_HC_UNHEALTHY: invalid number ""']],
      ['bad listen', [...NODES, '--listen', '8081'], {}, ['--listen: invalid address "8081" (missing port']],
      ['bad listen port', [...NODES, '--listen', '0.0.0.0:70000'], {}, ['--listen: invalid address "0.0.0.0:70000"', 'invalid port']],
      ['bad listen from env', NODES, { FNLB_LISTEN: '::1:80' }, ['FNLB_LISTEN: invalid address "::1:80"', 'brackets']],
      ['bad hash key', [...NODES, '--hash-key', 'path'], {}, ['--hash-key: invalid hash key "path"']],
      ['bad header name', [...NODES, '--hash-key', 'header:X Fn'], {}, ['--hash-key: invalid header name "X Fn"']],
      ['empty header name', [...NODES, '--hash-key', 'header:'], {}, ['--hash-key: invalid header name ""']],
      ['header name with colon', [...NODES, '--hash-key', 'header:a:b'], {}, ['--hash-key: invalid header name "a:b"']],
      ['bad hc path', [...NODES, '--hc-path', 'version'], {}, ['--hc-path: invalid path "version"', 'must start with /']],
      ['hc path with space', [...NODES, '--hc-path', '/a b'], {}, ['--hc-path: invalid path "/a b"']],
      ['bad log level', [...NODES, '--log-level', 'verbose'], {}, ['--log-level: invalid log level "verbose"', 'trace, debug, info']],
      ['log level case', NODES, { FNLB_LOG_LEVEL: 'INFO' }, ['FNLB_LOG_LEVEL: invalid log level "INFO"']],
      ['access log zero', [...NODES, '--access-log', '0'], {}, ['--access-log: invalid access log mode "0"']],
      ['access log above one', [...NODES, '--access-log', '1.5'], {}, ['--access-log: invalid access log mode "1.5"']],
      ['access log word', [...NODES, '--access-log', 'yes'], {}, ['--access-log: invalid access log mode "yes"']],
      ['access log percent', [...NODES, '--access-log', '10%'], {}, ['--access-log: invalid access log mode "10%"']],
    ];
    for (const [title, argv, env, patterns] of cases) {
      it(title, () => {
        assertConfigError(() => parseCommandLine(argv, env), ...patterns);
      });
    }

    it('every value flag reports a bad value by flag and by variable', () => {
      for (const f of VALUE_FLAGS) {
        if (f.name === 'hc-path' || f.name === 'state-file') continue; // any "/..." or file name is fine; covered above
        const base = ownNodes(f.name) ? [] : NODES;
        assertConfigError(() => parseCommandLine([...base, `--${f.name}`, 'bogus value'], {}), new RegExp(`^--${f.name}: `));
        const env: Record<string, string> = { [f.env]: 'bogus value' };
        if (!ownNodes(f.name)) env['FNLB_NODES'] = 'a:1';
        assertConfigError(() => parseCommandLine([], env), new RegExp(`^${f.env}: `));
      }
    });

    it('reports the first problem on the command line', () => {
      assertConfigError(() => parseCommandLine(['--foo', '--bar'], {}), /^unknown flag --foo$/);
    });
  });
});
