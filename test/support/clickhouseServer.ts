import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './freePort.js';

/**
 * A private ClickHouse server for one test file: `scripts/ensure-clickhouse.sh --exec`
 * installs Debian's packages when missing (18.16 on bookworm), writes a config and data dir in
 * a temp dir and execs the server on free ports; the test owns the process and stops it.
 * Users: `default` (no password) and `beacon` (password `beacon`).
 *
 * Resolves `{ skip }` only when the packages cannot be installed here (the script's exit 3),
 * with the reason to print; any other failure to start throws.
 */
export interface ClickHouseServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export async function startClickHouse(): Promise<ClickHouseServer | { skip: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-clickhouse-'));
  const [http, tcp] = [await freePort(), await freePort()];
  const child = spawn('sh', ['scripts/ensure-clickhouse.sh', '--exec', dir, String(http), String(tcp)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 600_000; // the first run installs the packages
  for (;;) {
    const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]);
    if (early !== undefined) {
      const log = errorLog(dir);
      rmSync(dir, { recursive: true, force: true });
      if (early === 3)
        return {
          skip: `ClickHouse tests skipped: clickhouse-server cannot be installed here (${stderr.trim().split('\n').pop()})`,
        };
      throw new Error(
        `scripts/ensure-clickhouse.sh exited with ${early} before the server answered:\n${stderr}\n${log}`,
      );
    }
    const ok = await fetch(`http://127.0.0.1:${http}/ping`).then(
      (r) => r.text(),
      () => '',
    );
    if (ok.trim() === 'Ok.') return { url: `http://127.0.0.1:${http}`, port: http, stop: () => stop(child, dir) };
    if (Date.now() > deadline) {
      await stop(child, dir);
      throw new Error(`ClickHouse did not answer /ping in time:\n${stderr}`);
    }
  }
}

function errorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'log', 'clickhouse-server.err.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}
