/**
 * Peak memory of a process tree: samples /proc every `intervalMs`, keeps each process's VmHWM
 * (the kernel's own peak RSS for that process) and the largest total VmRSS seen at one instant.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface RssPeak {
  /** Sum over the processes of each one's peak (an upper bound of the tree's peak). */
  sumHwmMiB: number;
  /** Largest sum of current RSS seen in one sample. */
  maxTotalRssMiB: number;
  /** Largest single process peak. */
  maxProcessHwmMiB: number;
  processes: number;
}

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pid and all its descendants, from the ppid field of /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** tsx's esbuild service runs as a child of a `node --import tsx` process; it is not Beacon. */
function isToolingProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'esbuild';
  } catch {
    return false;
  }
}

export class RssSampler {
  private readonly hwm = new Map<number, number>();
  private maxTotal = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootPid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    let total = 0;
    for (const pid of processTree(this.rootPid)) {
      if (isToolingProcess(pid)) continue;
      const h = statusKiB(pid, 'VmHWM');
      if (h > (this.hwm.get(pid) ?? 0)) this.hwm.set(pid, h);
      total += statusKiB(pid, 'VmRSS');
    }
    if (total > this.maxTotal) this.maxTotal = total;
  }

  /** Takes a last sample (call before stopping the process) and stops sampling. */
  finish(): RssPeak {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    const values = [...this.hwm.values()];
    const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
    return {
      sumHwmMiB: mib(values.reduce((a, b) => a + b, 0)),
      maxTotalRssMiB: mib(this.maxTotal),
      maxProcessHwmMiB: mib(Math.max(0, ...values)),
      processes: values.length,
    };
  }
}
