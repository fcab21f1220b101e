import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { createIdentityIssuer } from '../../../src/enrich/identity/identity.js';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import { TRANSPARENT_GIF } from '../../../src/sources/http/responses.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';
import { metricValue, send, type Answer } from '../http/harness.js';

/** A real collector on a free port with the Snowplow endpoints, configured through the real schema. */
interface SnowplowCollector {
  recorder: RecordingEmit;
  metrics: Metrics;
  http: BeaconHttpServer;
  post(body: unknown, headers?: Record<string, string>, query?: string): Promise<Answer>;
  get(query: string, headers?: Record<string, string>, path?: string): Promise<Answer>;
  send: (options: Parameters<typeof send>[1]) => Promise<Answer>;
}

async function startSnowplow(raw: Record<string, unknown>): Promise<SnowplowCollector> {
  const config = configSchema.parse(raw);
  const recorder = createRecordingEmit();
  const metrics = createMetrics();
  const identity = createIdentityIssuer(config.enrich.identity, {
    server: config.server,
    saltDir: mkdtempSync(join(tmpdir(), 'beacon-sp-salt-')),
    metrics,
  });
  const http = createHttpServer({
    config: config.server,
    emit: recorder.emit,
    metrics,
    logger: silentLogger,
    snowplow: { config: config.snowplow, identity: config.enrich.identity },
    ...(identity ? { browser: { identity } } : {}),
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return {
    recorder,
    metrics,
    http,
    post: (body, headers = {}, query = '') =>
      send(port, {
        method: 'POST',
        path: `/com.snowplowanalytics.snowplow/tp2${query}`,
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'Content-Type': 'application/json; charset=UTF-8', ...headers },
      }),
    get: (query, headers = {}, path = '/i') => send(port, { path: `${path}${query}`, headers }),
    send: (options) => send(port, options),
  };
}

const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
const payload = (...events: Array<Record<string, unknown>>) => ({ schema: PAYLOAD_DATA, data: events });
const received = (c: SnowplowCollector) => metricValue(c.metrics.eventsReceived, { source: 'snowplow' });
const rejected = (c: SnowplowCollector, code: string) =>
  metricValue(c.metrics.eventsRejected, { source: 'snowplow', code });
const cookieOf = (answer: Answer, name: string) =>
  (answer.headers['set-cookie'] ?? []).find((line) => line.startsWith(`${name}=`));

describe('the Snowplow collector endpoints', () => {
  let c: SnowplowCollector;
  before(async () => {
    c = await startSnowplow({ snowplow: { enabled: true } });
  });
  after(async () => {
    await c.http.drain(1000);
  });

  test('POST tp2 stores every event of the payload_data envelope and answers 200 once they are durable', async () => {
    const res = await c.post(
      payload(
        { e: 'pv', eid: 'post-pv-1', aid: 'shop', url: 'https://shop.example/' },
        { e: 'se', eid: 'post-se-1', se_ca: 'c', se_ac: 'a' },
      ),
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { accepted: 2, rejected: [] });
    const stored = c.recorder.durable.filter((e) => e.id.startsWith('post-'));
    assert.deepEqual(
      stored.map((e) => [e.id, e.type, e.meta.source]),
      [
        ['post-pv-1', 'page_view', 'snowplow'],
        ['post-se-1', 'structured_event', 'snowplow'],
      ],
    );
    assert.equal(
      c.recorder.calls.filter((call) => call.some((e) => e.id.startsWith('post-'))).length,
      1,
      'one emit per request',
    );
  });

  test('reads the body as JSON whatever its media type says, and takes query parameters for every event', async () => {
    const before = await received(c);
    for (const [i, type] of ['text/plain', 'application/x-www-form-urlencoded', ''].entries()) {
      const res = await c.post(
        payload({ e: 'pv', eid: `media-${i}` }),
        type === '' ? { 'Content-Type': '' } : { 'Content-Type': type },
        '?aid=from-query',
      );
      assert.equal(res.status, 200, `${type}: ${res.text}`);
      const event = c.recorder.durable.find((e) => e.id === `media-${i}`);
      assert.equal((event?.meta.snowplow as { params: { aid: string } }).params.aid, 'from-query');
    }
    assert.equal(await received(c), before + 3, 'counted under source="snowplow"');
  });

  test('GET /i and /ice.png store the query-string event and answer the 1x1 GIF, uncached', async () => {
    for (const path of ['/i', '/ice.png']) {
      const res = await c.get(
        `?e=pv&eid=get${path.replace(/\W/g, '')}&page=Home&url=https%3A%2F%2Fshop.example%2F`,
        {},
        path,
      );
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'image/gif');
      assert.match(String(res.headers['cache-control']), /no-store/);
      assert.deepEqual(res.body, TRANSPARENT_GIF);
    }
    const event = c.recorder.durable.find((e) => e.id === 'geticepng');
    assert.deepEqual(
      [event?.type, event?.props, event?.url],
      ['page_view', { title: 'Home' }, 'https://shop.example/'],
    );
  });

  test('GET /i without parameters answers the GIF and stores nothing', async () => {
    const before = c.recorder.events.length;
    const res = await c.get('');
    assert.equal(res.status, 200);
    assert.equal(c.recorder.events.length, before);
  });

  test("answers with the exact origin and Access-Control-Allow-Credentials, as the tracker's credentialed fetch needs, preflight included", async () => {
    const origin = 'https://shop.example';
    const preflight = await c.send({
      method: 'OPTIONS',
      path: '/com.snowplowanalytics.snowplow/tp2',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,sp-anonymous',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], origin);
    assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
    assert.equal(preflight.headers['access-control-allow-headers'], 'content-type,sp-anonymous');
    const post = await c.post(payload({ e: 'pv' }), { Origin: origin });
    assert.equal(post.headers['access-control-allow-origin'], origin);
    assert.equal(post.headers['access-control-allow-credentials'], 'true');
    const get = await c.get('?e=pv', { Origin: origin });
    assert.deepEqual(
      [get.headers['access-control-allow-origin'], get.headers['access-control-allow-credentials']],
      [origin, 'true'],
    );
  });

  test('sets the sp network user id cookie, reads it back as partyId, and lets a query nuid win', async () => {
    const first = await c.get('?e=pv&eid=nuid-1');
    const line = cookieOf(first, 'sp');
    assert.ok(line, 'the sp cookie is set');
    assert.match(line, /HttpOnly/);
    const id = /^sp=([^;]+)/.exec(line)![1]!;
    assert.equal(c.recorder.durable.find((e) => e.id === 'nuid-1')?.partyId, id);
    assert.equal(
      cookieOf(first, 'beacon_pid'),
      undefined,
      "Beacon's own identity cookies are not set on Snowplow answers",
    );

    await c.post(payload({ e: 'pv', eid: 'nuid-2' }), { Cookie: `sp=${id}` });
    assert.equal(c.recorder.durable.find((e) => e.id === 'nuid-2')?.partyId, id);

    const bounced = await c.get('?e=pv&eid=nuid-3&nuid=0f0e0d0c-aaaa-4bbb-8ccc-000000000003', { Cookie: `sp=${id}` });
    assert.match(cookieOf(bounced, 'sp')!, /^sp=0f0e0d0c-aaaa-4bbb-8ccc-000000000003;/);
    assert.equal(c.recorder.durable.find((e) => e.id === 'nuid-3')?.partyId, '0f0e0d0c-aaaa-4bbb-8ccc-000000000003');
  });

  test('SP-Anonymous gets no network user id, no cookie and no address; DNT gets no cookie', async () => {
    const anonymous = await c.get('?e=pv&eid=anon-1', { 'SP-Anonymous': '*' });
    assert.equal(cookieOf(anonymous, 'sp'), undefined);
    const event = c.recorder.durable.find((e) => e.id === 'anon-1');
    assert.deepEqual([event?.partyId, event?.ip], [undefined, undefined]);
    const dnt = await c.get('?e=pv&eid=dnt-1', { DNT: '1', Cookie: 'sp=11111111-2222-4333-8444-555555555555' });
    assert.match(cookieOf(dnt, 'sp')!, /^sp=; Max-Age=0/, 'an sp cookie is deleted');
    assert.equal(c.recorder.durable.find((e) => e.id === 'dnt-1')?.partyId, undefined);
  });

  test('refuses a body that is not JSON, or JSON without events, with a code, storing nothing', async () => {
    const before = c.recorder.events.length;
    const badJson = await c.post('{"schema":');
    assert.equal(badJson.status, 400);
    assert.equal((badJson.json() as { code: string }).code, 'BEACON_E_BAD_JSON');
    const shapeless = await c.post({ schema: PAYLOAD_DATA, data: 'nope' });
    assert.equal((shapeless.json() as { code: string }).code, 'BEACON_E_BAD_EVENT');
    assert.equal(c.recorder.events.length, before);
    assert.equal(await rejected(c, 'BEACON_E_BAD_JSON'), 1);
  });

  test("takes a POST body of nearly 1 MB, the size Snowplow's collector accepts, with no cap on its number of events", async () => {
    const filler = 'x'.repeat(400);
    const events = Array.from({ length: 2130 }, (_, i) => ({
      e: 'se',
      eid: `big-${i}`,
      se_ca: 'bulk',
      se_ac: 'load',
      se_la: filler,
    }));
    const body = JSON.stringify(payload(...events));
    assert.ok(body.length > 990_000 && body.length < 1_048_576, `body is ${body.length} bytes`);
    const res = await c.post(body);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal((res.json() as { accepted: number }).accepted, 2130);
  });

  test('refuses a body of more tiny objects than one per 64 bytes of bodyBytes, before mapping them', async () => {
    const before = c.recorder.events.length;
    const res = await c.post(`{"data":[${'{},'.repeat(16_384)}{}]}`);
    assert.equal(res.status, 413);
    assert.equal((res.json() as { code: string }).code, 'BEACON_E_BATCH_TOO_LARGE');
    assert.equal(c.recorder.events.length, before);
  });

  test("passes a full log's 503 and Retry-After through, so the tracker retries", async () => {
    c.recorder.failWith(new BeaconError('BEACON_E_LOG_FULL', 'the log is full', { retryAfterSeconds: 3 }));
    try {
      const res = await c.post(payload({ e: 'pv', eid: 'full-1' }));
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '3');
    } finally {
      c.recorder.failWith(undefined);
    }
  });

  test('answers 405 for methods the endpoints do not take', async () => {
    const res = await c.send({ method: 'DELETE', path: '/i' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
  });
});

describe('snowplow.appIds', () => {
  let c: SnowplowCollector;
  before(async () => {
    c = await startSnowplow({ snowplow: { enabled: true, appIds: ['shop'] } });
  });
  after(async () => {
    await c.http.drain(1000);
  });

  test('refuses a GET event of an unlisted app with 403 BEACON_E_SNOWPLOW_APP_ID', async () => {
    const res = await c.get('?e=pv&aid=blog&eid=app-1');
    assert.equal(res.status, 403);
    assert.equal((res.json() as { code: string }).code, 'BEACON_E_SNOWPLOW_APP_ID');
    assert.equal(
      c.recorder.events.some((e) => e.id === 'app-1'),
      false,
    );
    assert.equal(await rejected(c, 'BEACON_E_SNOWPLOW_APP_ID'), 1);
  });

  test("stores the listed app's events of a mixed POST and lists the others; refuses a POST of only unlisted apps with 403", async () => {
    const mixed = await c.post(
      payload({ e: 'pv', aid: 'shop', eid: 'app-ok' }, { e: 'pv', aid: 'blog', eid: 'app-no' }),
    );
    assert.equal(mixed.status, 200);
    const answer = mixed.json() as { accepted: number; rejected: Array<{ index: number; code: string }> };
    assert.equal(answer.accepted, 1);
    assert.deepEqual(
      answer.rejected.map((r) => [r.index, r.code]),
      [[1, 'BEACON_E_SNOWPLOW_APP_ID']],
    );
    assert.deepEqual(
      c.recorder.durable.filter((e) => e.id.startsWith('app-')).map((e) => e.id),
      ['app-ok'],
    );
    const none = await c.post(payload({ e: 'pv', aid: 'blog' }, { e: 'pv' }));
    assert.equal(none.status, 403);
    assert.equal((none.json() as { code: string }).code, 'BEACON_E_SNOWPLOW_APP_ID');
  });
});

describe('credentials for listed origins only', () => {
  test('an origin server.cors does not list gets no CORS headers and no new cookie', async () => {
    const c = await startSnowplow({
      snowplow: { enabled: true },
      server: { cors: { origins: ['https://shop.example'] } },
    });
    try {
      const res = await c.get('?e=pv&eid=cors-1', { Origin: 'https://evil.example' });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(cookieOf(res, 'sp'), undefined);
      const listed = await c.get('?e=pv&eid=cors-2', { Origin: 'https://shop.example' });
      assert.equal(listed.headers['access-control-allow-credentials'], 'true');
      assert.ok(cookieOf(listed, 'sp'));
    } finally {
      await c.http.drain(1000);
    }
  });
});

describe('with snowplow off', () => {
  test('the paths are not served', async () => {
    const c = await startSnowplow({});
    try {
      assert.equal((await c.get('?e=pv')).status, 404);
      assert.equal((await c.post(payload({ e: 'pv' }))).status, 404);
    } finally {
      await c.http.drain(1000);
    }
  });
});

describe('enrich.identity.mode: cookieless', () => {
  test("the network user id is Beacon's daily hash and no cookie is set", async () => {
    const c = await startSnowplow({ snowplow: { enabled: true }, enrich: { identity: { mode: 'cookieless' } } });
    try {
      const res = await c.get('?e=pv&eid=cookieless-1');
      assert.equal(cookieOf(res, 'sp'), undefined);
      assert.match(c.recorder.durable.find((e) => e.id === 'cookieless-1')?.partyId ?? '', /^[0-9a-f]{32}$/);
    } finally {
      await c.http.drain(1000);
    }
  });
});
