import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectedCount, startCollector } from './harness.js';

describe('routing', () => {
  test('it answers 404 BEACON_E_NOT_FOUND for a path nobody serves', async () => {
    const collector = await startCollector();
    try {
      for (const path of ['/', '/nope', '/t', '/batch/x', '/tt/x']) {
        const answer = await collector.send({ path });
        assert.equal(answer.status, 404, path);
        assert.equal((answer.json() as { code: string }).code, 'BEACON_E_NOT_FOUND');
      }
    } finally {
      await collector.close();
    }
  });

  test('it answers 405 BEACON_E_METHOD_NOT_ALLOWED with Allow on collector paths', async () => {
    const collector = await startCollector();
    try {
      const put = await collector.send({ method: 'PUT', path: '/t/view', body: '{}' });
      assert.equal(put.status, 405);
      assert.equal(put.headers.allow, 'GET, POST, OPTIONS');
      assert.equal((put.json() as { code: string }).code, 'BEACON_E_METHOD_NOT_ALLOWED');
      const get = await collector.send({ path: '/batch' });
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST, OPTIONS');
      assert.equal(await rejectedCount(collector, 'BEACON_E_METHOD_NOT_ALLOWED'), 2);
    } finally {
      await collector.close();
    }
  });

  test('it hands every other path to fallback with a parsed URL, and answers 404 when fallback declines', async () => {
    const seen: string[] = [];
    const collector = await startCollector({
      fallback: async (req, res, url) => {
        seen.push(`${req.method} ${url.pathname} ${url.searchParams.get('q') ?? ''}`);
        if (url.pathname !== '/healthz') return false;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return true;
      },
    });
    try {
      const health = await collector.send({ path: '/healthz?q=1' });
      assert.equal(health.status, 200);
      assert.equal(health.text, 'ok');
      const other = await collector.send({ path: '//evil.example/x' });
      assert.equal(other.status, 404);
      assert.deepEqual(seen, ['GET /healthz 1', 'GET //evil.example/x ']);
      const track = await collector.send({ path: '/t/view' });
      assert.equal(track.status, 204, 'collector paths never reach fallback');
      assert.equal(seen.length, 2);
    } finally {
      await collector.close();
    }
  });

  test('it answers 500 BEACON_E_INTERNAL when fallback throws, and keeps serving', async () => {
    const collector = await startCollector({
      fallback: async () => {
        throw new Error('boom');
      },
    });
    try {
      const answer = await collector.send({ path: '/api/v1/x' });
      assert.equal(answer.status, 500);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_INTERNAL');
      assert.equal((await collector.send({ path: '/t/view' })).status, 204);
    } finally {
      await collector.close();
    }
  });
});
