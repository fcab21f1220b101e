/** CPU time (user + system) a process tree has used, from /proc/<pid>/stat, in seconds. */
import { readFileSync } from 'node:fs';
import { processTree } from './rss.js';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;

function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state(3) ppid(4) ... utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}
