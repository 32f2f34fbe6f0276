/**
 * `--scenarios workers`: req/s of small GETs through `fnlb --workers N` for N = 1, 2, 4, each on N
 * CPUs of its own (1..N) with the backends and wrk on cpu0. A count that would need more CPUs than the
 * machine has is reported as skipped, not measured on shared cores: on a 2-CPU machine only N = 1 runs.
 */
import { cpus as cpuList } from 'node:os';
import { FNLB_ENTRY, HOST, freePorts, start, waitReady } from '../../harness/processes.js';
import { runWrk } from './wrk.js';
import type { Tools } from './tools.js';

export const WORKER_COUNTS = [1, 2, 4] as const;

export interface WorkersResult {
  readonly workers: number;
  /** null when skipped. */
  readonly rps: number | null;
  readonly errors: number;
  readonly skipped?: string;
}

/** One pass over WORKER_COUNTS against the backends `nodes`, with the get-small wrk `script`. */
export async function runWorkersScan(
  tools: Tools,
  nodes: string,
  script: string,
  durationS: number,
  seed: number,
): Promise<WorkersResult[]> {
  // All CPUs, not availableParallelism(): this process is pinned to cpu0, which that would count alone.
  const cpus = cpuList().length;
  const out: WorkersResult[] = [];
  for (const n of WORKER_COUNTS) {
    // cpu0 carries the backends and the load generator; the workers need n more.
    if (n + 1 > cpus) {
      out.push({ workers: n, rps: null, errors: 0, skipped: `needs ${n + 1} CPUs, this machine has ${cpus}` });
      continue;
    }
    const [port] = await freePorts(1);
    const cpuSet = n === 1 ? '1' : `1-${n}`;
    const fnlb = start(`fnlb-workers-${n}`, tools.taskset, [
      '-c',
      cpuSet,
      FNLB_ENTRY,
      '--listen',
      `${HOST}:${port}`,
      '--nodes',
      nodes,
      '--workers',
      String(n),
      '--access-log',
      'off',
      '--hc-path',
      '/version',
      '--admin-listen',
      `${HOST}:0`,
    ]);
    try {
      await waitReady(fnlb, port!);
      const r = await runWrk(tools, port!, script, durationS, seed);
      const e = r.errors;
      out.push({ workers: n, rps: r.rps, errors: e.connect + e.read + e.write + e.status + e.timeout });
    } finally {
      fnlb.child.kill('SIGTERM');
      await fnlb.exited;
    }
  }
  return out;
}
