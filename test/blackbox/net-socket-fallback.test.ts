/**
 * The net.Socket path for client and node connections (src/engine/tcp-socket.ts), which fnlb takes
 * when its Node does not expose the stream and TCP bindings: FNLB_SOCKETS=net forces it. Whole
 * black-box suites run again against fnlb processes on that path: the engine review (limits,
 * timeouts, slow clients, half-close, pipelining), HTTP semantics, and bodies (streaming both ways,
 * backpressure from slow clients and slow nodes).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const SUITES = ['engine-review.test.js', 'http-semantics.test.js', 'bodies.test.js'];

/** Runs compiled test files in a child `node --test` with `env` added; its exit code and spec output. */
function runSuites(files: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const paths = files.map((f) => fileURLToPath(new URL(`./${f}`, import.meta.url)));
    // Without NODE_TEST_CONTEXT: node --test inside a test run would otherwise skip its files.
    const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...paths], {
      env: { ...outer, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/**
 * In a fresh process with `env`: whether accepted connections skip net.Socket (acceptRaw) and whether
 * a connection to an IP address does (connectTcp), as "true true".
 */
function rawSockets(env: NodeJS.ProcessEnv): Promise<string> {
  const module = new URL('../../src/engine/tcp-socket.js', import.meta.url).href;
  const script = [
    `import net from 'node:net'; const m = await import(${JSON.stringify(module)});`,
    `const s = m.connectTcp('127.0.0.1', 9, { onData() {}, onDrain() {}, onEnd() {}, onClose() {} });`,
    `console.log(m.acceptRaw(new net.Server(), () => {}), !(s instanceof m.NetTcpSocket)); process.exit(0);`,
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('close', () => resolve(out.trim()));
  });
}

describe('connections on net.Socket (FNLB_SOCKETS=net)', () => {
  it('raw handles are used by default on this Node, on both sides, and the variable turns them off', async () => {
    assert.equal(await rawSockets({ FNLB_SOCKETS: '' }), 'true true');
    assert.equal(await rawSockets({ FNLB_SOCKETS: 'net' }), 'false false');
  });

  it('the engine review, HTTP semantics and bodies suites pass on that path too', async () => {
    const { code, out } = await runSuites(SUITES, { FNLB_SOCKETS: 'net' }, 300_000);
    const passed = Number(/ℹ pass (\d+)/.exec(out)?.[1] ?? 0);
    const failed = Number(/ℹ fail (\d+)/.exec(out)?.[1] ?? -1);
    assert.equal(failed, 0, `failures on the net.Socket path:\n${out.slice(-6000)}`);
    assert.equal(code, 0, out.slice(-3000));
    assert.ok(passed >= 20, `only ${passed} tests ran:\n${out.slice(-3000)}`);
  });
});
