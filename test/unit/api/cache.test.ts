import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonResponse, type AdminResponse } from '../../../src/api/adminRequest.js';
import { cacheKey, etagOf, ifNoneMatchHits, ResponseCache } from '../../../src/api/cache.js';
import { ManualClock } from './fixtures.js';

const ok = (value: unknown): AdminResponse => jsonResponse(200, value);

function cache(options: Partial<{ maxEntries: number; maxBytes: number }> = {}, clock = new ManualClock()) {
  return { cache: new ResponseCache({ maxEntries: 100, maxBytes: 1024 * 1024, clock, ...options }), clock };
}

describe('the API micro-cache', () => {
  it('serves a kept answer until its TTL passes on the clock, then asks the backend again', async () => {
    const { cache: c, clock } = cache();
    let calls = 0;
    const produce = async () => ok({ calls: ++calls });
    assert.equal((await c.get('k', 2000, produce)).result, 'miss');
    clock.advance(1999);
    const hit = await c.get('k', 2000, produce);
    assert.equal(hit.result, 'hit');
    assert.equal(JSON.parse(hit.answer.response.body).calls, 1);
    clock.advance(1);
    const again = await c.get('k', 2000, produce);
    assert.equal(again.result, 'miss');
    assert.equal(JSON.parse(again.answer.response.body).calls, 2);
  });

  it('coalesces 50 identical concurrent requests into one backend call', async () => {
    const { cache: c } = cache();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const produce = async () => {
      calls++;
      await gate;
      return ok({ rows: [1, 2, 3] });
    };
    const all = Array.from({ length: 50 }, () => c.get('GET /api/v1/counts?minutes=5', 2000, produce));
    await new Promise((r) => setImmediate(r));
    release();
    const results = await Promise.all(all);
    assert.equal(calls, 1);
    assert.equal(results.filter((r) => r.result === 'miss').length, 1);
    assert.equal(results.filter((r) => r.result === 'coalesced').length, 49);
    assert.ok(results.every((r) => r.answer.response.body === '{"rows":[1,2,3]}'));
  });

  it('coalesces even with a TTL of 0, but keeps nothing then', async () => {
    const { cache: c } = cache();
    let calls = 0;
    const produce = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return ok({});
    };
    await Promise.all([c.get('k', 0, produce), c.get('k', 0, produce)]);
    assert.equal(calls, 1);
    await c.get('k', 0, produce);
    assert.equal(calls, 2);
    assert.equal(c.size.entries, 0);
  });

  it('hands a failure to every waiter and keeps nothing, so the next request tries again', async () => {
    const { cache: c } = cache();
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('store down');
    };
    const settled = await Promise.allSettled([c.get('k', 2000, failing), c.get('k', 2000, failing)]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['rejected', 'rejected'],
    );
    assert.equal(calls, 1);
    assert.equal((await c.get('k', 2000, async () => ok({}))).result, 'miss');
  });

  it('keeps only 200 answers', async () => {
    const { cache: c } = cache();
    let calls = 0;
    const notFound = async () => {
      calls++;
      return jsonResponse(404, { code: 'BEACON_E_NOT_FOUND', message: 'no such event' });
    };
    await c.get('k', 2000, notFound);
    await c.get('k', 2000, notFound);
    assert.equal(calls, 2);
  });

  it('holds at most maxEntries answers, dropping the least recently used', async () => {
    const { cache: c } = cache({ maxEntries: 2 });
    const produce = (v: string) => async () => ok(v);
    await c.get('a', 60_000, produce('a'));
    await c.get('b', 60_000, produce('b'));
    await c.get('a', 60_000, produce('a2')); // a is now the most recent
    await c.get('c', 60_000, produce('c')); // evicts b
    assert.equal(c.size.entries, 2);
    assert.equal((await c.get('a', 60_000, produce('x'))).result, 'hit');
    assert.equal((await c.get('b', 60_000, produce('b2'))).result, 'miss');
  });

  it('holds at most maxBytes of answers, and never keeps one bigger than the whole budget', async () => {
    const { cache: c } = cache({ maxBytes: 2500 });
    const body = (n: number) => async () => ok('x'.repeat(n));
    await c.get('a', 60_000, body(1000));
    await c.get('b', 60_000, body(1000));
    await c.get('c', 60_000, body(1000)); // 3 x ~1000 > 2500: a goes
    assert.ok(c.size.bytes <= 2500, `holds ${c.size.bytes} bytes`);
    assert.equal(c.size.entries, 2);
    assert.equal((await c.get('a', 60_000, body(1000))).result, 'miss');
    await c.get('huge', 60_000, body(5000));
    assert.equal((await c.get('huge', 60_000, body(5000))).result, 'miss');
    assert.ok(c.size.bytes <= 2500);
  });

  it('keys requests by method, path and sorted query', () => {
    assert.equal(cacheKey('GET', '/api/v1/x', { b: '2', a: '1 2' }), 'GET /api/v1/x?a=1+2&b=2');
    assert.equal(cacheKey('GET', '/api/v1/x', {}), 'GET /api/v1/x');
    assert.notEqual(cacheKey('GET', '/p', { a: 'b&c=d' }), cacheKey('GET', '/p', { a: 'b', c: 'd' }));
  });

  it('makes a strong ETag from the body, and matches If-None-Match lists, weak forms and *', () => {
    const tag = etagOf('{"a":1}');
    assert.equal(tag, etagOf('{"a":1}'));
    assert.notEqual(tag, etagOf('{"a":2}'));
    assert.ok(ifNoneMatchHits(tag, tag));
    assert.ok(ifNoneMatchHits(`"x", W/${tag}`, tag));
    assert.ok(ifNoneMatchHits('*', tag));
    assert.ok(!ifNoneMatchHits('"x"', tag));
    assert.ok(!ifNoneMatchHits(undefined, tag));
  });
});
