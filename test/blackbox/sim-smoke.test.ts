/**
 * The routing simulation (`npm run sim`), short: it runs through fnlb's routing code, prints a row per
 * strategy, repeats exactly for one seed, and shows the effects it exists to show (bounded loads
 * flatten the load; gradual return lowers the cold-start peak of a recovery).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runScript } from '../../harness/processes.js';

const SIM_ENTRY = fileURLToPath(new URL('../../bench/sim.js', import.meta.url));

/** Table rows by strategy name → numbers in column order. */
function rows(stdout: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of stdout.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 9 || !/^\d/.test(cells[2]!)) continue;
    out.set(
      cells[1]!,
      cells.slice(2, -1).map((c) => Number(c.replaceAll(',', ''))),
    );
  }
  return out;
}

it(
  'sim --seconds 30: five strategies, repeatable, bounded loads flatten the load, gradual return softens the recovery',
  { timeout: 60_000 },
  async () => {
    const a = await runScript(SIM_ENTRY, ['--seconds', '30'], 30_000);
    const b = await runScript(SIM_ENTRY, ['--seconds', '30'], 30_000);
    assert.equal(a.code, 0, a.output);
    assert.equal(a.stdout, b.stdout, 'the same seed gives the same table');
    const table = rows(a.stdout);
    assert.deepEqual(
      [...table.keys()],
      ['plain HRW', 'bounded loads 1.25', 'wait-aware 50ms:200ms', 'gradual return 10s', 'bounded 1.25 + gradual 10s'],
    );
    // Columns: calls, cold starts, cold after recovery, peak cold/s, calls back on the node, max load / mean, p99 queueing.
    const plain = table.get('plain HRW')!;
    const bounded = table.get('bounded loads 1.25')!;
    const gradual = table.get('gradual return 10s')!;
    assert.ok(bounded[5]! < plain[5]!, `bounded loads max/mean ${bounded[5]} not below plain ${plain[5]}`);
    assert.ok(gradual[3]! < plain[3]!, `gradual return peak cold starts ${gradual[3]} not below plain ${plain[3]}`);
    assert.ok(gradual[4]! < plain[4]!, `gradual return moved back ${gradual[4]} calls, plain ${plain[4]}`);
  },
);
