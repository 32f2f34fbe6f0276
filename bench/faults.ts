/**
 * Fault matrix, long form: every scenario of harness/scenarios/fault-matrix.ts, each on fresh processes, under
 * more load and for longer than in `npm test`; prints a markdown table and writes it with the full JSON
 * to DIR/faults-<date>.{md,json}.
 *
 *   node dist/bench/faults.js [--scenarios kill,503] [--backends 5] [--concurrency 8] [--functions 1000]
 *                             [--warmup 3s] [--hold 10s] [--recover 5s] [--out DIR] [--short]
 *
 * --scenarios keeps the scenarios whose name contains one of the words; --short uses the settings of the
 * test (4 backends, 6 clients, 2.5 s faults). Exit 0 when every scenario ran (failures are data, not
 * errors: read the table), 1 when one could not be run, 2 on bad arguments.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config/duration.js';
import {
  SCENARIOS,
  SHORT_SETTINGS,
  TABLE_HEADER,
  describeFailures,
  fnlbArgs,
  runScenario,
  tableRow,
  type MatrixSettings,
  type ScenarioResult,
} from '../harness/scenarios/fault-matrix.js';
import { cleanup } from '../harness/processes.js';

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const USAGE =
  'usage: node dist/bench/faults.js [--scenarios a,b] [--backends N] [--concurrency N] [--functions N] ' +
  '[--warmup D] [--hold D] [--recover D] [--out DIR] [--short]';

function fail(msg: string): never {
  process.stderr.write(`faults: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function settingsFrom(argv: string[]): { settings: MatrixSettings; words: string[]; out: string } {
  let v: Record<string, string | boolean | undefined>;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      options: {
        scenarios: { type: 'string' },
        backends: { type: 'string' },
        concurrency: { type: 'string' },
        functions: { type: 'string' },
        warmup: { type: 'string' },
        hold: { type: 'string' },
        recover: { type: 'string' },
        out: { type: 'string' },
        short: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const long: MatrixSettings = {
    ...SHORT_SETTINGS,
    backends: 5,
    concurrency: 8,
    functions: 1000,
    warmupMs: 3000,
    holdMs: 10_000,
    recoverMs: 5000,
  };
  const s: MatrixSettings = v.short ? { ...SHORT_SETTINGS } : long;
  const int = (name: string, min: number, max: number): number | undefined => {
    const raw = v[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const dur = (name: string): number | undefined => {
    const raw = v[name];
    if (raw === undefined) return undefined;
    try {
      return parseDuration(String(raw));
    } catch (err) {
      fail(`--${name}: ${(err as Error).message}`);
    }
  };
  s.backends = int('backends', 3, 8) ?? s.backends;
  s.concurrency = int('concurrency', 1, 16) ?? s.concurrency;
  s.functions = int('functions', 10, 100_000) ?? s.functions;
  s.warmupMs = dur('warmup') ?? s.warmupMs;
  s.holdMs = dur('hold') ?? s.holdMs;
  s.recoverMs = dur('recover') ?? s.recoverMs;
  const words = v.scenarios === undefined ? [] : String(v.scenarios).split(',').filter(Boolean);
  return { settings: s, words, out: v.out === undefined ? DEFAULT_OUT : String(v.out) };
}

async function main(): Promise<number> {
  const { settings, words, out } = settingsFrom(process.argv.slice(2));
  const chosen = SCENARIOS.filter((sc) => words.length === 0 || words.some((w) => sc.name.includes(w)));
  if (chosen.length === 0) fail(`no scenario matches ${words.join(',')}; scenarios: ${SCENARIOS.map((sc) => sc.name).join('; ')}`);
  const setup =
    `${settings.backends} backends, ${settings.concurrency} clients + ${settings.openRate} req/s open loop (<= ${settings.openMax} outstanding), ${settings.functions} functions, GET 60 % / POST 40 % ` +
    `(1-64 KiB, 2 % of them 1 MiB), warm-up ${settings.warmupMs} ms, fault held ${settings.holdMs} ms, ` +
    `${settings.recoverMs} ms after recovery; slow = ${settings.slowMs} ms per response; fnlb ${fnlbArgs(settings).join(' ')}`;
  console.log(`faults: ${setup}`);
  const results: ScenarioResult[] = [];
  const details: string[] = [];
  let broken = 0;
  for (const sc of chosen) {
    try {
      const r = await runScenario(sc, settings);
      results.push(r);
      details.push(describeFailures(r, 12));
      console.log(tableRow(r));
      console.log(describeFailures(r, 12));
    } catch (err) {
      broken++;
      console.error(`faults: scenario ${sc.name} could not be run: ${(err as Error).stack ?? String(err)}`);
    }
  }
  const table = [TABLE_HEADER, ...results.map(tableRow)].join('\n');
  console.log(`\n${table}\n`);
  const stamp = new Date().toISOString().replace(/[:T]/g, '-').slice(0, 16);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, `faults-${stamp}.md`),
    `# Fault matrix ${stamp}\n\n${setup}\n\n${table}\n\n\`\`\`\n${details.join('\n')}\n\`\`\`\n`,
  );
  writeFileSync(join(out, `faults-${stamp}.json`), JSON.stringify({ settings, results }, null, 1));
  console.log(`faults: written to ${join(out, `faults-${stamp}.md`)} and .json`);
  return broken === 0 ? 0 : 1;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (err: unknown) => {
    console.error(`faults: ${(err as Error).stack ?? String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
