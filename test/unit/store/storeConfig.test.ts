import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, validateConfig } from '../../../src/config/load.js';
import { keyPaths } from '../../../src/config/schemaWalk.js';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { openStore } from '../../../src/store/index.js';
import { embeddedStoreSchema } from '../../../src/store/storeConfig.js';

/** The `store` config: defaults, `none`, environment overrides, strictness, and its docs. */
function refused(raw: Record<string, unknown>): BeaconError {
  try {
    validateConfig(raw);
  } catch (err) {
    assert.ok(err instanceof BeaconError);
    return err;
  }
  assert.fail('expected the config to be refused');
}

describe('the store config', () => {
  test('is the embedded store with its defaults when not given', () => {
    const { store } = validateConfig({});
    assert.deepEqual(store, {
      type: 'embedded',
      retention: { maxAge: 30 * 86_400_000, maxBytes: 2 * 1024 ** 3, checkEvery: 60_000 },
      memoryLimit: 48 * 1024 ** 2,
      threads: 1,
      maxTempBytes: 1024 ** 3,
      batch: { maxEvents: 1000, maxWaitMs: 200 },
      queryTimeout: 30_000,
      maxQueuedQueries: 32,
    });
  });

  test('takes units, `none`, and an environment override of the type', async () => {
    const store = validateConfig({
      store: { type: 'embedded', retention: { maxAge: '90d', maxBytes: '8GiB' }, memoryLimit: '128MiB' },
    }).store;
    assert.equal(store.type === 'embedded' && store.retention.maxAge, 90 * 86_400_000);
    assert.equal(store.type === 'embedded' && store.memoryLimit, 128 * 1024 ** 2);
    assert.deepEqual(validateConfig({ store: { type: 'none' } }).store, { type: 'none' });
    const { config } = await loadConfig({ env: { BEACON_STORE__TYPE: 'none' } });
    assert.equal(config.store.type, 'none');
  });

  test('refuses unknown keys, bad values and unknown types, naming the field', () => {
    assert.match(refused({ store: { type: 'embedded', retension: {} } }).message, /retension/);
    assert.match(
      refused({ store: { type: 'embedded', retention: { maxAge: 'a month' } } }).message,
      /store\.retention\.maxAge/,
    );
    assert.match(refused({ store: { type: 'embedded', threads: 0 } }).message, /store\.threads/);
    assert.match(refused({ store: { type: 'duckdb' } }).message, /store\.type/);
    assert.match(refused({ store: { type: 'none', retention: {} } }).message, /retention/);
  });

  test('refuses a user sink named `_store` beside the embedded store', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'beacon-store-config-'));
    try {
      const config = validateConfig({ dataDir, sinks: [{ name: '_store', type: 'stdout' }] });
      await assert.rejects(
        openStore(config, { logger: silentLogger, clock: { now: Date.now } }),
        (err: unknown) =>
          err instanceof BeaconError && err.code === 'BEACON_E_CONFIG_FIELD' && /sinks\.0\.name/.test(err.message),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('has every key of the embedded store documented in docs/query-api.md and docs/configuration.md', () => {
    for (const doc of ['query-api.md', 'configuration.md']) {
      const text = readFileSync(fileURLToPath(new URL(`../../../docs/${doc}`, import.meta.url)), 'utf8');
      const missing = keyPaths(embeddedStoreSchema).filter(
        (p) => !text.includes(`\`store.${p}\``) && !text.includes(`\`store.${p}.`),
      );
      assert.deepEqual(missing, [], `${doc} does not name ${missing.join(', ')}`);
    }
  });
});
