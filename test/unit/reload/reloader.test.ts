import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../../src/config/load.js';
import { validateConfig } from '../../../src/config/load.js';
import type { DispatcherSink } from '../../../src/dispatch/dispatcher.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { ConfigReloader, diffConfig, type SinkSet } from '../../../src/reload/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const file = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'file',
  path: `/tmp/${name}.ndjson`,
  ...extra,
});

/** Records what the reloader asks of the dispatcher; `fail` makes the next call throw. */
class RecordingSinks implements SinkSet {
  calls: { add: string[]; change: string[]; remove: string[] }[] = [];
  fail: Error | undefined;
  gate: Promise<void> | undefined;
  async applySinks(change: {
    add: readonly DispatcherSink[];
    change: readonly DispatcherSink[];
    remove: readonly string[];
  }): Promise<void> {
    await this.gate;
    if (this.fail) throw this.fail;
    this.calls.push({
      add: change.add.map((e) => e.config.name),
      change: change.change.map((e) => e.config.name),
      remove: [...change.remove],
    });
  }
}

async function configFile(doc: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-reload-'));
  dirs.push(dir);
  const path = join(dir, 'beacon.json');
  await writeFile(path, JSON.stringify(doc));
  return path;
}

describe('diffConfig', () => {
  test('sorts sinks into added, removed, changed and unchanged by name', () => {
    const before = validateConfig({ sinks: [file('a'), file('b'), file('c')] });
    const after = validateConfig({ sinks: [file('c'), file('a', { codec: 'line' }), file('d')] });
    const diff = diffConfig(before, after);
    assert.deepEqual(
      diff.sinks.added.map((s) => s.name),
      ['d'],
    );
    assert.deepEqual(diff.sinks.removed, ['b']);
    assert.deepEqual(
      diff.sinks.changed.map((s) => s.name),
      ['a'],
    );
    assert.deepEqual(diff.sinks.unchanged, ['c']);
    assert.deepEqual(diff.needsRestart, []);
  });

  test('reads a default written out as no change, and names what needs a restart two levels deep', () => {
    const before = validateConfig({ sinks: [file('a')] });
    const after = validateConfig({
      server: { port: 9999, limits: { bodyBytes: '2MiB' } },
      log: { type: 'local', maxBytes: '1GiB' },
      dispatch: { shutdownTimeout: '10s' },
      sinks: [file('a', { codec: 'json' })],
    });
    const diff = diffConfig(before, after);
    assert.deepEqual(diff.sinks.unchanged, ['a'], 'codec json is the default');
    assert.deepEqual(diff.needsRestart, ['log.maxBytes', 'server.limits', 'server.port']);
  });
});

describe('ConfigReloader', () => {
  test('applies the sink changes of the file it was started from and keeps the running values of the rest', async () => {
    const path = await configFile({ sinks: [file('a'), file('b')] });
    const loaded = await loadConfig({ source: path, env: {} });
    const sinks = new RecordingSinks();
    const applied: string[][] = [];
    const reloader = new ConfigReloader({
      loadOptions: loaded.options,
      initial: loaded.config,
      sinks,
      logger: pino({ level: 'silent' }),
      onApplied: (c) => applied.push(c.sinks.map((s) => (s as { name: string }).name)),
    });
    await writeFile(path, JSON.stringify({ server: { port: 9001 }, sinks: [file('b', { codec: 'line' }), file('c')] }));
    const outcome = await reloader.reload('api');
    assert.deepEqual(outcome.sinks, { added: ['c'], removed: ['a'], changed: ['b'], unchanged: [] });
    assert.deepEqual(outcome.needsRestart, ['server.port']);
    assert.deepEqual(sinks.calls, [{ add: ['c'], change: ['b'], remove: ['a'] }]);
    assert.deepEqual(applied, [['b', 'c']]);
    assert.equal(reloader.current.server.port, 8290, 'the port stays until a restart');
    // Reloading the same file again changes nothing more.
    const again = await reloader.reload('signal');
    assert.deepEqual(again.sinks, { added: [], removed: [], changed: [], unchanged: ['b', 'c'] });
    assert.deepEqual(again.needsRestart, ['server.port']);
  });

  test('refuses an invalid config with BEACON_E_RELOAD_REFUSED naming the field, and keeps the running one', async () => {
    const path = await configFile({ sinks: [file('a')] });
    const loaded = await loadConfig({ source: path, env: {} });
    const sinks = new RecordingSinks();
    const reloader = new ConfigReloader({
      loadOptions: loaded.options,
      initial: loaded.config,
      sinks,
      logger: pino({ level: 'silent' }),
    });
    await writeFile(path, JSON.stringify({ sinks: [file('a'), { name: 'b', type: 'file' }] }));
    const err = await reloader.reload('api').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isBeaconError(err) && err.code === 'BEACON_E_RELOAD_REFUSED', String(err));
    assert.match(err.message, /keeps running with the previous one/);
    assert.match(err.message, /BEACON_E_CONFIG_FIELD: .*sinks\[1\]\.path/s);
    assert.deepEqual(sinks.calls, []);
    assert.deepEqual(
      reloader.current.sinks.map((s) => (s as { name: string }).name),
      ['a'],
    );
  });

  test('keeps the running config when the dispatcher refuses a sink', async () => {
    const path = await configFile({ sinks: [file('a')] });
    const loaded = await loadConfig({ source: path, env: {} });
    const sinks = new RecordingSinks();
    sinks.fail = new Error('cannot build sink "b"');
    const reloader = new ConfigReloader({
      loadOptions: loaded.options,
      initial: loaded.config,
      sinks,
      logger: pino({ level: 'silent' }),
    });
    await writeFile(path, JSON.stringify({ sinks: [file('a'), file('b')] }));
    const err = await reloader.reload('api').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isBeaconError(err) && err.code === 'BEACON_E_RELOAD_REFUSED', String(err));
    assert.match(err.message, /cannot build sink "b"/);
    assert.deepEqual(
      reloader.current.sinks.map((s) => (s as { name: string }).name),
      ['a'],
    );
  });

  test('runs reloads one at a time and refuses new ones once closing', async () => {
    const path = await configFile({ sinks: [file('a')] });
    const loaded = await loadConfig({ source: path, env: {} });
    const sinks = new RecordingSinks();
    let open!: () => void;
    sinks.gate = new Promise((r) => (open = r));
    const reloader = new ConfigReloader({
      loadOptions: loaded.options,
      initial: loaded.config,
      sinks,
      logger: pino({ level: 'silent' }),
    });
    await writeFile(path, JSON.stringify({ sinks: [file('a'), file('b')] }));
    const first = reloader.reload('api');
    const second = reloader.reload('signal');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sinks.calls.length, 0);
    open();
    assert.deepEqual((await first).sinks.added, ['b']);
    assert.deepEqual((await second).sinks.unchanged, ['a', 'b'], 'the second ran after the first was applied');
    await reloader.close();
    const err = await reloader.reload('api').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isBeaconError(err) && /stopping/.test(err.message));
  });
});
