/**
 * The net.Socket path for client connections (src/engine/client-socket.ts), which fnlb takes when its
 * Node does not expose the stream binding: FNLB_CLIENT_SOCKETS=net forces it. Two whole black-box
 * suites run again against fnlb processes on that path: the engine review (limits, timeouts, slow
 * clients, half-close, pipelining) and HTTP semantics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const SUITES = ['engine-review.test.js', 'http-semantics.test.js'];

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

/** What acceptRaw says in a fresh process with `env`: whether client connections skip net.Socket. */
function acceptsRaw(env: NodeJS.ProcessEnv): Promise<string> {
  const module = new URL('../../src/engine/client-socket.js', import.meta.url).href;
  const script = `import net from 'node:net'; const m = await import(${JSON.stringify(module)}); console.log(m.acceptRaw(new net.Server(), () => {}));`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('close', () => resolve(out.trim()));
  });
}

describe('client connections on net.Socket (FNLB_CLIENT_SOCKETS=net)', () => {
  it('raw handles are used by default on this Node, and the variable turns them off', async () => {
    assert.equal(await acceptsRaw({ FNLB_CLIENT_SOCKETS: '' }), 'true');
    assert.equal(await acceptsRaw({ FNLB_CLIENT_SOCKETS: 'net' }), 'false');
  });

  it('the engine review and HTTP semantics suites pass on that path too', async () => {
    const { code, out } = await runSuites(SUITES, { FNLB_CLIENT_SOCKETS: 'net' }, 240_000);
    const passed = Number(/ℹ pass (\d+)/.exec(out)?.[1] ?? 0);
    const failed = Number(/ℹ fail (\d+)/.exec(out)?.[1] ?? -1);
    assert.equal(failed, 0, `failures on the net.Socket path:\n${out.slice(-6000)}`);
    assert.equal(code, 0, out.slice(-3000));
    assert.ok(passed >= 20, `only ${passed} tests ran:\n${out.slice(-3000)}`);
  });
});
