/**
 * The long differential fuzz run: fnlb's HTTP/1.1 parsers against llhttp (node:http's parser), requests
 * and responses in turn, until the time is up.
 *
 *   npm run fuzz -- --minutes 10 [--seed S] [--batch N] [--side req|res|both]
 *
 * Batch k uses seed S + k (S is printed), so a failure is reproduced with
 * `node dist/fuzz/run.js --side <side> --seed <batch seed> --runs <N>`. Each failure is printed with
 * fast-check's shrunk counterexample. Exit status 1 when anything failed.
 */
import fc from 'fast-check';

import { checkRequests, checkResponse, describe, type Verdict } from '../harness/differential/differential.js';
import { requestInput, responseInput, type GenResponse } from '../harness/differential/generators.js';
import { llhttpVersion } from '../harness/differential/llhttp.js';

interface Args {
  minutes: number;
  seed: number;
  batch: number;
  side: 'req' | 'res' | 'both';
  runs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { minutes: 1, seed: Date.now() % 0x7fffffff, batch: 2000, side: 'both', runs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number >= ${min}`);
      return n;
    };
    if (flag === '--minutes') args.minutes = num(0);
    else if (flag === '--seed') args.seed = Math.trunc(num(-0x80000000));
    else if (flag === '--batch') args.batch = Math.trunc(num(1));
    else if (flag === '--runs') args.runs = Math.trunc(num(1));
    else if (flag === '--side') {
      const v = value();
      if (v !== 'req' && v !== 'res' && v !== 'both') throw new Error('--side: req, res or both');
      args.side = v;
    } else if (flag === '-h' || flag === '--help') {
      console.log('npm run fuzz -- [--minutes N] [--seed S] [--batch N] [--side req|res|both] [--runs N (one batch of N, then stop)]');
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

const tally = new Map<string, number>();
const count = (key: string): void => {
  tally.set(key, (tally.get(key) ?? 0) + 1);
};

function record(side: string, v: Verdict): boolean {
  count(`${side} fnlb ${v.ours}`);
  for (const e of v.exceptions) count(`${side} exception ${e}`);
  return v.findings.length === 0;
}

const requestProperty = fc.property(requestInput, (text) => record('req', checkRequests(Buffer.from(text, 'latin1'))));
const responseProperty = fc.property(responseInput, (r: GenResponse) =>
  record('res', checkResponse(Buffer.from(r.text, 'latin1'), r.head)),
);

interface Failure {
  side: string;
  seed: number;
  path: string;
  text: string;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const deadline = Date.now() + args.minutes * 60_000;
  const sides: ('req' | 'res')[] = args.side === 'both' ? ['req', 'res'] : [args.side];
  console.log(
    `fnlb differential fuzz: llhttp ${llhttpVersion()}, node ${process.version}, seed ${args.seed}, ${args.runs > 0 ? `${args.runs} runs` : `${args.minutes} min`}, batches of ${args.runs || args.batch}`,
  );
  const failures: Failure[] = [];
  const seen = new Set<string>();
  let runs = 0;
  let batch = 0;
  const started = Date.now();
  do {
    const side = sides[batch % sides.length]!;
    const seed = args.seed + batch;
    const numRuns = args.runs || args.batch;
    const details =
      side === 'req'
        ? fc.check(requestProperty, { seed, numRuns, endOnFailure: false })
        : fc.check(responseProperty, { seed, numRuns, endOnFailure: false });
    runs += details.numRuns;
    if (details.failed && details.counterexample !== null) {
      const example = details.counterexample[0] as string | GenResponse;
      const text = typeof example === 'string' ? example : example.text;
      const buf = Buffer.from(text, 'latin1');
      const verdict = typeof example === 'string' ? checkRequests(buf) : checkResponse(buf, example.head);
      const key = verdict.findings.map((f) => `${f.kind}:${f.detail.replace(/"[^"]*"|\d+/g, '')}`).join('|');
      failures.push({ side, seed, path: details.counterexamplePath ?? '', text });
      if (!seen.has(key)) {
        seen.add(key);
        console.log(`\nFAILURE (${side}, batch seed ${seed}, path ${details.counterexamplePath}, shrunk ${details.numShrinks} times)`);
        if (typeof example !== 'string') console.log(`  request was HEAD: ${example.head}`);
        console.log(describe(buf, verdict));
        console.log(`  reproduce: node dist/fuzz/run.js --side ${side} --seed ${seed} --runs ${numRuns}`);
      }
    }
    batch++;
    const elapsed = (Date.now() - started) / 1000;
    if (batch % 10 === 0) console.log(`  ${runs} runs, ${batch} batches, ${failures.length} failing, ${elapsed.toFixed(0)} s`);
  } while (args.runs === 0 && Date.now() < deadline);

  const minutes = (Date.now() - started) / 60_000;
  console.log(
    `\n${runs} runs in ${minutes.toFixed(1)} min (${batch} batches, seeds ${args.seed}..${args.seed + batch - 1}), ${failures.length} failing batch(es), ${seen.size} distinct failure(s)`,
  );
  for (const [k, n] of [...tally.entries()].sort()) console.log(`  ${k}: ${n}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main();
