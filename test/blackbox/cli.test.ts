/**
 * The `fnlb` command, black-box: a real process (node dist/src/cli/main.js) started with flags and
 * environment variables, judged by its exit status, stdout, stderr and what it serves.
 * Loopback only; every process is killed in afterEach.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { FLAGS, type ValueFlag } from '../../src/cli/args.js';
import { functionKey, rankNodes } from '../../src/index.js';
import {
  DIST_DIR,
  FNLB_ENTRY,
  cleanup,
  nodesArg,
  startBackends,
  startFnlb,
  type FnlbProcess,
  type LogLine,
} from '../../harness/processes.js';
import { eventually, sleep, withTimeout } from '../../harness/wait.js';
import { RawConnection, httpRequest } from '../../harness/client/raw-client.js';

/* ------------------------------------------------------------------ helpers */

/** Removes every FNLB_* variable the test runner may have, so only what a test sets counts. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('FNLB_')) env[k] = undefined;
  // Tests run side by side: the admin listener takes any free port unless a test sets it.
  return { ...env, FNLB_ADMIN_LISTEN: '127.0.0.1:0', ...extra };
}

/** Fast health checks and quick connect failures, for tests. */
const FAST = ['--hc-interval', '100ms', '--hc-timeout', '200ms', '--connect-timeout', '500ms'];

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const spawned = new Set<ChildProcess>();

