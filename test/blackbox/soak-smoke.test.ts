/**
 * Black-box: a 12-second soak (`node dist/bench/soak.js --seconds 12 --fault-every 4s`) under load with
 * the three faults (kill -9 + restart, SIGTERM + restart, all restarted) exits 0 with its summary line, and
 * leaves none of the processes it started behind.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { commandLine, runScript } from '../../harness/processes.js';

const SOAK_ENTRY = fileURLToPath(new URL('../../bench/soak.js', import.meta.url));

/** True if pid is a live fnlb or backend process (a zombie has an empty command line; a reused pid runs something else). */
function alive(pid: number): boolean {
  return /main\.js|backend\.js/.test(commandLine(pid) ?? '');
}

it('soak --seconds 12 --fault-every 4s: exit 0, summary printed, no process left', { timeout: 40_000 }, async () => {
  const { code, stdout, output } = await runScript(SOAK_ENTRY, ['--seconds', '12', '--fault-every', '4s'], 30_000);
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
