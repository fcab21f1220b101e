import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import LZString from 'lz-string';
import { startProtocols, type ProtocolCollector } from './harness.js';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { decompressLz64 } from '../../../src/sources/http/posthog/lz64.js';

const KEY = 'phc_test_project_key_123';

describe('the PostHog capture API', () => {
  let c: ProtocolCollector;
  before(async () => {
    c = await startProtocols({
      posthog: { enabled: true, apiKeys: [KEY] },
      server: { cors: { origins: ['https://shop.example'] } },
    });
  });
  after(() => c.close());

  const pageview = (uuid: string) => ({
    event: '$pageview',
    distinct_id: 'user-1',
    uuid,
    timestamp: '2025-06-15T12:00:00.000Z',
    properties: {
      token: KEY,
      $current_url: 'https://shop.example/a',
      $referrer: '$direct',
      $session_id: 's-1',
      $ip: '203.0.113.9',
      $raw_user_agent: 'Mozilla/5.0 Firefox/121.0',
      $lib: 'web',
      plan: 'pro',
    },
  });

  test('maps a single event as documented and answers {"status":1}', async () => {
    const answer = await c.post('/e/', pageview('u-single'));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { status: 1 });
    const event = c.recorder.durable.find((e) => e.id === 'u-single')!;
    assert.match(event.type, /^pageview\.[0-9a-f]{10}$/);
    assert.equal(event.partyId, 'user-1');
    assert.equal(event.sessionId, 's-1');
    assert.equal(event.url, 'https://shop.example/a');
    assert.equal(event.referrer, undefined, '$direct is no referrer');
    assert.equal(event.ip, '203.0.113.9');
    assert.equal(event.ua, 'Mozilla/5.0 Firefox/121.0');
    assert.equal(event.clientTs, Date.parse('2025-06-15T12:00:00.000Z'));
    assert.deepEqual(event.props, {
      $current_url: 'https://shop.example/a',
      $referrer: '$direct',
      $session_id: 's-1',
      $lib: 'web',
      plan: 'pro',
    });
    assert.deepEqual(event.meta, { source: 'posthog', posthog: { event: '$pageview', lib: 'web' } });
  });

  test('reads every body encoding posthog clients send: gzip without a header, base64 form, lz64 form, GET data=', async () => {
    const batch = (id: string) => JSON.stringify({ api_key: KEY, batch: [{ ...pageview(id), event: 'signed up' }] });
    const answers = [
      await c.post('/e/?compression=gzip-js', gzipSync(batch('enc-gzip-param')), { 'Content-Type': 'text/plain' }),
      await c.post('/i/v0/e/', gzipSync(batch('enc-gzip-magic')), { 'Content-Type': 'text/plain' }),
      await c.post(
        '/batch/',
        `data=${encodeURIComponent(Buffer.from(batch('enc-base64')).toString('base64'))}&compression=base64`,
        { 'Content-Type': 'application/x-www-form-urlencoded' },
      ),
      await c.post(
        '/capture/',
        `data=${encodeURIComponent(LZString.compressToBase64(batch('enc-lz64')))}&compression=lz64`,
        { 'Content-Type': 'application/x-www-form-urlencoded' },
      ),
      await c.post('/track', batch('enc-json-plain'), { 'Content-Type': 'text/plain' }),
      await c.send({
        method: 'GET',
        path: `/e/?data=${encodeURIComponent(Buffer.from(batch('enc-get')).toString('base64'))}`,
      }),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
      answers.map((a) => a.text).join('\n'),
    );
    for (const id of ['enc-gzip-param', 'enc-gzip-magic', 'enc-base64', 'enc-lz64', 'enc-json-plain', 'enc-get']) {
      const event = c.recorder.durable.find((e) => e.id === id);
      assert.ok(event, `${id} stored`);
      assert.equal((event.meta.posthog as { event: string }).event, 'signed up');
      assert.match(event.type, /^signed_up\.[0-9a-f]{10}$/);
    }
  });

  test('takes the api key from the Authorization header, and refuses a wrong or missing one with 401', async () => {
    const { properties, ...rest } = pageview('u-header');
    const withoutToken = { ...rest, properties: { ...properties, token: undefined } };
    assert.equal((await c.post('/e/', withoutToken, { Authorization: `Bearer ${KEY}` })).status, 200);
    const wrong = await c.post('/e/', { ...withoutToken, uuid: 'u-wrong', api_key: 'phc_wrong' });
    assert.equal(wrong.status, 401);
    assert.equal((wrong.json() as { code: string }).code, 'BEACON_E_POSTHOG_UNAUTHORIZED');
    assert.equal(wrong.text.includes(KEY), false, 'the answer never echoes a key');
    assert.equal((await c.post('/e/', { ...withoutToken, uuid: 'u-missing' })).status, 401);
    assert.ok((await c.rejected('posthog', 'BEACON_E_POSTHOG_UNAUTHORIZED')) >= 2);
  });

  test('keeps the good events of a batch and names the bad ones', async () => {
    const answer = await c.post('/batch/', {
      api_key: KEY,
      batch: [pageview('b-good'), { event: 'x', uuid: 'b-bad' }],
    });
    assert.equal(answer.status, 200);
    const body = answer.json() as {
      status: number;
      accepted: number;
      rejected: Array<{ index: number; code: string }>;
    };
    assert.equal(body.status, 1);
    assert.equal(body.accepted, 1);
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [[1, 'BEACON_E_BAD_EVENT']],
    );
  });

  test('maps an /engage/ update to $identify', async () => {
    const answer = await c.post('/engage/', { $token: KEY, $distinct_id: 'user-9', $set: { email: 'a@example.com' } });
    assert.equal(answer.status, 200);
    const event = c.recorder.durable.find((e) => e.partyId === 'user-9')!;
    assert.deepEqual(event.props, { $set: { email: 'a@example.com' } });
    assert.equal((event.meta.posthog as { event: string }).event, '$identify');
  });

  test('answers /flags, /decide and the remote config empty, so posthog-js runs without flags', async () => {
    const flags = await c.post('/flags/?v=2', { token: KEY, distinct_id: 'x' });
    assert.equal(flags.status, 200);
    assert.deepEqual((flags.json() as { flags: object; featureFlags: object }).flags, {});
    assert.deepEqual((await c.post('/decide/?v=3', {})).json() && {}, {});
    const config = await c.send({ method: 'GET', path: `/array/${KEY}/config` });
    assert.equal(config.status, 200);
    assert.equal((config.json() as { hasFeatureFlags: boolean }).hasFeatureFlags, false);
    const script = await c.send({ method: 'GET', path: `/array/${KEY}/config.js` });
    assert.match(String(script.headers['content-type']), /javascript/);
    assert.match(script.text, /_POSTHOG_REMOTE_CONFIG/);
    assert.equal((await c.send({ method: 'GET', path: '/array/phc_other/config' })).status, 401);
  });

  test('answers a preflight from an allowed origin with that origin and credentials, and none from another', async () => {
    const ok = await c.send({
      method: 'OPTIONS',
      path: '/e/',
      headers: {
        Origin: 'https://shop.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const other = await c.send({
      method: 'OPTIONS',
      path: '/e/',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  test('counts received and rejected under source="posthog"', async () => {
    assert.ok((await c.received('posthog')) >= 10);
    assert.ok((await c.rejected('posthog', 'BEACON_E_BAD_EVENT')) >= 1);
  });

  test('never refuses an event PostHog takes for its props: nested deeper than server.limits.propsDepth, larger than propsBytes', async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 12; i++) deep = { level: deep };
    const big = 'x'.repeat(200 * 1024);
    const answer = await c.post('/e/', { ...pageview('u-deep'), properties: { token: KEY, deep, big } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(c.recorder.durable.find((e) => e.id === 'u-deep')!.props.big, big);
  });

  test("takes a batch past server.limits.bodyBytes up to PostHog's 20 MB, also when the client asks to continue first", async () => {
    const big = 'y'.repeat(700 * 1024);
    const body = JSON.stringify({
      api_key: KEY,
      batch: [0, 1, 2].map((n) => ({ ...pageview(`u-big-${n}`), properties: { big } })),
    });
    assert.ok(body.length > 2 * 1024 * 1024);
    const answer = await c.send({
      method: 'POST',
      path: '/batch/',
      body,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        Expect: '100-continue',
      },
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal((answer.json() as { accepted: number }).accepted, 3);
  });

  test('answers only once the events are durable, and 503 with Retry-After when the log is full, which posthog clients retry', async () => {
    c.recorder.hold();
    let answered = false;
    const pending = c
      .post('/batch/', { api_key: KEY, batch: [pageview('held-1')] })
      .then((a) => ((answered = true), a));
    await c.recorder.waitForPending(1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(answered, false, 'no answer while the append is pending');
    c.recorder.release();
    assert.equal((await pending).status, 200);

    c.recorder.failWith(new BeaconError('BEACON_E_LOG_FULL', 'the log is full', { retryAfterSeconds: 3 }));
    try {
      const full = await c.post('/e/', pageview('full-1'));
      assert.equal(full.status, 503);
      assert.equal(full.headers['retry-after'], '3');
      assert.equal(await c.rejected('posthog', 'BEACON_E_LOG_FULL'), 1);
    } finally {
      c.recorder.failWith(undefined);
    }
  });

  test('refuses an lz64 body that expands past the cap, in a worker that costs at most the cap', async () => {
    // A run of one character compresses to almost nothing (200 kB to about 1 kB) and expands back.
    const bomb = LZString.compressToBase64('a'.repeat(200_000));
    assert.ok(bomb.length < 2000);
    await assert.rejects(
      decompressLz64(bomb, 100_000),
      (err: BeaconError) => err.code === 'BEACON_E_DECOMPRESSED_TOO_LARGE',
    );
    assert.equal((await decompressLz64(bomb, 300_000)).length, 200_000);
    await assert.rejects(
      decompressLz64('@@not lz@@', 1000),
      (err: BeaconError) => err.code === 'BEACON_E_BAD_ENCODING',
    );
    // Many at once take turns and all finish.
    const texts = await Promise.all(
      Array.from({ length: 5 }, (_, i) => decompressLz64(LZString.compressToBase64(`{"n":${i}}`), 1000)),
    );
    assert.deepEqual(
      texts,
      [0, 1, 2, 3, 4].map((i) => `{"n":${i}}`),
    );
  });
});