/** Runs fnlb to completion (stdio fully read); kills it and fails after timeoutMs. */
function runFnlb(args: string[], env: Record<string, string | undefined> = cleanEnv(), timeoutMs = 5000): Promise<RunResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const proc = spawn(process.execPath, [FNLB_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: merged });
  spawned.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<RunResult>((resolve) => {
    proc.once('close', (code, signal) => {
      spawned.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return withTimeout(done, timeoutMs, () => {
    proc.kill('SIGKILL');
    return `fnlb ${args.join(' ')} did not exit within ${timeoutMs} ms\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`;
  });
}

async function killSpawned(): Promise<void> {
  await Promise.all(
    [...spawned].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
  spawned.clear();
}

/** A stack trace line ("    at foo (file.js:1:2)") or a Node.js error dump. */
const STACK = /^\s+at\s|node:internal|Error:\s.*\n\s+at\s/m;

/** Asserts the usage-error contract: status 2, one "fnlb: ..." line on stderr with every pattern, empty stdout. */
function assertUsageError(r: RunResult, ...patterns: Array<string | RegExp>): void {
  const show = `\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
  assert.equal(r.code, 2, `exit status${show}`);
  assert.equal(r.stdout, '', `nothing on stdout${show}`);
  assert.match(r.stderr, /^fnlb: [^\n]+\n$/, `exactly one "fnlb: ..." line on stderr${show}`);
  assert.doesNotMatch(r.stderr, STACK, `no stack trace${show}`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(r.stderr.includes(p), `stderr should include ${JSON.stringify(p)}${show}`);
    else assert.match(r.stderr, p, show);
  }
}

/** Resolves when the process's stdio is closed (everything it wrote has been read). Call while it runs. */
function closedPromise(lb: FnlbProcess): Promise<void> {
  return new Promise((resolve) => {
    if (lb.proc.stdout === null || lb.proc.stdout.readableEnded) return resolve();
    lb.proc.once('close', () => resolve());
  });
}

/** SIGTERM, then wait until every output line has been read; returns the exit. */
async function stopAndDrain(lb: FnlbProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const closed = closedPromise(lb);
  const exit = await lb.stop('SIGTERM', 5000);
  await withTimeout(closed, 3000, () => 'fnlb stdio not closed after exit');
  return exit;
}

function requestLines(logs: LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'request');
}

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Tries to open a TCP connection; resolves with the error code ("ECONNREFUSED") or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function get200(port: number, path: string, headers: Record<string, string> = {}) {
  const r = await httpRequest(port, { path, headers, timeoutMs: 5000 });
  assert.equal(r.status, 200, `GET ${path}: ${r.text()}`);
  return r;
}

afterEach(async () => {
  await killSpawned();
  await cleanup();
});

/* ------------------------------------------------------------------ 1. bad input */

describe('fnlb: bad input exits 2 with one line on stderr', () => {
  // --listen 127.0.0.1:0 everywhere: should a case wrongly start, it does not take a real port.
  const L = ['--listen', '127.0.0.1:0'];

  test('unknown flag (with a suggestion)', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '--lisen', 'x']), 'unknown flag --lisen', '--listen');
  });

  test('unknown short flag', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '-x']), 'unknown flag -x');
  });

  test('flag without value at the end', async () => {
    assertUsageError(await runFnlb([...L, '--nodes']), '--nodes: missing value');
  });

  test('flag followed by another flag instead of its value', async () => {
    assertUsageError(await runFnlb(['--listen', '--nodes', '127.0.0.1:1']), '--listen: missing value');
  });

  test('unparsable duration: --hc-interval abc', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '--hc-interval', 'abc']), '--hc-interval', 'invalid duration "abc"');
  });

  test('duration without a unit: --shutdown-timeout 5', async () => {
    assertUsageError(
      await runFnlb([...L, '--nodes', '127.0.0.1:1', '--shutdown-timeout', '5']),
      '--shutdown-timeout',
      'invalid duration "5"',
    );
  });

  test('bad size: --max-replay-body 12XB', async () => {
    assertUsageError(
      await runFnlb([...L, '--nodes', '127.0.0.1:1', '--max-replay-body', '12XB']),
      '--max-replay-body',
      'invalid size "12XB"',
    );
  });

  test('bad count: --hc-healthy 0', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '--hc-healthy', '0']), '--hc-healthy', '"0"');
  });

  test('a node that is not host:port', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1,127.0.0.1']), '--nodes', 'invalid node "127.0.0.1"', 'port');
  });

  test('an https node', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', 'https://127.0.0.1:8443']), '--nodes', 'https');
  });

  test('duplicate nodes (same node written two ways)', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1,http://127.0.0.1:1/']), '--nodes', 'duplicate node 127.0.0.1:1');
  });

  test('no nodes: neither --nodes nor FNLB_NODES', async () => {
    assertUsageError(await runFnlb(L), '--nodes', 'FNLB_NODES', 'no nodes');
  });

  test('empty FNLB_NODES names the variable', async () => {
    assertUsageError(await runFnlb(L, cleanEnv({ FNLB_NODES: '' })), 'FNLB_NODES', 'no nodes');
  });

  test('bad environment variable: FNLB_HC_TIMEOUT=xyz names the variable', async () => {
    assertUsageError(
      await runFnlb([...L, '--nodes', '127.0.0.1:1'], cleanEnv({ FNLB_HC_TIMEOUT: 'xyz' })),
      'FNLB_HC_TIMEOUT:',
      'invalid duration "xyz"',
    );
  });

  test('bad listen address: --listen 127.0.0.1 (no port)', async () => {
    assertUsageError(await runFnlb(['--listen', '127.0.0.1', '--nodes', '127.0.0.1:1']), '--listen', 'invalid address "127.0.0.1"');
  });

  test('a flag given twice', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '--nodes', '127.0.0.1:2']), '--nodes: given more than once');
  });

  test('positional argument', async () => {
    assertUsageError(await runFnlb([...L, '--nodes', '127.0.0.1:1', '127.0.0.1:2']), 'unexpected argument "127.0.0.1:2"');
  });

  test('only the first problem is reported', async () => {
    const r = await runFnlb(['--bogus', '--hc-interval', 'abc', 'extra']);
    assertUsageError(r, 'unknown flag --bogus');
  });
});

/* ------------------------------------------------------------------ 2. help and version */

describe('fnlb: --help and --version', () => {
  const pkgVersion = (JSON.parse(readFileSync(join(DIST_DIR, '..', 'package.json'), 'utf8')) as { version: string }).version;

  test('--help exits 0 and lists every flag with its environment variable and default', async () => {
    const r = await runFnlb(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^fnlb \S+ /);
    assert.match(r.stdout, /Usage: fnlb /);
    const lines = r.stdout.split('\n');
    for (const f of FLAGS) {
      if (f.kind === 'switch') {
        assert.ok(
          lines.some((l) => l.includes(`-${f.short}, ${f.flag}`)),
          `help lists -${f.short}, ${f.flag}`,
        );
        continue;
      }
      const line = lines.find((l) => l.trimStart().startsWith(`${f.flag} `));
      assert.ok(line !== undefined, `help lists ${f.flag}`);
      assert.ok(line.includes(f.env), `${f.flag} line names ${f.env}: ${line}`);
      const dflt = f.defaultText === undefined ? 'required' : `default ${f.defaultText}`;
      assert.ok(line.includes(dflt), `${f.flag} line shows "${dflt}": ${line}`);
      assert.equal(f.env, `FNLB_${f.name.toUpperCase().replaceAll('-', '_')}`);
    }
  });

  test('-h is --help; --help wins over bad input', async () => {
    const short = await runFnlb(['-h']);
    assert.equal(short.code, 0);
    assert.match(short.stdout, /--shutdown-timeout/);
    const mixed = await runFnlb(['--bogus', 'positional', '--help'], cleanEnv({ FNLB_HC_TIMEOUT: 'xyz' }));
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.equal(mixed.stderr, '');
    assert.equal(mixed.stdout, short.stdout);
  });

  test('--version and -v print the package.json version', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await runFnlb([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, `fnlb ${pkgVersion}\n`);
    }
  });
});

/* ------------------------------------------------------------------ 3. environment variables */

describe('fnlb: environment variables', () => {
  test('every flag can be given by its FNLB_* variable alone', async () => {
    const backends = await startBackends(2);
    // A valid, non-default value for every value flag; the test fails if a flag is added without one.
    const values: Record<string, string> = {
      listen: '127.0.0.1:0',
      nodes: nodesArg(backends),
      'hash-key': 'header:X-Fn-Id',
      'balance-factor': '1.5',
      warmup: '10s',
      'wait-spill': '1s:4s',
      'hc-interval': '100ms',
      'hc-timeout': '200ms',
      'hc-path': '/version',
      'hc-healthy': '1',
      'hc-unhealthy': '3',
      'connect-timeout': '500ms',
      'response-timeout': '10s',
      'idle-timeout': '5s',
      'header-timeout': '2s',
      'upstream-idle-timeout': '1s',
      'shutdown-timeout': '2s',
      'max-replay-body': '64KiB',
      'max-header-size': '1KiB',
      'max-idle-per-node': '4',
      'retry-on-reset': 'on',
      'not-executed-header': 'X-Refused: yes',
      'retry-budget': '50%',
      'retry-budget-window': '5s',
      'retry-budget-min': '5',
      'log-level': 'info',
      'access-log': 'on',
      'request-id-header': 'X-Trace-Id',
      workers: '2',
      'max-connections': '1000',
      'admin-listen': '127.0.0.1:0',
      'admin-token': 'env-token-0123456789',
      'state-file': join(mkdtempSync(join(tmpdir(), 'fnlb-cli-')), 'state.json'),
      // Unused without a registry or DNS name, but parsed and checked.
      'registry-prefix': 'fnlb_cli_',
      'registry-resync': '10s',
      'dns-interval': '1s',
      'dns-servers': '127.0.0.1:53',
    };
    // --mgmt-port is another spelling of --admin-listen (the two together are refused); its own tests are in admin-api.
    // --registry and --nodes-dns keep the node list as --state-file does (one at a time): their variables
    // are tested in scale-out.test.ts.
    const elsewhere = new Set(['mgmt-port', 'registry', 'nodes-dns']);
    const valueFlags = FLAGS.filter((f): f is ValueFlag => f.kind === 'value' && !elsewhere.has(f.name));
    assert.deepEqual(Object.keys(values).sort(), valueFlags.map((f) => f.name).sort(), 'a test value for every flag');
    const env: Record<string, string> = {};
    for (const f of valueFlags) env[f.env] = values[f.name]!;

    const lb = await startFnlb([], cleanEnv(env));
    assert.ok(lb.port > 0);
    // FNLB_ADMIN_LISTEN, FNLB_ADMIN_TOKEN: the admin API is there and asks for the token; FNLB_STATE_FILE: written.
    assert.equal((await fetch(`${lb.adminUrl}/v1/nodes`)).status, 401);
    assert.equal((await fetch(`${lb.adminUrl}/v1/nodes`, { headers: { Authorization: 'Bearer env-token-0123456789' } })).status, 200);
    assert.match(readFileSync(values['state-file']!, 'utf8'), /"format": 1/);
    // FNLB_HASH_KEY=header:X-Fn-Id: the key is the header value.
    const a = await get200(lb.port, '/r/app/fn', { 'x-fn-id': 'tenant-7' });
    // FNLB_MAX_HEADER_SIZE=1KiB: a 2 KiB head is refused.
    const big = await httpRequest(lb.port, { path: '/r/app/fn', headers: { 'x-pad': 'p'.repeat(2048) }, timeoutMs: 5000 });
    assert.equal(big.status, 431);
    const exit = await stopAndDrain(lb);
    assert.equal(exit.code, 0);
    // FNLB_ACCESS_LOG=on (and FNLB_LOG_LEVEL=info): the request is logged with the header key.
    const lines = requestLines(lb.logs);
    assert.ok(lines.length >= 1, `access log lines: ${lb.stdout}`);
    assert.equal(lines[0]!.status, 200);
    assert.equal(lines[0]!.key, 'tenant-7');
    const owner =
      backends[
        rankNodes(
          'tenant-7',
          backends.map((b) => ({ id: b.id, weight: 1 })),
        )[0]!
      ]!;
    assert.equal(a.headers['x-node'], owner.name, 'routed by the header value');
    assert.equal(lines[0]!.node, owner.id);
  });

  test('a flag wins over its environment variable (even a bad one)', async () => {
    const backends = await startBackends(1);
    const env = cleanEnv({
      FNLB_LISTEN: '127.0.0.1:1', // would fail: privileged / closed port
      FNLB_NODES: 'https://bad:1',
      FNLB_HC_TIMEOUT: 'xyz',
      FNLB_MAX_HEADER_SIZE: '1KiB',
      FNLB_ACCESS_LOG: 'off',
    });
    const lb = await startFnlb(
      [
        '--listen',
        '127.0.0.1:0',
        '--nodes',
        nodesArg(backends),
        '--hc-timeout',
        '200ms',
        '--max-header-size',
        '64KiB',
        '--access-log',
        'on',
        '--hc-interval',
        '100ms',
      ],
      env,
    );
    // 2 KiB head allowed: the flag's 64KiB, not the variable's 1KiB.
    await get200(lb.port, '/r/app/fn', { 'x-pad': 'p'.repeat(2048) });
    const exit = await stopAndDrain(lb);
    assert.equal(exit.code, 0);
    assert.equal(requestLines(lb.logs).length, 1, 'access log on (flag), not off (variable)');
  });
});

/* ------------------------------------------------------------------ 4. port taken */

describe('fnlb: listen failure', () => {
  test('a port already taken: exit 1 with one clear line on stderr', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runFnlb(['--listen', `127.0.0.1:${port}`, '--nodes', '127.0.0.1:1', ...FAST]);
      const show = `\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
      assert.equal(r.code, 1, show);
      assert.match(r.stderr, /^fnlb: [^\n]+\n$/, `one line${show}`);
      assert.ok(r.stderr.includes(`cannot listen on 127.0.0.1:${port}`), show);
      assert.ok(r.stderr.includes('EADDRINUSE'), show);
      assert.doesNotMatch(r.stderr, STACK, show);
      // stdout carries the structured (JSON) fatal log line, nothing else unparsable.
      for (const line of r.stdout.split('\n').filter(Boolean)) JSON.parse(line);
      assert.ok(!r.stdout.includes('fnlb listening'), show);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('fnlb: a node that is fnlb itself', () => {
  test('--nodes naming the listening address (a request loop): exit 1 with one line naming the node', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await runFnlb(['--listen', `127.0.0.1:${port}`, '--nodes', `127.0.0.1:1,127.0.0.1:${port}`, ...FAST]);
    const show = `\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
    assert.equal(r.code, 1, show);
    assert.match(r.stderr, /^fnlb: [^\n]+\n$/, `one line${show}`);
    assert.ok(r.stderr.includes(`node 127.0.0.1:${port} is fnlb's own listening address`), show);
    assert.ok(!r.stdout.includes('fnlb listening'), show);
  });
});

describe('fnlb: listen failure (address not on this host)', () => {
  test('--listen 192.0.2.1:0 (TEST-NET, not local): exit 1 with one line naming the address', async () => {
    const r = await runFnlb(['--listen', '192.0.2.1:0', '--nodes', '127.0.0.1:1', ...FAST]);
    const show = `\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
    assert.equal(r.code, 1, show);
    assert.match(r.stderr, /^fnlb: cannot listen on 192\.0\.2\.1:0: E[A-Z]+\n$/, show);
  });
});

/* ------------------------------------------------------------------ 5. graceful shutdown */

describe('fnlb: graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal}: the request in flight completes, new connections are refused, idle keep-alive closed, exit 0`, async () => {
      const backends = await startBackends(1);
      const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...FAST]);
      const closed = closedPromise(lb);

      // An idle keep-alive client: one exchange done, connection left open.
      const idle = await RawConnection.open(lb.port);
      await idle.write('GET /r/app/warm HTTP/1.1\r\nHost: x\r\n\r\n');
      const [warm] = await idle.waitForResponses(1);
      assert.equal(warm!.status, 200);

      // A slow request, in flight when the signal arrives.
      const slow = await RawConnection.open(lb.port);
      await slow.write('GET /r/app/slow?delay=800 HTTP/1.1\r\nHost: x\r\n\r\n');
      await sleep(200);
      assert.equal(slow.responses.length, 0, 'still in flight');

      const t0 = performance.now();
      lb.proc.kill(signal);

      // The idle keep-alive connection is closed promptly.
      assert.ok(await idle.waitForClose(1000), 'idle keep-alive connection closed');
      const idleClosedMs = performance.now() - t0;
      // New connections are refused soon after the signal.
      await eventually(async () => assert.equal(await tryConnect(lb.port), 'ECONNREFUSED'), 1000, 20);
      const refusedMs = performance.now() - t0;
      assert.ok(idleClosedMs < 500, `idle closed after ${idleClosedMs.toFixed(0)} ms`);
      assert.ok(refusedMs < 500, `refused after ${refusedMs.toFixed(0)} ms`);

      // The slow request still completes with 200.
      const [res] = await slow.waitForResponses(1, 3000);
      assert.equal(res!.status, 200);
      assert.equal(res!.json<{ url: string }>().url, '/r/app/slow?delay=800');
      assert.ok(await slow.waitForClose(2000), 'the busy connection is closed after its exchange');

      const exit = await withTimeout(lb.exited, 2500, () => `fnlb did not exit after ${signal}${lb.stderr}`);
      const exitMs = performance.now() - t0;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(exitMs < 2000, `exit ${exitMs.toFixed(0)} ms after ${signal}`);
      await withTimeout(closed, 2000, () => 'stdio not closed');
      const shutting = lb.logs.find((l) => l.msg === 'shutting down');
      assert.equal(shutting?.signal, signal);
      assert.ok(lb.logs.some((l) => l.msg === 'stopped'));
      assert.equal(lb.stderr, '');
      idle.destroy();
      slow.destroy();
    });
  }

  test('SIGTERM: the last response on a connection that will be closed carries Connection: close', async () => {
    const backends = await startBackends(1);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...FAST]);
    const slow = await RawConnection.open(lb.port);
    await slow.write('GET /r/app/slow?delay=500 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(150);
    lb.proc.kill('SIGTERM');
    const [res] = await slow.waitForResponses(1, 3000);
    assert.equal(res!.status, 200);
    assert.ok(await slow.waitForClose(2000), 'fnlb closes the connection after the response');
    assert.equal(res!.headers['connection']?.toLowerCase(), 'close', `response head:\n${res!.rawHead}`);
    slow.destroy();
  });

  test('--shutdown-timeout 300ms cuts a 3 s request and exits 0 after ~300 ms', async () => {
    const backends = await startBackends(1);
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...FAST, '--shutdown-timeout', '300ms']);
    const slow = await RawConnection.open(lb.port);
    await slow.write('GET /r/app/slow?delay=3000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(150);
    const t0 = performance.now();
    lb.proc.kill('SIGTERM');
    const exit = await withTimeout(lb.exited, 2500, () => `fnlb did not exit${lb.stderr}`);
    const exitMs = performance.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(exitMs >= 250, `waited for the request (${exitMs.toFixed(0)} ms)`);
    assert.ok(exitMs < 1500, `exit ${exitMs.toFixed(0)} ms after SIGTERM, not after the 3 s request`);
    assert.ok(await slow.waitForClose(1000), 'client connection cut');
    assert.equal(slow.responses.length, 0, 'no response for the cut request');
    slow.destroy();
  });
});

