import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { SETTINGS_MARKER } from '../../../src/sources/http/trackerScript.js';
import { ensureTrackerBundle } from '../../support/trackerBundle.js';

describe('the tracker bundle (dist/tracker/beacon.js)', () => {
  it('is under 5 KB gzipped', async () => {
    const code = await readFile(await ensureTrackerBundle());
    const gzipped = gzipSync(code, { level: 9 }).length;
    assert.ok(gzipped < 5 * 1024, `beacon.js is ${gzipped} bytes gzipped`);
  });

  it('ends with the settings call the collector fills in, once', async () => {
    const code = await readFile(await ensureTrackerBundle(), 'utf8');
    assert.ok(code.startsWith('(function(__beaconSettings){'));
    assert.ok(code.trimEnd().endsWith(`})(${SETTINGS_MARKER});`));
    assert.equal(code.split(SETTINGS_MARKER).length, 2);
  });

  it('has no run-time dependency: nothing imported, nothing required', async () => {
    const code = await readFile(await ensureTrackerBundle(), 'utf8');
    assert.doesNotMatch(code, /\brequire\(|\bimport\s*\(|^import\s|\bprocess\./m);
  });
});
