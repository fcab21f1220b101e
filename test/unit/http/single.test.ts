import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { postJson, rejectedCount, startCollector, type Collector } from './harness.js';

describe('POST /t/<type> (one event)', () => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector();
  });
  after(() => collector.close());

  test('it records the JSON body as props and answers 204', async () => {
    const answer = await postJson(
      collector,
      '/t/signup',
      { plan: 'pro', seats: 3, tags: ['a'] },
      { Referer: 'https://app.example/signup', 'User-Agent': 'ua/2' },
    );
    assert.equal(answer.status, 204);
    const [event] = collector.recorder.calls.at(-1)!;
    assert.equal(event!.type, 'signup');
    assert.deepEqual(event!.props, { plan: 'pro', seats: 3, tags: ['a'] });
    assert.equal(event!.url, 'https://app.example/signup');
    assert.equal(event!.ua, 'ua/2');
    assert.equal(event!.meta.source, 'http');
  });

  test('it reads a text/plain body as JSON, as navigator.sendBeacon sends a string', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/t/beacon',
      body: '{"a":1}',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(answer.status, 204);
    assert.deepEqual(collector.recorder.calls.at(-1)![0]!.props, { a: 1 });
  });

  test('it records empty props for an empty body and for a body without Content-Type', async () => {
    assert.equal((await collector.send({ method: 'POST', path: '/t/empty' })).status, 204);
    assert.deepEqual(collector.recorder.calls.at(-1)![0]!.props, {});
    assert.equal((await collector.send({ method: 'POST', path: '/t/untyped', body: '{"b":2}' })).status, 204);
    assert.deepEqual(collector.recorder.calls.at(-1)![0]!.props, { b: 2 });
  });

  test('it accepts gzip, zlib deflate and raw deflate bodies', async () => {
    const body = JSON.stringify({ compressed: true, filler: 'z'.repeat(1000) });
    for (const [encoding, bytes] of [
      ['gzip', gzipSync(body)],
      ['deflate', deflateSync(body)],
      ['deflate', deflateRawSync(body)],
    ] as const) {
      const answer = await collector.send({
        method: 'POST',
        path: '/t/zipped',
        body: bytes,
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding },
      });
      assert.equal(answer.status, 204, encoding);
      assert.equal(collector.recorder.calls.at(-1)![0]!.props.compressed, true);
    }
  });

  test('it refuses a body that is not the named encoding with 400 BEACON_E_BAD_ENCODING', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/t/zipped',
      body: '{"not":"gzip"}',
      headers: { 'Content-Encoding': 'gzip' },
    });
    assert.equal(answer.status, 400);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_ENCODING');
  });

  test('it refuses an unsupported Content-Encoding with 400 BEACON_E_BAD_ENCODING', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/t/zipped',
      body: 'xx',
      headers: { 'Content-Encoding': 'br' },
    });
    assert.equal(answer.status, 400);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_ENCODING');
  });

  test('it refuses bad JSON with 400 BEACON_E_BAD_JSON and counts it', async () => {
    const before = await rejectedCount(collector, 'BEACON_E_BAD_JSON');
    const calls = collector.recorder.calls.length;
    const answer = await postJson(collector, '/t/signup', '{"plan": pro}');
    assert.equal(answer.status, 400);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_JSON');
    assert.equal(collector.recorder.calls.length, calls);
    assert.equal(await rejectedCount(collector, 'BEACON_E_BAD_JSON'), before + 1);
  });

  test('it refuses a body that is not a JSON object with 400 BEACON_E_BAD_EVENT', async () => {
    for (const body of ['[1,2]', '"text"', 'null', '42']) {
      const answer = await postJson(collector, '/t/signup', body);
      assert.equal(answer.status, 400, body);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_EVENT', body);
    }
  });

  test('it refuses a form-encoded body with 415 BEACON_E_UNSUPPORTED_MEDIA_TYPE', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/t/signup',
      body: 'a=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(answer.status, 415);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_UNSUPPORTED_MEDIA_TYPE');
  });

  test('it refuses a bad type in the path with 400 BEACON_E_BAD_TYPE', async () => {
    const answer = await postJson(collector, '/t/bad%20type', { a: 1 });
    assert.equal(answer.status, 400);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_TYPE');
  });
});

describe('props limits on JSON bodies', () => {
  test('it refuses props larger than propsBytes with 400 BEACON_E_PROPS_TOO_LARGE', async () => {
    const collector = await startCollector({ server: { limits: { propsBytes: 200 } } });
    try {
      assert.equal((await postJson(collector, '/t/x', { a: 'y'.repeat(150) })).status, 204);
      const answer = await postJson(collector, '/t/x', { a: 'y'.repeat(250) });
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_LARGE');
      // Multi-byte characters count as their UTF-8 bytes.
      const wide = await postJson(collector, '/t/x', { a: 'é'.repeat(120) });
      assert.equal((wide.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_LARGE');
    } finally {
      await collector.close();
    }
  });

  test('it refuses props nested deeper than propsDepth with 400 BEACON_E_PROPS_TOO_DEEP', async () => {
    const collector = await startCollector({ server: { limits: { propsDepth: 3 } } });
    try {
      assert.equal((await postJson(collector, '/t/x', { a: { b: [1] } })).status, 204);
      const answer = await postJson(collector, '/t/x', { a: { b: [[1]] } });
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_DEEP');
      assert.equal(await rejectedCount(collector, 'BEACON_E_PROPS_TOO_DEEP'), 1);
    } finally {
      await collector.close();
    }
  });

  test('it refuses a pathologically deep body before parsing it, with BEACON_E_JSON_TOO_DEEP', async () => {
    const collector = await startCollector();
    try {
      const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      const answer = await postJson(collector, '/t/x', deep);
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_JSON_TOO_DEEP');
    } finally {
      await collector.close();
    }
  });
});
