import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { redactConfig } from '../../../src/config/redact.js';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { processStrictCheck } from '../../../src/schemas/processSchemas.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import { SEGMENT_BATCH_MESSAGES } from '../../../src/sources/http/segment/segmentApi.js';
import { compatibleType } from '../../../src/event/compatibleType.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';
import { metricValue, send, type Answer } from '../http/harness.js';

const KEY = 'wk_test_0123456789';

interface SegmentCollector {
  port: number;
  recorder: RecordingEmit;
  metrics: Metrics;
  http: BeaconHttpServer;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
}

/** A real collector on a free port, configured through the real schema as a user writes it. */
async function startSegment(raw: Record<string, unknown>): Promise<SegmentCollector> {
  const config = configSchema.parse(raw);
  const recorder = createRecordingEmit();
  const metrics = createMetrics();
  const http = createHttpServer({
    config: config.server,
    emit: recorder.emit,
    metrics,
    logger: silentLogger,
    segment: config.segment,
    schemaCheck: processStrictCheck(config, metrics),
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return {
    port,
    recorder,
    metrics,
    http,
    post: (path, body, headers = {}) =>
      send(port, {
        method: 'POST',
        path,
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...headers },
      }),
  };
}

const basic = (key: string) => ({ Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` });

describe('the Segment API', () => {
  let c: SegmentCollector;
  before(async () => {
    c = await startSegment({ segment: { enabled: true, writeKeys: [KEY, 'wk_other_key_abcdef'] } });
  });
  after(async () => {
    await c.http.drain(1000);
  });

  test('answers a track call with 200 {"success":true} once the event is durable', async () => {
    const res = await c.post(
      '/v1/track',
      { event: 'Signed Up', userId: 'u1', messageId: 'm-track-1', properties: { plan: 'pro' } },
      basic(KEY),
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true });
    const event = c.recorder.durable.find((e) => e.id === 'm-track-1');
    assert.deepEqual(
      [event?.type, event?.props, event?.partyId, event?.meta.source],
      [compatibleType('Signed Up'), { plan: 'pro' }, 'u1', 'segment'],
    );
  });

  test('takes the write key from the body, as analytics.js sends it with text/plain', async () => {
    const res = await c.post(
      '/v1/p',
      { writeKey: KEY, anonymousId: 'a1', messageId: 'm-page-1', name: 'Home' },
      { 'Content-Type': 'text/plain' },
    );
    assert.equal(res.status, 200, res.text);
    const event = c.recorder.durable.find((e) => e.id === 'm-page-1');
    assert.deepEqual([event?.type, event?.props], ['page', { name: 'Home' }]);
    assert.equal(JSON.stringify(event).includes(KEY), false, 'the write key is not written anywhere in the event');
  });

  test('refuses a missing or wrong write key with 401 and a code, storing nothing', async () => {
    const before = c.recorder.calls.length;
    const cases: Array<[Record<string, unknown>, Record<string, string>]> = [
      [{ event: 'x', userId: 'u' }, {}],
      [{ event: 'x', userId: 'u' }, basic('wk_wrong_key_000000')],
      [{ event: 'x', userId: 'u' }, { Authorization: 'Bearer something' }],
      [{ event: 'x', userId: 'u', writeKey: 'wk_wrong_key_000000' }, {}],
      // A right key in the body does not rescue a wrong one in the header.
      [{ event: 'x', userId: 'u', writeKey: KEY }, basic('wk_wrong_key_000000')],
    ];
    for (const [body, headers] of cases) {
      const res = await c.post('/v1/track', body, headers);
      assert.equal(res.status, 401, `${JSON.stringify(headers)}: ${res.text}`);
      const answer = res.json() as { code: string; message: string };
      assert.equal(answer.code, 'BEACON_E_SEGMENT_UNAUTHORIZED');
      assert.match(answer.message, /segment\.writeKeys/);
      assert.equal(res.text.includes('wk_wrong_key_000000'), false, 'the key sent is never echoed');
    }
    assert.equal(c.recorder.calls.length, before);
    assert.equal(
      await metricValue(c.metrics.eventsRejected, { source: 'segment', code: 'BEACON_E_SEGMENT_UNAUTHORIZED' }),
      cases.length,
    );
  });

  test('a batch is one emit; bad messages are listed per index and the rest are kept', async () => {
    const calls = c.recorder.calls.length;
    const receivedBefore = await metricValue(c.metrics.eventsReceived, { source: 'segment' });
    const res = await c.post(
      '/v1/batch',
      {
        batch: [
          { type: 'identify', userId: 'u2', traits: { email: 'u2@example.com' }, messageId: 'b-1' },
          { type: 'track', event: 'Clicked', anonymousId: 'a2', messageId: 'b-2' },
          { type: 'track', anonymousId: 'a2' },
          { type: 'group', userId: 'u2', groupId: 'acme', messageId: 'b-4' },
        ],
        context: { library: { name: 'analytics-node', version: '3' } },
        sentAt: new Date().toISOString(),
      },
      basic('wk_other_key_abcdef'),
    );
    assert.equal(res.status, 200, res.text);
    const answer = res.json() as { success: boolean; accepted: number; rejected: { index: number; code: string }[] };
    assert.deepEqual(
      [answer.success, answer.accepted, answer.rejected.map((r) => [r.index, r.code])],
      [false, 3, [[2, 'BEACON_E_BAD_EVENT']]],
    );
    assert.equal(c.recorder.calls.length, calls + 1);
    assert.deepEqual(
      c.recorder.calls.at(-1)!.map((e) => [e.id, e.type]),
      [
        ['b-1', 'identify'],
        ['b-2', 'Clicked'],
        ['b-4', 'group'],
      ],
    );
    assert.deepEqual(c.recorder.calls.at(-1)![0]!.meta.context, { library: { name: 'analytics-node', version: '3' } });
    assert.equal((await metricValue(c.metrics.eventsReceived, { source: 'segment' })) - receivedBefore, 4);
  });

  test('/v1/import and /v1/b take batches too', async () => {
    for (const path of ['/v1/import', '/v1/b']) {
      const res = await c.post(path, {
        writeKey: KEY,
        batch: [{ type: 'screen', userId: 'u', name: 'Settings', messageId: `s-${path}` }],
      });
      assert.deepEqual([res.status, res.json()], [200, { success: true, accepted: 1, rejected: [] }]);
    }
  });

  test('refuses malformed bodies, methods and unknown endpoints with their codes', async () => {
    const cases: Array<[() => Promise<Answer>, number, string]> = [
      [() => c.post('/v1/track', '{not json', basic(KEY)), 400, 'BEACON_E_BAD_JSON'],
      [() => c.post('/v1/track', [1, 2], basic(KEY)), 400, 'BEACON_E_BAD_EVENT'],
      [() => c.post('/v1/batch', { batch: 'nope' }, basic(KEY)), 400, 'BEACON_E_BAD_EVENT'],
      [
        () =>
          c.post('/v1/track', 'event=x&userId=u', {
            ...basic(KEY),
            'Content-Type': 'application/x-www-form-urlencoded',
          }),
        400,
        'BEACON_E_BAD_JSON',
      ],
      [
        () => send(c.port, { method: 'GET', path: '/v1/track', headers: basic(KEY) }),
        405,
        'BEACON_E_METHOD_NOT_ALLOWED',
      ],
      [() => c.post('/v1/delete', { userId: 'u' }, basic(KEY)), 404, 'BEACON_E_NOT_FOUND'],
    ];
    for (const [call, status, code] of cases) {
      const res = await call();
      assert.deepEqual([res.status, (res.json() as { code: string }).code], [status, code], res.text);
    }
  });

  test('takes a JSON body whatever media type it declares, plain or gzip, as Segment does', async () => {
    const types = [
      undefined,
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'text/html; charset=utf-8',
      'multipart/form-data',
      'nonsense',
    ];
    for (const [i, type] of types.entries()) {
      for (const gzip of [false, true]) {
        const id = `media-${i}-${gzip}`;
        const json = JSON.stringify({ batch: [{ type: 'track', event: 'Media Type', userId: 'u', messageId: id }] });
        const headers: Record<string, string> = {
          ...basic(KEY),
          ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
          ...(type === undefined ? {} : { 'Content-Type': type }),
        };
        const res = await send(c.port, {
          method: 'POST',
          path: '/v1/batch',
          body: gzip ? gzipSync(json) : json,
          headers,
        });
        assert.deepEqual(
          [res.status, res.json()],
          [200, { success: true, accepted: 1, rejected: [] }],
          `${type} gzip=${gzip}`,
        );
        assert.ok(
          c.recorder.durable.some((e) => e.id === id),
          `${id} stored`,
        );
      }
    }
  });

  test('takes names in any script and with any prefix in a batch: success true, every event under a distinct valid type', async () => {
    const names = [
      'Äpfel gekauft',
      '$pageleave',
      '_internal',
      '購入完了',
      'ログイン',
      '注册成功',
      'Заказ',
      'x'.repeat(90),
      'Order Completed',
    ];
    const res = await c.post(
      '/v1/batch',
      { batch: names.map((event, i) => ({ type: 'track', event, userId: 'u', messageId: `names-${i}` })) },
      basic(KEY),
    );
    assert.deepEqual([res.status, res.json()], [200, { success: true, accepted: names.length, rejected: [] }]);
    const stored = names.map((name, i) => c.recorder.durable.find((e) => e.id === `names-${i}`)!);
    assert.deepEqual(
      stored.map((e) => (e.meta.segment as { event?: string }).event ?? e.type),
      names,
      'the original names in meta.segment.event',
    );
    for (const e of stored) assert.match(e.type, /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);
    assert.equal(new Set(stored.map((e) => e.type)).size, names.length);
  });

  test('takes as many messages as fit in 500 KB, more than server.limits.batchEvents, and refuses more as a whole', async () => {
    const small = (n: number) => Array.from({ length: n }, () => ({ type: 'page', userId: 'u' }));
    const fits = await c.post('/v1/batch', { batch: small(5000) }, basic(KEY));
    assert.deepEqual([fits.status, (fits.json() as { accepted: number }).accepted], [200, 5000]);
    const res = await c.post('/v1/batch', { batch: small(SEGMENT_BATCH_MESSAGES + 1) }, basic(KEY));
    assert.deepEqual([res.status, (res.json() as { code: string }).code], [413, 'BEACON_E_BATCH_TOO_LARGE']);
  });

  test('answers 503 with Retry-After when the log is full, so the SDK retries', async () => {
    c.recorder.failWith(new BeaconError('BEACON_E_LOG_FULL', 'log full', { retryAfterSeconds: 3 }));
    try {
      const res = await c.post('/v1/track', { event: 'x', userId: 'u' }, basic(KEY));
      assert.deepEqual([res.status, res.headers['retry-after']], [503, '3']);
    } finally {
      c.recorder.failWith(undefined);
    }
  });
});

describe('the Segment API from a browser page', () => {
  test("answers analytics.js's CORS preflight (it sends Authorization) for a listed origin, and no other", async () => {
    const c = await startSegment({
      segment: { enabled: true, writeKeys: [KEY] },
      server: { cors: { origins: ['https://shop.example'] } },
    });
    try {
      const preflight = (origin: string) =>
        send(c.port, {
          method: 'OPTIONS',
          path: '/v1/t',
          headers: {
            Origin: origin,
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'authorization,content-type',
          },
        });
      const allowed = await preflight('https://shop.example');
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://shop.example');
      assert.match(String(allowed.headers['access-control-allow-methods']), /POST/);
      assert.match(String(allowed.headers['access-control-allow-headers']), /authorization/i);
      const other = await preflight('https://elsewhere.example');
      assert.equal(other.headers['access-control-allow-origin'], undefined, 'an unlisted origin gets no CORS headers');
      const call = await c.post(
        '/v1/t',
        { writeKey: KEY, event: 'x', anonymousId: 'a' },
        { ...basic(KEY), Origin: 'https://shop.example', 'Content-Type': 'text/plain' },
      );
      assert.deepEqual([call.status, call.headers['access-control-allow-origin']], [200, 'https://shop.example']);
    } finally {
      await c.http.drain(1000);
    }
  });
});

describe("the Segment API under limits lower than Segment's", () => {
  test('cannot start with a type pattern that no derived name can match: BEACON_E_CONFIG_FIELD says why', async () => {
    await assert.rejects(
      startSegment({ segment: { enabled: true, writeKeys: [KEY] }, server: { limits: { typePattern: '^[a-z]+$' } } }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'BEACON_E_CONFIG_FIELD');
        assert.match(err.message, /server\.limits\.typePattern cannot hold Segment event names/);
        return true;
      },
    );
  });

  test('still takes 30 KB messages nested 41 deep in a 450 KB batch, all of them', async () => {
    const c = await startSegment({
      segment: { enabled: true, writeKeys: [KEY] },
      server: {
        limits: { bodyBytes: '64KB', decompressedBytes: '64KB', batchEvents: 5, propsBytes: '4KB', propsDepth: 4 },
      },
    });
    try {
      let deep: Record<string, unknown> = { leaf: 'z'.repeat(30_000) };
      for (let i = 0; i < 40; i++) deep = { d: deep };
      const batch = Array.from({ length: 15 }, (_, i) => ({
        type: 'track',
        event: 'Big Nested',
        userId: 'u',
        messageId: `big-${i}`,
        properties: deep,
      }));
      const body = JSON.stringify({ batch });
      assert.ok(body.length > 450_000 && body.length < 500 * 1024, `${body.length} bytes`);
      const res = await c.post('/v1/batch', body, basic(KEY));
      assert.deepEqual([res.status, res.json()], [200, { success: true, accepted: 15, rejected: [] }]);
      assert.equal(c.recorder.durable.length, 15);
      // A client that asks first (Expect: 100-continue) is told to go on, too.
      const asked = await c.post('/v1/batch', JSON.stringify({ batch: batch.slice(0, 3) }), {
        ...basic(KEY),
        Expect: '100-continue',
      });
      assert.deepEqual([asked.status, (asked.json() as { accepted: number }).accepted], [200, 3]);
      const native = await c.post('/batch', JSON.stringify([{ type: 'x', props: { blob: 'y'.repeat(70_000) } }]), {
        Expect: '100-continue',
      });
      assert.equal(native.status, 413, 'the native endpoints keep server.limits.bodyBytes');
    } finally {
      await c.http.drain(1000);
    }
  });
});

describe('the Segment API when it is not enabled', () => {
  test('is not served: /v1/... is 404 like any unknown path', async () => {
    const c = await startSegment({});
    try {
      const res = await c.post('/v1/track', { event: 'x', userId: 'u' }, basic(KEY));
      assert.deepEqual([res.status, (res.json() as { code: string }).code], [404, 'BEACON_E_NOT_FOUND']);
      assert.equal(c.recorder.calls.length, 0);
    } finally {
      await c.http.drain(1000);
    }
  });

  test('cannot be enabled without a write key', () => {
    const parsed = configSchema.safeParse({ segment: { enabled: true } });
    assert.equal(parsed.success, false);
    assert.match(JSON.stringify(parsed.error?.issues), /writeKeys/);
  });
});

describe('Segment write keys in printed config', () => {
  test('are redacted by check-config and the admin API', () => {
    const shown = redactConfig(
      configSchema.parse({ segment: { enabled: true, writeKeys: [KEY, 'wk_other_key_abcdef'] } }),
    );
    assert.deepEqual(shown.segment.writeKeys, ['***', '***']);
    assert.equal(JSON.stringify(shown).includes(KEY), false);
  });
});

describe('the Segment API with strict schemas', () => {
  test('refuses a call whose properties fail the schema with 400 and the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-segment-schemas-'));
    writeFileSync(
      join(dir, `${compatibleType('Signed Up')}.json`),
      JSON.stringify({ type: 'object', required: ['plan'], properties: { plan: { enum: ['free', 'pro'] } } }),
    );
    const c = await startSegment({ segment: { enabled: true, writeKeys: [KEY] }, schemas: { dir, mode: 'strict' } });
    try {
      const bad = await c.post(
        '/v1/track',
        { event: 'Signed Up', userId: 'u', properties: { plan: 'gold' } },
        basic(KEY),
      );
      assert.equal(bad.status, 400);
      const answer = bad.json() as { code: string; message: string };
      assert.equal(answer.code, 'BEACON_E_SCHEMA_INVALID');
      assert.match(answer.message, /props\.plan must be one of "free", "pro"/);
      const good = await c.post(
        '/v1/track',
        { event: 'Signed Up', userId: 'u', properties: { plan: 'pro' } },
        basic(KEY),
      );
      assert.equal(good.status, 200);
      assert.deepEqual(
        c.recorder.durable.map((e) => e.props),
        [{ plan: 'pro' }],
      );
      assert.equal(
        await metricValue(c.metrics.schemaInvalid, {
          type: compatibleType('Signed Up'),
          reason: '/plan:enum',
          action: 'rejected',
        }),
        1,
      );
    } finally {
      await c.http.drain(1000);
    }
  });
});
