/**
 * External tools (nginx, HAProxy, wrk, taskset): found, installed with apt-get when missing and
 * allowed (root), and their versions for the report.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { which } from '../../harness/peers.js';

export interface Tools {
  nginx: string;
  haproxy: string;
  wrk: string;
  taskset: string;
}

/** Thrown when a tool is missing and cannot be installed; run.ts exits 3 so the smoke test can skip. */
export class ToolsMissing extends Error {}

const PACKAGES: Record<keyof Tools, string> = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk', taskset: 'util-linux' };

function find(): Partial<Tools> {
  const t: Partial<Tools> = {};
  for (const name of Object.keys(PACKAGES) as (keyof Tools)[]) t[name] = which(name);
  return t;
}

export function ensureTools(log: (s: string) => void): Tools {
  let t = find();
  let missing = (Object.keys(PACKAGES) as (keyof Tools)[]).filter((n) => !t[n]);
  if (missing.length === 0) return t as Tools;
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new ToolsMissing(`missing ${missing.join(', ')} and cannot install them (needs root and apt-get)`);
  }
  const pkgs = [...new Set(missing.map((n) => PACKAGES[n]))];
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', ...pkgs]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new ToolsMissing(`apt-get ${args[0]} failed (exit ${r.status})`);
  }
  t = find();
  missing = missing.filter((n) => !t[n]);
  if (missing.length > 0) throw new ToolsMissing(`still missing after apt-get: ${missing.join(', ')}`);
  return t as Tools;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  kernel: string;
  node: string;
  nginx?: string;
  haproxy?: string;
  wrk?: string;
}

/** The machine, and the versions of the tools given (all of them, or only some, e.g. the proxies). */
export function machineInfo(tools?: Partial<Tools>): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const m: Machine = {
    nproc: os.cpus().length, // not availableParallelism(): this process is pinned to one CPU
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(),
    node: process.version,
  };
  if (tools?.nginx) m.nginx = firstLine(tools.nginx, ['-v']).replace(/^nginx version: /, '');
  if (tools?.haproxy) m.haproxy = firstLine(tools.haproxy, ['-v']).replace(/ - https?:.*$/, '');
  if (tools?.wrk) m.wrk = firstLine(tools.wrk, ['-v']).replace(/ Copyright.*$/, '');
  return m;
}

/** Clock ticks per second, to turn /proc/PID/stat times into microseconds. */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
