/** What the figures were measured on: core count, CPU model, kernel, tool versions. */
import { availableParallelism, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  wrk: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text.split('\n')[0] ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    nginx: firstLine('/usr/sbin/nginx', ['-v']).replace(/^nginx version:\s*(nginx\/)?/, ''),
    wrk: firstLine('wrk', ['-v']).replace(/\s+Copyright.*$/, ''),
  };
}
