/** One wrk run (-t1 -c50, pinned to the load CPU), read back through the JSON line of the script's `done`. */
import { HOST, run } from '../../harness/processes.js';
import { LOAD_CPU } from './cluster.js';
import type { Tools } from './tools.js';

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  rps: number;
}

export async function runWrk(tools: Tools, port: number, script: string, durationS: number, seed: number): Promise<WrkResult> {
  const args = [
    '-c',
    LOAD_CPU,
    tools.wrk,
    '-t1',
    '-c50',
    `-d${durationS}s`,
    '--timeout',
    '5s',
    '-s',
    script,
    `http://${HOST}:${port}/`,
    '--',
    String(seed),
  ];
  const out = await run('wrk', tools.taskset, args, (durationS + 30) * 1000);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as Omit<WrkResult, 'rps'>;
  return { ...r, rps: r.requests / (r.durationUs / 1e6) };
}

export function wrkErrors(r: WrkResult): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}
