/**
 * Runs a reference client (psql, mariadb, clickhouse-client) once, timed from spawn to exit,
 * bounded in time, with a progress line while it runs: such a load gives no progress of its
 * own and can take a minute on a busy machine.
 */
import { closeSync, openSync } from 'node:fs';
import { run } from './proc.js';

export interface TimedCommand {
  cmd: string;
  args: string[];
  /** A file fed to the client's stdin (`clickhouse-client ... < file`). */
  stdinFile?: string;
  timeoutMs: number;
  log: (msg: string) => void;
  /** What the progress lines call it. */
  label: string;
}

/** The client's error lines (the mariadb client echoes the statement around them), else its last lines. */
function gist(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^-+$/.test(l));
  const errors = lines.filter((l) => /error|exception/i.test(l));
  return (errors.length ? errors : lines).slice(-3).join(' / ');
}

/** Seconds from spawn to exit; throws with the client's last stderr lines when it fails or times out. */
export async function runTimed(c: TimedCommand): Promise<number> {
  const stdin = c.stdinFile === undefined ? 'ignore' : openSync(c.stdinFile, 'r');
  const started = performance.now();
  const ticker = setInterval(
    () => c.log(`${c.label}: still running after ${((performance.now() - started) / 1000).toFixed(0)} s`),
    10_000,
  );
  try {
    const r = await run(c.cmd, c.args, c.timeoutMs, { stdio: [stdin, 'pipe', 'pipe'] });
    const seconds = (performance.now() - started) / 1000;
    if (r.timedOut)
      throw new Error(`${c.label}: killed after ${(c.timeoutMs / 1000).toFixed(0)} s (the bench's time limit)`);
    if (r.code !== 0) throw new Error(`${c.label}: ${c.cmd} exited with ${r.code}: ${gist(r.stderr || r.stdout)}`);
    // LOAD DATA LOCAL turns bad rows into warnings; a client that says anything on stderr is reported.
    if (r.stderr.trim()) c.log(`${c.label}: ${c.cmd} said: ${gist(r.stderr)}`);
    return seconds;
  } finally {
    clearInterval(ticker);
    if (typeof stdin === 'number') closeSync(stdin);
  }
}
