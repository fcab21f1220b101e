import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it, before, after } from 'node:test';
import { loadTrackerScript, SETTINGS_MARKER } from '../../../src/sources/http/trackerScript.js';
import { startCollector, type Collector } from './harness.js';

/** GET /beacon.js through a real collector, with a stand-in bundle that ends like the real one. */
describe('GET /beacon.js', () => {
  let dir: string;
  let collector: Collector;
  const bundle = `(function(__beaconSettings){"use strict";window.__seen=__beaconSettings;${'/* padding */'.repeat(50)}\n})(${SETTINGS_MARKER});\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-tracker-'));
    await writeFile(join(dir, 'beacon.js'), bundle);
    collector = await startCollector({
      browser: { trackerScript: loadTrackerScript({ credentials: true }, join(dir, 'beacon.js')) },
    });
  });
  after(async () => {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the script with its type, a short cache lifetime and an ETag, with the settings written in', async () => {
    const answer = await collector.send({ path: '/beacon.js' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/javascript; charset=utf-8');
    assert.equal(answer.headers['cache-control'], 'public, max-age=300');
    assert.match(String(answer.headers.etag), /^"[A-Za-z0-9_-]{22}"$/);
    assert.equal(answer.headers['content-encoding'], undefined);
    assert.ok(answer.text.endsWith('})({"credentials":true});\n'), answer.text.slice(-60));
    assert.ok(!answer.text.includes('BEACON_SETTINGS'));
  });

  it('answers 304 to a matching If-None-Match, and 200 to a stale one', async () => {
    const first = await collector.send({ path: '/beacon.js' });
    const etag = String(first.headers.etag);
    const revalidated = await collector.send({ path: '/beacon.js', headers: { 'If-None-Match': `"old", ${etag}` } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body.length, 0);
    assert.equal(revalidated.headers.etag, etag);
    assert.equal(revalidated.headers['cache-control'], 'public, max-age=300');
    assert.equal((await collector.send({ path: '/beacon.js', headers: { 'If-None-Match': '"old"' } })).status, 200);
  });

  it('sends it gzipped to clients that take gzip, never to ones that refuse it', async () => {
    const plain = await collector.send({ path: '/beacon.js' });
    const gzipped = await collector.send({ path: '/beacon.js', headers: { 'Accept-Encoding': 'br, gzip, deflate' } });
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.equal(gzipped.headers.vary, 'Accept-Encoding');
    assert.equal(gunzipSync(gzipped.body).toString('utf8'), plain.text);
    assert.ok(gzipped.body.length < plain.body.length);
    const refused = await collector.send({ path: '/beacon.js', headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
    assert.equal(refused.headers['content-encoding'], undefined);
  });

  it('answers HEAD without a body, and other methods 405 with Allow', async () => {
    const head = await collector.send({ method: 'HEAD', path: '/beacon.js' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const post = await collector.send({ method: 'POST', path: '/beacon.js', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((post.json() as { code: string }).code, 'BEACON_E_METHOD_NOT_ALLOWED');
  });

  it('writes credentials: false unless the collector allows credentials for explicit origins', async () => {
    const other = await startCollector({
      browser: { trackerScript: loadTrackerScript({ credentials: false }, join(dir, 'beacon.js')) },
    });
    try {
      assert.ok((await other.send({ path: '/beacon.js' })).text.endsWith('})({"credentials":false});\n'));
    } finally {
      await other.close();
    }
  });

  it('answers 404 BEACON_E_TRACKER_NOT_BUILT, saying what to run, when the bundle was missing at start', async () => {
    const script = loadTrackerScript({ credentials: false }, join(dir, 'missing.js'));
    assert.equal(script.built, false);
    const unbuilt = await startCollector({ browser: { trackerScript: script } });
    try {
      const answer = await unbuilt.send({ path: '/beacon.js' });
      assert.equal(answer.status, 404);
      const body = answer.json() as { code: string; message: string };
      assert.equal(body.code, 'BEACON_E_TRACKER_NOT_BUILT');
      assert.match(body.message, /npm run build/);
    } finally {
      await unbuilt.close();
    }
  });
});
