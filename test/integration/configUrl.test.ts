import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, runCli, TSX } from '../support/beaconProcess.js';
import { freePort } from '../support/freePort.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * `beacon start --config <URL>` as EGF2 runs its services: the config comes from a URL, fetched
 * with retries for a bounded time; an unreachable URL stops the start with one message, unless
 * `--config-cache` holds the last good copy; and a reload fetches the URL again.
 */

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An http server serving `doc()` as YAML at /beacon.yaml, on `port`; the first `unavailable` requests get a 503. */
async function configServer(
  port: number,
  doc: () => Record<string, unknown>,
  unavailable = 0,
): Promise<Server & { requests: number }> {
  const srv = Object.assign(
    createServer((req, res) => {
      if (req.url !== '/beacon.yaml') return void res.writeHead(404).end();
      if (++srv.requests <= unavailable) return void res.writeHead(503).end('starting');
      res.writeHead(200, { 'content-type': 'application/yaml' }).end(stringify(doc()));
    }),
    { requests: 0 },
  );
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return srv;
}

const closeServer = (srv: Server) => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r())));

/** Runs `beacon start` with these arguments and resolves once /readyz on `port` answers 200. */
async function startFromUrl(
  args: string[],
  port: number,
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'start', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`beacon exited with ${code}:\n${out}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([
    waitUntil(
      `beacon ready on ${port}`,
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
      60_000,
      100,
    ),
    exited,
  ]);
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await done;
    },
  };
}

async function setup(): Promise<{ dir: string; port: number; doc: (sinks: string[]) => Record<string, unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-config-url-'));
  dirs.push(dir);
  const port = await freePort();
  const doc = (sinks: string[]) => ({
    server: { host: '127.0.0.1', port, workers: 1 },
    dataDir: join(dir, 'data'),
    store: { type: 'none' },
    logging: { level: 'warn' },
    sinks: sinks.map((name) => ({ name, type: 'file', path: join(dir, `${name}.ndjson`) })),
  });
  return { dir, port, doc };
}

describe('config from a URL', { timeout: 180_000 }, () => {
  it('starts once the config server answers after failing at first, and reloads from the URL', async () => {
    const { port, doc } = await setup();
    const configPort = await freePort();
    const url = `http://127.0.0.1:${configPort}/beacon.yaml`;
    let sinks = ['archive'];
    // A config server still starting: 503 twice, inside the retries (pauses of 0.25, 0.5, 1, 2 s).
    const srv = await configServer(configPort, () => doc(sinks), 2);
    const beacon = await startFromUrl(['--config', url], port);
    assert.equal(srv.requests, 3, 'two 503s, then the config');
    try {
      sinks = ['archive', 'hook'];
      const added = await runCli(['reload', '--url', `http://127.0.0.1:${port}`]);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, new RegExp(`config reloaded from ${url.replace(/[.]/g, '\\.')}`));
      assert.match(added.stdout, /sinks added: +hook/);
      assert.equal(srv.requests, 4, 'the reload fetched the URL again');

      await closeServer(srv);
      const refused = await runCli(['reload', '--url', `http://127.0.0.1:${port}`], { timeoutMs: 60_000 });
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /error BEACON_E_RELOAD_REFUSED: .*BEACON_E_CONFIG_UNREACHABLE: cannot fetch config from .*: ECONNREFUSED \(5 attempts in [\d.]+ s\)/,
      );
      const status = (await (await fetch(`http://127.0.0.1:${port}/api/v1/status`)).json()) as {
        sinks: { name: string }[];
      };
      assert.deepEqual(
        status.sinks.map((s) => s.name),
        ['archive', 'hook'],
        'the running config is kept',
      );
    } finally {
      await beacon.stop();
    }
  });

  it('with --config-cache, starts from the last good copy when the URL is unreachable, with one warning', async () => {
    const { dir, port, doc } = await setup();
    const configPort = await freePort();
    const url = `http://127.0.0.1:${configPort}/beacon.yaml`;
    const cache = join(dir, 'config-cache.yaml');
    const srv = await configServer(configPort, () => doc(['archive']));
    const first = await startFromUrl(['--config', url, '--config-cache', cache], port);
    await first.stop();
    await closeServer(srv);
    assert.match(await readFile(cache, 'utf8'), /name: archive/, 'the fetched config was kept');

    const second = await startFromUrl(['--config', url, '--config-cache', cache], port);
    try {
      const warnings = second
        .output()
        .split('\n')
        .filter((l) => l.startsWith('warning:'));
      assert.equal(warnings.length, 1, second.output());
      assert.match(
        warnings[0]!,
        new RegExp(
          `config URL ${url.replace(/[.]/g, '\\.')} is unreachable \\(ECONNREFUSED \\(5 attempts in [\\d.]+ s\\)\\); using the last good copy from ${cache.replace(/[.]/g, '\\.')}`,
        ),
      );
      assert.equal((await fetch(`http://127.0.0.1:${port}/t/from_cache`)).status, 204);
    } finally {
      await second.stop();
    }
  });

  it('without a cache, stops the start with one message after the bounded retries', async () => {
    const url = `http://127.0.0.1:${await freePort()}/beacon.yaml`;
    const started = Date.now();
    const res = await runCli(['start', '--config', url], { timeoutMs: 60_000 });
    const took = Date.now() - started;
    assert.equal(res.code, 1);
    const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 2, res.stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `^error BEACON_E_CONFIG_UNREACHABLE: cannot fetch config from ${url.replace(/[.]/g, '\\.')}: ECONNREFUSED \\(5 attempts in [\\d.]+ s\\)$`,
      ),
    );
    assert.match(lines[1]!, /^ {2}what to do: /);
    assert.ok(took < 30_000, `gave up after ${took} ms`);
  });
});
