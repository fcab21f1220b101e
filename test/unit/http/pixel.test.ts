import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricValue, receivedCount, rejectedCount, startCollector, type Collector } from './harness.js';

describe('GET /t/<type> (pixel)', () => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector();
  });
  after(() => collector.close());

  test('it records one event with the query as props and answers 204 with no-cache headers', async () => {
    const before = collector.recorder.calls.length;
    const answer = await collector.send({
      path: '/t/page_view?path=%2Fhome&tag=a&tag=b&q=x+y',
      headers: { 'User-Agent': 'test-agent/1.0', Referer: 'https://shop.example/home' },
    });
    assert.equal(answer.status, 204);
    assert.equal(answer.body.length, 0);
    assert.equal(answer.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(answer.headers.pragma, 'no-cache');
    assert.equal(collector.recorder.calls.length, before + 1);
    const [event] = collector.recorder.calls.at(-1)!;
    assert.equal(event!.type, 'page_view');
    assert.deepEqual(event!.props, { path: '/home', tag: ['a', 'b'], q: 'x y' });
    assert.equal(event!.ua, 'test-agent/1.0');
    assert.equal(event!.url, 'https://shop.example/home');
    assert.equal(event!.ip, '127.0.0.1');
    assert.deepEqual(event!.meta, { source: 'http' });
    assert.match(event!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(Math.abs(event!.ts - Date.now()) < 5000);
    assert.equal(event!.clientTs, undefined);
  });

  test('it answers a 43-byte transparent GIF for /t/<type>.gif', async () => {
    const answer = await collector.send({ path: '/t/open.mail.gif?campaign=spring' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'image/gif');
    assert.equal(answer.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(answer.headers.expires, '0');
    assert.equal(answer.body.length, 43);
    assert.equal(answer.body.subarray(0, 6).toString('latin1'), 'GIF89a');
    const [event] = collector.recorder.calls.at(-1)!;
    assert.equal(event!.type, 'open.mail');
    assert.deepEqual(event!.props, { campaign: 'spring' });
  });

  test('it records empty props for a pixel without a query, and keeps keys without values', async () => {
    assert.equal((await collector.send({ path: '/t/ping' })).status, 204);
    assert.deepEqual(collector.recorder.calls.at(-1)![0]!.props, {});
    assert.equal((await collector.send({ path: '/t/ping?flag&=nokey&x=' })).status, 204);
    assert.deepEqual(collector.recorder.calls.at(-1)![0]!.props, { flag: '', x: '' });
  });

  test('it keeps a malformed percent escape as written instead of failing', async () => {
    const answer = await collector.send({ path: '/t/ping?bad=%E0%A4%A&ok=%C3%A9' });
    assert.equal(answer.status, 204);
    const props = collector.recorder.calls.at(-1)![0]!.props;
    assert.equal(props.ok, 'é');
    assert.equal(typeof props.bad, 'string');
  });

  test('it stores a __proto__ query key as an ordinary prop', async () => {
    const answer = await collector.send({ path: '/t/ping?__proto__=x&constructor=y' });
    assert.equal(answer.status, 204);
    const props = collector.recorder.calls.at(-1)![0]!.props;
    assert.equal(Object.getPrototypeOf(props), Object.prototype);
    assert.equal(JSON.stringify(props), '{"__proto__":"x","constructor":"y"}');
  });

  test('it refuses a type that does not match the pattern with 400 BEACON_E_BAD_TYPE', async () => {
    const calls = collector.recorder.calls.length;
    const before = await rejectedCount(collector, 'BEACON_E_BAD_TYPE');
    for (const path of ['/t/', '/t/has%20space', '/t/a/b', `/t/${'x'.repeat(65)}`, '/t/-leading']) {
      const answer = await collector.send({ path });
      assert.equal(answer.status, 400, path);
      assert.deepEqual(Object.keys(answer.json() as object), ['code', 'message']);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_TYPE', path);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    }
    assert.equal(collector.recorder.calls.length, calls);
    assert.equal(await rejectedCount(collector, 'BEACON_E_BAD_TYPE'), before + 5);
  });

  test('it counts received events and observes the ack latency', async () => {
    const received = await receivedCount(collector);
    const acks = await metricValue(
      collector.metrics.ingestAckSeconds,
      { source: 'http' },
      'beacon_ingest_ack_seconds_count',
    );
    await collector.send({ path: '/t/ping?a=1' });
    await collector.send({ path: '/t/ping.gif?a=2' });
    assert.equal(await receivedCount(collector), received + 2);
    assert.equal(
      await metricValue(collector.metrics.ingestAckSeconds, { source: 'http' }, 'beacon_ingest_ack_seconds_count'),
      acks + 2,
    );
  });
});

describe('pixel props limits', () => {
  test('it refuses a pixel whose props exceed propsBytes with 400 BEACON_E_PROPS_TOO_LARGE', async () => {
    const collector = await startCollector({ server: { limits: { propsBytes: 100 } } });
    try {
      assert.equal((await collector.send({ path: `/t/ping?a=${'x'.repeat(50)}` })).status, 204);
      const answer = await collector.send({ path: `/t/ping?a=${'x'.repeat(200)}` });
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_LARGE');
      assert.equal(await rejectedCount(collector, 'BEACON_E_PROPS_TOO_LARGE'), 1);
    } finally {
      await collector.close();
    }
  });

  test('it refuses repeated query keys when propsDepth is 1 (arrays nest one level)', async () => {
    const collector = await startCollector({ server: { limits: { propsDepth: 1 } } });
    try {
      assert.equal((await collector.send({ path: '/t/ping?a=1&b=2' })).status, 204);
      const answer = await collector.send({ path: '/t/ping?a=1&a=2' });
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_DEEP');
    } finally {
      await collector.close();
    }
  });
});
