import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { Agent, fetch as undiciFetch } from 'undici';
import { freePort } from './freePort.js';
import { waitUntil } from './waitFor.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');
/** tsx's loader as an absolute URL, so Beacon can run from any working directory. */
export const TSX = import.meta.resolve('tsx');

export interface BeaconProcess {
  url: string;
  port: number;
  dataDir: string;
  configPath: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /**
   * Waits until the output matches `pattern`. The output comes through a pipe that is read
   * apart from the HTTP answers: a line logged before an answer may arrive after it, so a
   * test that checks a log line after a request (or after readiness) waits for it.
   */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL the whole process group (primary and collectors) and wait. */
  kill9(): Promise<void>;
  /** Starts again on the same port, data dir and config. */
  restart(): Promise<void>;
  /** Removes the data dir. */
  cleanup(): Promise<void>;
}

/**
 * Starts Beacon as a real process (`beacon start --config`) on a free port with a temporary
 * data dir, and resolves when /readyz answers 200. `config` is merged over a test default of
 * one collector process; pass `server: { workers: 2 }` to test the multi-process mode.
 */
export async function startBeacon(
  config: Record<string, unknown> = {},
  options: {
    dataDir?: string;
    env?: NodeJS.ProcessEnv;
    /** More `beacon start` arguments, e.g. `['--role', 'api']`. */ args?: string[];
    /** Beacon serves TLS (server.tls in `config`): readiness is checked over https trusting `ca` (PEM text). */ https?: {
      ca: string;
    };
  } = {},
): Promise<BeaconProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'beacon-test-')));
  const configPath = join(dataDir, 'beacon.yaml');
  let port = 0;
  let url = '';
  /** Picks a free port and writes the config with it (again when another process took the port first). */
  async function configure(): Promise<void> {
    port = await freePort();
    const server = { host: '127.0.0.1', port, workers: 1, ...((config.server as object) ?? {}) };
    const full = { logging: { level: 'warn' }, ...config, server, dataDir };
    await writeFile(configPath, stringify(full));
    url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;
  }
  const readyFetch = options.https ? httpsFetch(options.https.ca) : fetch;
  let out = '';
  let child!: ChildProcess;

  async function launch(): Promise<void> {
    child = spawn(process.execPath, ['--import', TSX, CLI, 'start', '--config', configPath, ...(options.args ?? [])], {
      cwd: dataDir,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`beacon exited with ${code} before it was ready:\n${out}`))),
    );
    try {
      await Promise.race([waitReady(url, 30_000, () => out, readyFetch), exited]);
    } catch (err) {
      // Never leave a half-started Beacon behind: it is detached, so it would outlive the test run.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw err;
    }
  }

  // freePort's port is free when it answers, not when Beacon binds it: a test file running in
  // parallel (or an outgoing connection) can take it in between. Beacon then exits with
  // EADDRINUSE, and the start is tried again on another port.
  for (let attempt = 1; ; attempt++) {
    await configure();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test(out)) throw err;
      out = '';
    }
  }
  const proc: BeaconProcess = {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    dataDir,
    configPath,
    get child() {
      return child;
    },
    output: () => out,
    waitForOutput: (pattern, timeoutMs) =>
      waitUntil(
        () => `${pattern} in the output of beacon at ${url}; the output so far:\n${out}`,
        () => pattern.test(out),
        timeoutMs,
      ),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return done;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await done;
      await waitPortFree(port);
    },
    restart: launch,
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
  return proc;
}

/** A fetch that trusts `ca` (PEM) for https, for a Beacon serving a test certificate. */
export function httpsFetch(ca: string): (url: string, init?: RequestInit) => Promise<Response> {
  const dispatcher = new Agent({ connect: { ca } });
  return (url, init) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
}

async function waitReady(
  url: string,
  timeoutMs: number,
  output: () => string,
  get: (url: string, init?: RequestInit) => Promise<Response> = fetch,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await get(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`beacon at ${url} not ready within ${timeoutMs} ms:\n${output()}`);
}

async function waitPortFree(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(200) });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The usual `after` of a test that started Beacon: stop it, check it exited 0, remove its data dir (nothing when it never started). */
export async function stopAndRemove(beacon: BeaconProcess | undefined): Promise<void> {
  if (beacon === undefined) return;
  assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
  await beacon.cleanup();
}
