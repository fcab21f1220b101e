import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../../src/config/load.js';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { freePort } from '../../support/freePort.js';

function configError(fn: () => unknown): BeaconError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BeaconError, `expected a BeaconError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be refused');
}

async function configErrorAsync(p: Promise<unknown>): Promise<BeaconError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BeaconError, `expected a BeaconError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be refused');
}

describe('config validation', () => {
  it('fills every default when given an empty document', () => {
    const c = validateConfig({});
    assert.equal(c.server.port, 8290);
    assert.equal(c.dataDir, './data');
    assert.equal(c.log.type, 'local');
    assert.equal(c.dispatch.maxFailoverDuration, 30_000);
  });

  it('suggests the closest key for a misspelt one', () => {
    const err = configError(() => validateConfig({ dispatch: { maxFailoverDurations: '10s' } }));
    assert.equal(err.code, 'BEACON_E_CONFIG_UNKNOWN_KEY');
    assert.match(err.message, /dispatch\.maxFailoverDurations: unknown key; did you mean maxFailoverDuration\?/);
  });

  it('names the field, the value and what was expected for a wrong value', () => {
    const err = configError(() => validateConfig({ server: { port: 'eighty' } }, 'beacon.yaml'));
    assert.equal(err.code, 'BEACON_E_CONFIG_FIELD');
    assert.match(err.message, /beacon\.yaml/);
    assert.match(err.message, /server\.port: expected number.*got "eighty"/);
  });

  it('reads durations and sizes with units', () => {
    const c = validateConfig({ dispatch: { maxFailoverDuration: '2m' }, log: { type: 'local', maxBytes: '512MiB' } });
    assert.equal(c.dispatch.maxFailoverDuration, 120_000);
    assert.equal(c.log.maxBytes, 512 * 1024 * 1024);
  });

  it('refuses a duration it cannot read, saying what it expects', () => {
    const err = configError(() => validateConfig({ dispatch: { maxFailoverDuration: 'soon' } }));
    assert.match(err.message, /dispatch\.maxFailoverDuration: expected a duration such as 200ms, 30s/);
  });

  it('takes a log without a type as the local log, so one setting tunes the default', () => {
    const c = validateConfig({ log: { maxBytes: '512MiB' } });
    assert.equal(c.log.type, 'local');
    assert.equal(c.log.maxBytes, 512 * 1024 * 1024);
    const err = configError(() => validateConfig({ log: { maxByte: '512MiB' } }));
    assert.match(err.message, /log\.maxByte: unknown key; did you mean maxBytes\?/);
  });

  it('lists the known log types for an unknown one', () => {
    const err = configError(() => validateConfig({ log: { type: 'locl' } }));
    assert.match(err.message, /log\.type: expected one of "local", "jetstream"; got "locl"/);
  });

  it('lists the known sink types for an unknown one', () => {
    const err = configError(() => validateConfig({ sinks: [{ name: 'x', type: 'carrier-pigeon' }] }));
    assert.match(err.message, /sinks\[0\]\.type: expected one of .*"file".*got "carrier-pigeon"/);
  });

  it('refuses two sinks with the same name', () => {
    const err = configError(() =>
      validateConfig({
        sinks: [
          { name: 'a', type: 'stdout' },
          { name: 'a', type: 'stdout' },
        ],
      }),
    );
    assert.match(err.message, /sinks\[1\]\.name: sink name "a" is used twice/);
    // The Dispatcher relies on this: it no longer checks the names of the sinks it is given.
    assert.equal(err.code, 'BEACON_E_CONFIG_FIELD');
  });

  it('refuses two queue sources with the same name', () => {
    const err = configError(() =>
      validateConfig({
        sources: [
          { name: 'q', type: 'redis', key: 'events' },
          { name: 'q', type: 'redis', key: 'other' },
        ],
      }),
    );
    assert.equal(err.code, 'BEACON_E_CONFIG_FIELD');
    assert.match(err.message, /sources\[1\]\.name: source name "q" is used twice/);
  });

  it('refuses schemas in bad mode when no sink takes the bad stream (invalid events would reach nothing)', () => {
    const archive = { name: 'archive', type: 'stdout' };
    const badRows = { name: 'bad-rows', type: 'stdout', badStream: 'only' };
    for (const schemas of [
      { dir: './schemas' },
      { types: { signup: './signup.json' } },
      { requireSchema: true },
      { dir: './schemas', mode: 'bad' },
    ]) {
      const err = configError(() => validateConfig({ schemas, sinks: [archive] }));
      assert.match(
        err.message,
        /schemas\.mode.*no sink takes the bad stream.*add `badStream: only` to a sink.*or set schemas\.mode: strict/,
        JSON.stringify(schemas),
      );
    }
    assert.doesNotThrow(() => validateConfig({ schemas: { dir: './schemas' }, sinks: [archive, badRows] }));
    assert.doesNotThrow(() =>
      validateConfig({ schemas: { dir: './schemas' }, sinks: [{ ...archive, badStream: 'include' }] }),
    );
    assert.doesNotThrow(() => validateConfig({ schemas: { dir: './schemas', mode: 'strict' }, sinks: [archive] }));
    assert.doesNotThrow(() => validateConfig({ sinks: [archive] }), 'no schemas, nothing is invalid');
  });

  it('refuses strict schemas with a queue source and no bad-stream sink (a queue cannot be answered 400)', () => {
    const source = { name: 'in', type: 'nats', subject: 'ingest.events' };
    const err = configError(() =>
      validateConfig({
        schemas: { dir: './schemas', mode: 'strict' },
        sources: [source],
        sinks: [{ name: 'archive', type: 'stdout' }],
      }),
    );
    assert.match(err.message, /queue sources.*no sink takes it: add `badStream: only`/);
    assert.doesNotThrow(() =>
      validateConfig({
        schemas: { dir: './schemas', mode: 'strict' },
        sources: [source],
        sinks: [{ name: 'bad-rows', type: 'stdout', badStream: 'only' }],
      }),
    );
  });
});

