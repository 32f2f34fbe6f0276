/**
 * The malformed / smuggling request corpus through fnlb, nginx and HAProxy, side by side.
 *
 *   node dist/bench/corpus.js [--out DIR]
 *
 * Prints the totals (vectors tried; rejected / normalized / smuggled ... per proxy) and the vectors on
 * which the three differ; writes the whole table as DIR/corpus-<date>.md and .json (default
 * bench/results/). Exits 3 when nginx or HAProxy is not installed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  CORPUS_PROXIES,
  VERDICTS,
  differing,
  findPeers,
  markdown,
  runCorpus,
  startContestants,
  totals,
} from '../harness/scenarios/corpus-run.js';
import { runMain } from '../harness/processes.js';
import { machineInfo } from './lib/tools.js';

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const log = (s: string): void => void process.stderr.write(`corpus: ${s}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/corpus.js [--out DIR]\n');
    return 0;
  }
  const peers = findPeers();
  if (typeof peers === 'string') {
    log(`cannot run: ${peers}`);
    return 3;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fnlb-corpus-'));
  const date = new Date().toISOString();
  const t0 = performance.now();
  let rows;
  try {
    const setup = await startContestants(dir, peers);
    log(setup.contestants.map((c) => `${c.name} :${c.port} pid ${c.pid}`).join(', '));
    try {
      rows = await runCorpus(setup);
    } finally {
      await setup.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const t = totals(rows);
  const diff = differing(rows);
  const md = `# Request corpus: fnlb vs nginx vs HAProxy (${date})\n\n${markdown(rows)}`;
  const out = values.out ?? DEFAULT_OUT;
  mkdirSync(out, { recursive: true });
  const stem = join(out, `corpus-${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}`);
  writeFileSync(`${stem}.md`, md);
  writeFileSync(`${stem}.json`, `${JSON.stringify({ date, seconds, machine: machineInfo(peers), totals: t, rows }, null, 2)}\n`);

  const pad = (s: string | number, n: number): string => String(s).padStart(n);
  process.stdout.write(
    [
      `vectors tried: ${rows.length} (${seconds.toFixed(1)} s)`,
      `${'verdict'.padEnd(11)}${CORPUS_PROXIES.map((p) => pad(p, 9)).join('')}`,
      ...VERDICTS.map((v) => `${v.padEnd(11)}${CORPUS_PROXIES.map((p) => pad(t[p][v], 9)).join('')}`),
      '',
      `${diff.length} vectors where the verdicts differ:`,
      ...diff.map((r) => `  ${r.vector}: ${CORPUS_PROXIES.map((p) => `${p} ${r.cells[p].verdict} (${r.cells[p].status})`).join(', ')}`),
      '',
      `wrote ${stem}.md and ${stem}.json`,
      '',
    ].join('\n'),
  );
  return 0;
}

runMain(main, log);
