/**
 * Black-box: a 12-second soak (`node dist/bench/soak.js --seconds 12 --fault-every 4s`) under load with
 * the three faults (kill -9 + restart, SIGTERM + restart, all restarted) exits 0 with its summary line, and
 * leaves none of the processes it started behind.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOAK_ENTRY = fileURLToPath(new URL('../../bench/soak.js', import.meta.url));

/** True if pid is a live fnlb or backend process (a zombie has an empty command line; a reused pid runs something else). */
function alive(pid: number): boolean {
  try {
    return /main\.js|backend\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

it('soak --seconds 12 --fault-every 4s: exit 0, summary printed, no process left', { timeout: 40_000 }, async () => {
  const proc = spawn(process.execPath, [SOAK_ENTRY, '--seconds', '12', '--fault-every', '4s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => proc.kill('SIGINT'), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const output = `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  assert.equal(code, 0, `soak exited ${code}${output}`);
  assert.match(stdout, /^SOAK PASS: \d+ s, \d+ requests .* 3 faults, .* 0 unexplained .* 0 double POSTs/m, `summary line${output}`);
  assert.match(stdout, /kill -9 \+ restart/, `kill -9 fault${output}`);
  assert.match(stdout, /SIGTERM \+ restart/, `SIGTERM fault${output}`);
  assert.match(stdout, /restart all/, `restart-all fault${output}`);
  assert.match(stdout, /RSS check skipped/, `RSS criterion skipped for a short run${output}`);
  const fnlbPid = Number(/fnlb pid (\d+)/.exec(stdout)?.[1]);
  assert.ok(fnlbPid > 0, `fnlb pid printed${output}`);
  const pids = (/^pids: ([\d ]+)$/m.exec(stdout)?.[1] ?? '').split(' ').filter(Boolean).map(Number);
  assert.ok(pids.includes(fnlbPid) && pids.length >= 1 + 4 + 2 + 4, `every started pid printed (${pids.join(' ')})${output}`);
  assert.deepEqual(pids.filter(alive), [], 'processes left behind');
});