describe('config loading', () => {
  it('starts from the embedded defaults: one file sink writing ./data/out/events.ndjson', async () => {
    const { config } = await loadConfig({ env: {} });
    assert.deepEqual(
      config.sinks.map((s) => [s.name, s.type]),
      [['archive', 'file']],
    );
    assert.equal((config.sinks[0] as { path?: string }).path, './data/out/events.ndjson');
  });

  it('applies BEACON_ environment overrides with __ for nesting, keeping types', async () => {
    const { config, overrides } = await loadConfig({
      env: {
        BEACON_SERVER__PORT: '9000',
        BEACON_SERVER__TRUSTPROXY: 'true',
        BEACON_DISPATCH__MAXFAILOVERDURATION: '10s',
        BEACON_URL: 'ignored',
      },
    });
    assert.equal(config.server.port, 9000);
    assert.equal(config.server.trustProxy, true);
    assert.equal(config.dispatch.maxFailoverDuration, 10_000);
    assert.deepEqual(overrides.map((o) => o.variable).sort(), [
      'BEACON_DISPATCH__MAXFAILOVERDURATION',
      'BEACON_SERVER__PORT',
      'BEACON_SERVER__TRUSTPROXY',
    ]);
  });

  it('tunes the default local log from one environment variable', async () => {
    const { config } = await loadConfig({ env: { BEACON_LOG__MAXBYTES: '2GiB' } });
    assert.equal(config.log.type, 'local');
    assert.equal(config.log.maxBytes, 2 * 1024 ** 3);
  });

  it('names the environment variable a bad value came from', async () => {
    const err = await configErrorAsync(loadConfig({ env: { BEACON_SERVER__PORT: 'x' } }));
    assert.match(err.message, /server\.port: .*got "x" \(from BEACON_SERVER__PORT\)/);
  });

  it('reads YAML and JSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
    await writeFile(join(dir, 'a.yaml'), 'server:\n  port: 9100\nsinks: []\n');
    await writeFile(join(dir, 'b.json'), JSON.stringify({ server: { port: 9200 }, sinks: [] }));
    assert.equal((await loadConfig({ source: join(dir, 'a.yaml'), env: {} })).config.server.port, 9100);
    assert.equal((await loadConfig({ source: join(dir, 'b.json'), env: {} })).config.server.port, 9200);
  });

  it('points at the line of a YAML syntax error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
    await writeFile(join(dir, 'bad.yaml'), 'server:\n  port: 9100\n   host: [\n');
    const err = await configErrorAsync(loadConfig({ source: join(dir, 'bad.yaml'), env: {} }));
    assert.equal(err.code, 'BEACON_E_CONFIG_PARSE');
    assert.match(err.message, /line \d+/);
  });

  it('names a missing file', async () => {
    const err = await configErrorAsync(loadConfig({ source: '/nonexistent/beacon.yaml', env: {} }));
    assert.equal(err.code, 'BEACON_E_CONFIG_UNREACHABLE');
    assert.match(err.message, /\/nonexistent\/beacon\.yaml: ENOENT/);
  });

  it('fetches a config from an http URL', async () => {
    const srv = createServer((_req, res) => res.end('server: { port: 9300 }\nsinks: []\n'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as { port: number };
    try {
      const { config } = await loadConfig({ source: `http://127.0.0.1:${port}/beacon.yaml`, env: {} });
      assert.equal(config.server.port, 9300);
    } finally {
      srv.close();
    }
  });

  it('names the URL and the reason when the config server is unreachable', async () => {
    const url = `http://127.0.0.1:${await freePort()}/beacon.yaml`;
    const err = await configErrorAsync(loadConfig({ source: url, env: {}, fetchAttempts: 1 }));
    assert.equal(err.code, 'BEACON_E_CONFIG_UNREACHABLE');
    assert.ok(err.message.includes(`${url}: ECONNREFUSED`), err.message);
  });

  it('falls back to the cached copy, with a warning, when the URL is unreachable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
    const cache = join(dir, 'cache.yaml');
    const srv = createServer((_req, res) => res.end('server: { port: 9400 }\nsinks: []\n'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/c.yaml`;
    await loadConfig({ source: url, env: {}, cachePath: cache });
    await new Promise<void>((r) => srv.close(() => r()));
    assert.match(await readFile(cache, 'utf8'), /9400/);
    const warnings: string[] = [];
    const { config } = await loadConfig({
      source: url,
      env: {},
      cachePath: cache,
      fetchAttempts: 1,
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(config.server.port, 9400);
    assert.match(warnings[0] ?? '', /unreachable .*last good copy/);
  });
});

describe('config from a URL: retries within bounds', () => {
  /** An http server answering each request with the next status of `statuses` (then the last one), counting requests. */
  async function scripted(
    statuses: number[],
    body = 'sinks: []\n',
  ): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
    let n = 0;
    const srv = createServer((_req, res) => {
      const status = statuses[Math.min(n++, statuses.length - 1)]!;
      res.statusCode = status;
      res.end(status === 200 ? body : 'nope');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/beacon.yaml`,
      requests: () => n,
      close: () => new Promise<void>((r) => srv.close(() => r())),
    };
  }

  it('retries a 503 and loads the config once the server answers', async () => {
    const srv = await scripted([503, 503, 200], 'server: { port: 9500 }\nsinks: []\n');
    try {
      const { config } = await loadConfig({ source: srv.url, env: {} });
      assert.equal(config.server.port, 9500);
      assert.equal(srv.requests(), 3);
    } finally {
      await srv.close();
    }
  });

  it('does not retry a 404, which asking again will not change', async () => {
    const srv = await scripted([404]);
    try {
      const err = await configErrorAsync(loadConfig({ source: srv.url, env: {} }));
      assert.equal(err.code, 'BEACON_E_CONFIG_UNREACHABLE');
      assert.match(err.message, /HTTP 404 Not Found \(1 attempt in [\d.]+ s\)/);
      assert.equal(srv.requests(), 1);
    } finally {
      await srv.close();
    }
  });

  it('gives up on a server that never answers within the total time, saying how many attempts it made', async () => {
    const srv = createServer(() => undefined);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/beacon.yaml`;
    try {
      const started = Date.now();
      const err = await configErrorAsync(
        loadConfig({ source: url, env: {}, fetchTimeoutMs: 400, fetchAttempts: 10, fetchDeadlineMs: 1500 }),
      );
      const took = Date.now() - started;
      assert.ok(took >= 1000 && took < 3000, `gave up after ${took} ms`);
      assert.match(
        err.message,
        new RegExp(
          `cannot fetch config from ${url.replace(/[.]/g, '\\.')}: timed out \\([2-4] attempts in 1\\.\\d s\\)`,
        ),
      );
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });
});