/* ------------------------------------------------------------------ 6. logging */

describe('fnlb: access log and log level', () => {
  async function runRequests(accessLog: string | undefined, n: number): Promise<{ lines: LogLine[]; lb: FnlbProcess; ids: string[] }> {
    const backends = await startBackends(1);
    const args = ['--listen', '127.0.0.1:0', '--nodes', nodesArg(backends), ...FAST];
    if (accessLog !== undefined) args.push('--access-log', accessLog);
    const lb = await startFnlb(args, cleanEnv());
    for (let i = 1; i <= n; i++) await get200(lb.port, `/r/app/fn${i}`);
    const exit = await stopAndDrain(lb);
    assert.equal(exit.code, 0);
    return { lines: requestLines(lb.logs), lb, ids: [backends[0]!.id] };
  }

  test('--access-log off: no "request" lines', async () => {
    const { lines, lb } = await runRequests('off', 4);
    assert.equal(lines.length, 0);
    assert.ok(
      lb.logs.some((l) => l.msg === 'fnlb listening'),
      'other info lines still printed',
    );
  });

  test('default: one JSON line per request with method, key, node, status, attempts, ms', async () => {
    const { lines, ids } = await runRequests(undefined, 3);
    assert.equal(lines.length, 3);
    lines.forEach((l, i) => {
      assert.equal(l.level, 'info');
      assert.equal(l.method, 'GET');
      assert.equal(l.key, functionKey(`/r/app/fn${i + 1}`));
      assert.equal(l.node, ids[0]);
      assert.equal(l.status, 200);
      assert.equal(l.attempts, 1);
      assert.equal(typeof l.ms, 'number');
      assert.ok(l.ms >= 0 && l.ms < 5000, `ms ${l.ms}`);
      assert.equal(typeof l.time, 'string');
    });
  });

  test('--access-log 0.5: every 2nd request is logged', async () => {
    const { lines } = await runRequests('0.5', 7);
    assert.deepEqual(
      lines.map((l) => l.key),
      [2, 4, 6].map((i) => functionKey(`/r/app/fn${i}`)),
    );
  });

  test('--access-log 0.75 logs about 75% of requests', async () => {
    const { lines } = await runRequests('0.75', 8);
    assert.equal(lines.length, 6);
  });

  test('--log-level warn hides info lines but not the access log, which only --access-log governs; it still serves', async () => {
    const backends = await startBackends(1);
    for (const access of ['on', 'off']) {
      const port = await freePort();
      const lb = await startFnlb(
        ['--listen', `127.0.0.1:${port}`, '--nodes', nodesArg(backends), ...FAST, '--log-level', 'warn', '--access-log', access],
        cleanEnv(),
        { waitReady: false },
      );
      await eventually(() => get200(port, '/r/app/fn'), 3000, 50);
      await get200(port, '/r/app/fn2');
      const exit = await stopAndDrain(lb);
      assert.equal(exit.code, 0);
      // The listening line and the shutdown lines are "info": hidden. Access lines come with --access-log on only.
      const msgs = lb.logs.map((l) => l.msg);
      if (access === 'on') assert.ok(msgs.length >= 2 && msgs.every((m) => m === 'request'), lb.stdout);
      else assert.equal(lb.stdout, '', 'nothing at warn level happened');
      assert.equal(lb.stderr, '');
    }
  });

  test('--log-level warn still prints warnings (node down)', async () => {
    const backends = await startBackends(1);
    const port = await freePort();
    const lb = await startFnlb(
      ['--listen', `127.0.0.1:${port}`, '--nodes', `${nodesArg(backends)},127.0.0.1:1`, ...FAST, '--log-level', 'warn'],
      cleanEnv(),
      { waitReady: false },
    );
    const down = await lb.waitForLog((l) => l.msg === 'node down', 3000, '"node down" line');
    assert.equal(down.level, 'warn');
    assert.equal(down.node, '127.0.0.1:1');
    assert.ok(!lb.logs.some((l) => l.level === 'info'), 'no info lines');
  });
});

