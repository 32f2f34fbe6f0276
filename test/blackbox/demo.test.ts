/**
 * Black-box: the demo (`node dist/scripts/demo.js --smoke`) starts three nodes and fnlb, makes 20
 * requests, prints a summary and exits 0.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { DEMO_ENTRY } from '../../harness/processes.js';

it('demo --smoke runs end to end and exits 0', { timeout: 90_000 }, async () => {
  const proc = spawn(process.execPath, [DEMO_ENTRY, '--smoke'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FNLB_DEMO_PORT: '0' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 75_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  clearTimeout(timer);
  const out = `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  assert.equal(signal, null, `demo killed by ${signal}${out}`);
  assert.equal(code, 0, `demo exited ${code}${out}`);
  assert.match(stdout, /fnlb listening on http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/, out);
  for (const n of ['node1', 'node2', 'node3']) assert.match(stdout, new RegExp(`${n}: http://127\\.0\\.0\\.1:\\d+ {2}pid \\d+`), out);
  assert.match(stdout, /smoke: 20 requests, 20 answered 200/, out);
  assert.match(stdout, /went to: node\d; last call: calls=\d+ hot=true/, out);
  assert.match(stdout, /^smoke ok$/m, out);
});
