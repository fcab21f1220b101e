import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { jsonResponse } from '../../../src/api/adminRequest.js';
import type { ApiRoute } from '../../../src/api/route.js';
import { ADMIN_TOKEN, apiOver, bearer, READ_TOKEN, TOKENS } from './fixtures.js';

function route(partial: Partial<ApiRoute> & Pick<ApiRoute, 'path'>): ApiRoute {
  return {
    method: 'GET',
    class: 'admin',
    scope: 'none',
    summary: 'test route',
    handle: async (req, params) => jsonResponse(200, { path: req.path, params }),
    ...partial,
  };
}

describe('the API router', () => {
  it('answers undefined for a path no route has, so the collector answers 404', async () => {
    const { call } = apiOver([route({ path: '/api/v1/status' })]);
    assert.equal(await call({ path: '/api/v1/nope' }), undefined);
    assert.equal(await call({ path: '/api/v1/status/extra' }), undefined);
  });

  it('answers 405 with Allow for a known path asked with another method', async () => {
    const { call } = apiOver([
      route({ path: '/api/v1/sinks/{name}/replay', method: 'POST' }),
      route({ path: '/api/v1/status' }),
    ]);
    const wrong = await call({ path: '/api/v1/sinks/a/replay', method: 'GET' });
    assert.equal(wrong?.status, 405);
    assert.equal(wrong?.headers.allow, 'POST');
    assert.equal(JSON.parse(wrong!.body).code, 'BEACON_E_METHOD_NOT_ALLOWED');
    const post = await call({ path: '/api/v1/status', method: 'DELETE' });
    assert.equal(post?.headers.allow, 'GET, HEAD');
  });

  it('passes decoded path params to the handler', async () => {
    const { call } = apiOver([route({ path: '/api/v1/sinks/{name}/dead-letters' })]);
    const res = await call({ path: '/api/v1/sinks/my%20sink/dead-letters' });
    assert.deepEqual(JSON.parse(res!.body).params, { name: 'my sink' });
  });

  it('prefers a literal segment over a template that also matches', async () => {
    const { call } = apiOver([
      route({ path: '/api/v1/events/{id}', handle: async () => jsonResponse(200, { which: 'byId' }) }),
      route({ path: '/api/v1/events/recent', handle: async () => jsonResponse(200, { which: 'recent' }) }),
    ]);
    assert.equal(JSON.parse((await call({ path: '/api/v1/events/recent' }))!.body).which, 'recent');
    assert.equal(JSON.parse((await call({ path: '/api/v1/events/e-1' }))!.body).which, 'byId');
  });

  it("answers a handler's BeaconError with its code and status, and anything else as a logged 500", async () => {
    const { call, log } = apiOver([
      route({
        path: '/a',
        handle: async () => Promise.reject(new BeaconError('BEACON_E_BAD_QUERY', 'limit must be a number')),
      }),
      route({ path: '/b', handle: async () => Promise.reject(new Error('boom')) }),
    ]);
    const a = await call({ path: '/a' });
    assert.equal(a?.status, 400);
    assert.deepEqual(JSON.parse(a!.body), { code: 'BEACON_E_BAD_QUERY', message: 'limit must be a number' });
    const b = await call({ path: '/b' });
    assert.equal(b?.status, 500);
    assert.equal(JSON.parse(b!.body).code, 'BEACON_E_INTERNAL');
    assert.ok(log.lines().some((l) => l.msg === 'API route failed; answered 500'));
  });

  it('marks admin and ops answers no-store, and cached classes public with max-age, an ETag and Vary-free when open', async () => {
    const { call } = apiOver([
      route({ path: '/admin', class: 'admin' }),
      route({ path: '/ops', class: 'ops' }),
      route({ path: '/rt', class: 'realtime', scope: 'read' }),
      route({ path: '/arch', class: 'archive', scope: 'read' }),
    ]);
    assert.equal((await call({ path: '/admin' }))?.headers['cache-control'], 'no-store');
    assert.equal((await call({ path: '/ops' }))?.headers['cache-control'], 'no-store');
    const rt = await call({ path: '/rt' });
    assert.equal(rt?.headers['cache-control'], 'public, max-age=2');
    assert.match(rt!.headers.etag!, /^"[A-Za-z0-9_-]{22}"$/);
    assert.equal(rt?.headers.vary, undefined);
    assert.equal((await call({ path: '/arch' }))?.headers['cache-control'], 'public, max-age=3600');
  });

  it('marks cached answers private (Vary: Authorization) when their endpoint needs a token, public with api.publicRead', async () => {
    const routes = [route({ path: '/rt', class: 'realtime', scope: 'read' })];
    const locked = await apiOver(routes, { tokens: TOKENS }).call({ path: '/rt', headers: bearer(READ_TOKEN) });
    assert.equal(locked?.headers['cache-control'], 'private, max-age=2');
    assert.equal(locked?.headers.vary, 'Authorization');
    const open = await apiOver(routes, { tokens: TOKENS, publicRead: true }).call({ path: '/rt' });
    assert.equal(open?.status, 200);
    assert.equal(open?.headers['cache-control'], 'public, max-age=2');
  });

  it('sends the time left as max-age, so a downstream cache never outlives the in-process one', async () => {
    const { call, clock } = apiOver([route({ path: '/arch', class: 'archive', scope: 'read' })]);
    await call({ path: '/arch' });
    clock.advance(1000 * 1000);
    assert.equal((await call({ path: '/arch' }))?.headers['cache-control'], 'public, max-age=2600');
  });

  it('answers 304 without a body when If-None-Match holds the ETag, and 200 when the answer changed', async () => {
    let n = 0;
    const { call, clock } = apiOver([
      route({
        path: '/rt',
        class: 'realtime',
        scope: 'read',
        handle: async () => jsonResponse(200, { n: Math.floor(n++ / 2) }),
      }),
    ]);
    const first = await call({ path: '/rt' });
    const etag = first!.headers.etag!;
    const again = await call({ path: '/rt', headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(again?.status, 304);
    assert.equal(again?.body, '');
    assert.equal(again?.headers.etag, etag);
    assert.equal(again?.headers['content-type'], undefined);
    // Expired; the next answer is the same body (n=0 twice), so still 304; then a new body gives 200.
    clock.advance(2000);
    assert.equal((await call({ path: '/rt', headers: { 'if-none-match': etag } }))?.status, 304);
    clock.advance(2000);
    const changed = await call({ path: '/rt', headers: { 'if-none-match': etag } });
    assert.equal(changed?.status, 200);
    assert.notEqual(changed?.headers.etag, etag);
  });

  it('serves HEAD as GET', async () => {
    const { call } = apiOver([route({ path: '/rt', class: 'realtime' })]);
    const head = await call({ path: '/rt', method: 'HEAD' });
    assert.equal(head?.status, 200);
    assert.match(head!.headers.etag!, /^"/);
  });

  it('asks the backend once for identical requests within the TTL, and again for another query', async () => {
    let calls = 0;
    const { call } = apiOver([
      route({
        path: '/rt',
        class: 'realtime',
        handle: async (req) => jsonResponse(200, { calls: ++calls, q: req.query }),
      }),
    ]);
    await call({ path: '/rt', query: { a: '1', b: '2' } });
    await call({ path: '/rt', query: { b: '2', a: '1' } });
    assert.equal(calls, 1);
    await call({ path: '/rt', query: { a: '2' } });
    assert.equal(calls, 2);
  });

  it('never caches admin answers, even identical GETs', async () => {
    let calls = 0;
    const { call } = apiOver([
      route({ path: '/admin', class: 'admin', handle: async () => jsonResponse(200, { calls: ++calls }) }),
    ]);
    await call({ path: '/admin' });
    await call({ path: '/admin' });
    assert.equal(calls, 2);
  });

  it('counts requests per class and status, and cache results per class, in its metrics', async () => {
    const { call, registry } = apiOver(
      [route({ path: '/rt', class: 'realtime' }), route({ path: '/admin', class: 'admin', scope: 'admin' })],
      { tokens: TOKENS },
    );
    await call({ path: '/rt' });
    await call({ path: '/rt' });
    await call({ path: '/admin' });
    await call({ path: '/admin', headers: bearer(ADMIN_TOKEN) });
    const text = await registry.metrics();
    assert.match(text, /beacon_api_requests_total\{class="realtime",status="200"\} 2/);
    assert.match(text, /beacon_api_requests_total\{class="admin",status="401"\} 1/);
    assert.match(text, /beacon_api_cache_requests_total\{class="realtime",result="miss"\} 1/);
    assert.match(text, /beacon_api_cache_requests_total\{class="realtime",result="hit"\} 1/);
  });
});
