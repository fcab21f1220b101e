/**
 * Child-process plumbing for the benchmark: spawn with a bounded lifetime, wait for exit,
 * stop politely then forcefully, free ports, wait for an HTTP endpoint. Every process started
 * here is remembered so that an interrupted run (Ctrl-C, a thrown error) leaves nothing behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';

const live = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  /** Everything the child wrote to stdout/stderr so far (last 256 KiB of each). */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const KEEP = 256 * 1024;

export function start(cmd: string, args: string[], opts: SpawnOptions = {}): Started {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-KEEP);
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-KEEP);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      err += `\n[spawn error] ${e.message}`;
      live.delete(child);
      resolve({ code: -1, signal: null });
    });
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs a command to completion, killing it if it outlives `timeoutMs`. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  opts: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const p = start(cmd, args, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    p.child.kill('SIGKILL');
  }, timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr(), timedOut };
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stop(
  p: Started,
  graceMs = 10_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { ...(await p.exited), forced: false };
  p.child.kill(signal);
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    p.child.kill('SIGKILL');
  }, graceMs);
  const res = await p.exited;
  clearTimeout(timer);
  return { ...res, forced };
}

export function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

let hooked = false;
/** Make sure children die with us on Ctrl-C, SIGTERM or an uncaught error. */
export function installCleanupHandlers(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping children`);
      killAll();
      process.exit(130);
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One GET; resolves with status and body, or rejects on connection errors / after `timeoutMs`. */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `url` until it answers `status`, the process exits, or `timeoutMs` passes.
 * Throws with the process's stderr tail so a failed start explains itself.
 */
export async function waitForHttp(
  url: string,
  p: Started,
  timeoutMs: number,
  what: string,
  status = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(
        `${what} exited (code ${p.child.exitCode ?? p.child.signalCode}) before ${url} answered ${status}:\n${tail(p.stderr() || p.stdout())}`,
      );
    }
    try {
      const res = await httpGet(url, 1000);
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(
    `${what} did not answer ${status} on ${url} within ${timeoutMs} ms (last: ${last}):\n${tail(p.stderr() || p.stdout())}`,
  );
}

export function tail(s: string, lines = 25): string {
  const t = s.trimEnd().split('\n').slice(-lines).join('\n');
  return t ? t.replace(/^/gm, '    | ') : '    | (no output)';
}