/* ------------------------------------------------------------------ 7. node forms */

describe('fnlb: node address forms', () => {
  test('http://host:port/base: requests (and health checks) go under the base path', async () => {
    const [b] = await startBackends(1);
    const node = `http://127.0.0.1:${b!.port}/base`;
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', node, ...FAST, '--hc-healthy', '1', '--hc-unhealthy', '1']);
    const r = await get200(lb.port, '/r/app/fn?x=1');
    assert.equal(r.json<{ url: string }>().url, '/base/r/app/fn?x=1');
    // Health checks on /base/version pass: the node stays up (a failed check would mark it down at once).
    await sleep(350);
    await get200(lb.port, '/r/app/fn');
    assert.ok(!lb.logs.some((l) => l.msg === 'node down'), 'node never marked down');
    const exit = await stopAndDrain(lb);
    assert.equal(exit.code, 0);
    const line = requestLines(lb.logs)[0];
    assert.equal(line?.node, `127.0.0.1:${b!.port}/base`);
  });

  test('a weighted node (=3) serves, and functions follow the weighted ranking', async () => {
    const backends = await startBackends(2);
    const nodes = `${backends[0]!.id}=3,${backends[1]!.id}`;
    const lb = await startFnlb(['--listen', '127.0.0.1:0', '--nodes', nodes, ...FAST, '--access-log', 'off']);
    const weighted = [
      { id: backends[0]!.id, weight: 3 },
      { id: backends[1]!.id, weight: 1 },
    ];
    const count = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const path = `/r/app/fn${i}`;
      const r = await get200(lb.port, path);
      const owner = backends[rankNodes(functionKey(path), weighted)[0]!]!.name;
      assert.equal(r.headers['x-node'], owner, path);
      count.set(owner, (count.get(owner) ?? 0) + 1);
    }
    assert.ok(
      (count.get(backends[0]!.name) ?? 0) > (count.get(backends[1]!.name) ?? 0),
      `weight 3 gets more: ${JSON.stringify([...count])}`,
    );
  });
});
