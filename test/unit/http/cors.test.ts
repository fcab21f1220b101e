import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postJson, startCollector } from './harness.js';

describe('CORS', () => {
  test('it answers a preflight with * when any origin is allowed, and never allows credentials with *', async () => {
    const collector = await startCollector({ server: { cors: { origins: ['*'], credentials: true } } });
    try {
      for (const path of ['/t/click', '/batch']) {
        const answer = await collector.send({
          method: 'OPTIONS',
          path,
          headers: {
            Origin: 'https://site.example',
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type,content-encoding',
          },
        });
        assert.equal(answer.status, 204, path);
        assert.equal(answer.headers['access-control-allow-origin'], '*');
        assert.equal(answer.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
        assert.equal(answer.headers['access-control-allow-headers'], 'content-type,content-encoding');
        assert.equal(answer.headers['access-control-max-age'], '86400');
        assert.equal(answer.headers['access-control-allow-credentials'], undefined);
      }
      assert.equal(collector.recorder.calls.length, 0, 'a preflight records nothing');
    } finally {
      await collector.close();
    }
  });

  test('it echoes a listed origin with Vary and credentials, and gives an unlisted one no CORS headers', async () => {
    const collector = await startCollector({
      server: { cors: { origins: ['https://a.example'], credentials: true, maxAgeSeconds: 60 } },
    });
    try {
      const allowed = await collector.send({
        method: 'OPTIONS',
        path: '/t/click',
        headers: { Origin: 'https://a.example', 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://a.example');
      assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
      assert.equal(allowed.headers['access-control-max-age'], '60');
      assert.match(String(allowed.headers.vary), /Origin/);

      const refused = await collector.send({
        method: 'OPTIONS',
        path: '/t/click',
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(refused.status, 204);
      assert.equal(refused.headers['access-control-allow-origin'], undefined);
      assert.equal(refused.headers['access-control-allow-credentials'], undefined);

      const post = await postJson(collector, '/t/click', { a: 1 }, { Origin: 'https://a.example' });
      assert.equal(post.status, 204);
      assert.equal(post.headers['access-control-allow-origin'], 'https://a.example');
      assert.equal(post.headers['access-control-allow-credentials'], 'true');
    } finally {
      await collector.close();
    }
  });

  test('it sends CORS headers on answers and errors so a page can read them', async () => {
    const collector = await startCollector();
    try {
      const ok = await collector.send({ path: '/t/view', headers: { Origin: 'https://site.example' } });
      assert.equal(ok.headers['access-control-allow-origin'], '*');
      const batch = await postJson(collector, '/batch', [{ type: 'a' }], { Origin: 'https://site.example' });
      assert.equal(batch.headers['access-control-allow-origin'], '*');
      const bad = await postJson(collector, '/batch', '[', { Origin: 'https://site.example' });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers['access-control-allow-origin'], '*');
      assert.equal(bad.headers['access-control-expose-headers'], 'Retry-After');
      const noOrigin = await collector.send({ path: '/t/view' });
      assert.equal(noOrigin.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    } finally {
      await collector.close();
    }
  });
});
