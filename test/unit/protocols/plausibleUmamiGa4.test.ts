import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProtocols, type ProtocolCollector } from './harness.js';

const WEBSITE = '4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b';
const MEASUREMENT = 'G-TEST123';
const SECRET = 'ga4-secret-value';
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';

describe('the Plausible, Umami and GA4 endpoints', () => {
  let c: ProtocolCollector;
  before(async () => {
    c = await startProtocols({
      plausible: { enabled: true, domains: ['shop.example'] },
      umami: { enabled: true, websites: [WEBSITE] },
      ga4: { enabled: true, streams: [{ measurementId: MEASUREMENT, apiSecret: SECRET }] },
    });
  });
  after(() => c.close());

  describe('Plausible POST /api/event', () => {
    test('answers 202 ok and maps name, url, referrer and props, taking the UA, and ignores X-Forwarded-For without server.trustProxy', async () => {
      const answer = await c.post(
        '/api/event',
        {
          n: 'Signup',
          u: 'https://shop.example/join?utm_source=x',
          d: 'shop.example',
          r: 'https://search.example/',
          p: JSON.stringify({ plan: 'pro' }),
          $: { currency: 'EUR', amount: 9.5 },
          w: 1280,
        },
        { 'Content-Type': 'text/plain', 'User-Agent': UA, 'X-Forwarded-For': '198.51.100.7' },
      );
      assert.equal(answer.status, 202);
      assert.equal(answer.text, 'ok');
      const event = c.recorder.durable.find((e) => e.meta.source === 'plausible')!;
      assert.equal(event.type, 'Signup');
      assert.deepEqual(event.props, { plan: 'pro' });
      assert.equal(event.url, 'https://shop.example/join?utm_source=x');
      assert.equal(event.referrer, 'https://search.example/');
      assert.equal(event.ua, UA);
      assert.equal(
        event.ip,
        '127.0.0.1',
        'a stranger cannot choose the address behind the cookieless party id and geo',
      );
      assert.deepEqual(event.meta.plausible, {
        event: 'Signup',
        domain: 'shop.example',
        revenue: { currency: 'EUR', amount: 9.5 },
        screenWidth: 1280,
      });
    });

    test('takes the long field names too, derives the domain from the URL, and refuses an unlisted domain with 403', async () => {
      assert.equal((await c.post('/api/event', { name: 'pageview', url: 'https://www.shop.example/' })).status, 202);
      const other = await c.post('/api/event', {
        name: 'pageview',
        url: 'https://other.example/',
        domain: 'other.example',
      });
      assert.equal(other.status, 403);
      assert.equal((other.json() as { code: string }).code, 'BEACON_E_PLAUSIBLE_DOMAIN');
      assert.equal(await c.rejected('plausible', 'BEACON_E_PLAUSIBLE_DOMAIN'), 1);
    });

    test('refuses with 400 a revenue object nested deeper than props may (it goes to meta unread)', async () => {
      // Deeper than props may nest, within the JSON bounds (a 100,000-deep body is refused before the parse: boundedParsing.test.ts).
      const deep = `${'['.repeat(20)}${']'.repeat(20)}`;
      const answer = await c.post('/api/event', `{"n":"Purchase","u":"https://shop.example/","$":{"amount":${deep}}}`);
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_DEEP');
    });

    test('never refuses a name Plausible takes: a name outside the type pattern keeps its original in meta', async () => {
      assert.equal((await c.post('/api/event', { n: 'Outbound Link: Click', u: 'https://shop.example/' })).status, 202);
      const event = c.recorder.durable.find(
        (e) => (e.meta.plausible as { event?: string } | undefined)?.event === 'Outbound Link: Click',
      )!;
      assert.match(event.type, /^Outbound_Link:_Click\.[0-9a-f]{10}$/);
    });
  });

  describe('Umami POST /api/send', () => {
    test('maps an event, a page view and an identify call, the UA and ip from the payload first', async () => {
      const send = (type: string, payload: object, headers: Record<string, string> = {}) =>
        c.post(
          '/api/send',
          { type, payload: { website: WEBSITE, hostname: 'shop.example', url: '/cart', ...payload } },
          { 'User-Agent': UA, ...headers },
        );
      const answers = [
        await send('event', {
          name: 'checkout',
          data: { total: 30 },
          title: 'Cart',
          referrer: 'https://a.example/',
          userAgent: 'Mozilla/5.0 (Macintosh) Safari/605.1.15',
          ip: '192.0.2.44',
          id: 'user-5',
          timestamp: 1750000000,
        }),
        await send('event', {}, { 'X-Forwarded-For': '198.51.100.8' }),
        await send('identify', { data: { plan: 'pro' } }),
      ];
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200],
      );
      const umami = c.recorder.durable.filter((e) => e.meta.source === 'umami');
      const [checkout, pageview, identify] = umami;
      assert.equal(checkout!.type, 'checkout');
      assert.deepEqual(checkout!.props, { total: 30 });
      assert.equal(checkout!.ua, 'Mozilla/5.0 (Macintosh) Safari/605.1.15');
      assert.equal(checkout!.ip, '192.0.2.44');
      assert.equal(checkout!.partyId, 'user-5');
      assert.equal(checkout!.clientTs, 1750000000_000);
      assert.equal(checkout!.url, '/cart');
      assert.deepEqual(checkout!.meta.umami, {
        type: 'event',
        website: WEBSITE,
        event: 'checkout',
        hostname: 'shop.example',
        title: 'Cart',
      });
      assert.equal(pageview!.type, 'pageview');
      assert.equal(pageview!.ua, UA);
      assert.equal(pageview!.ip, '127.0.0.1', 'X-Forwarded-For counts only behind server.trustProxy');
      assert.equal(identify!.type, 'identify');
      assert.deepEqual(identify!.props, { plan: 'pro' });
    });

    test('refuses a website not in umami.websites with 403', async () => {
      const answer = await c.post('/api/send', { type: 'event', payload: { website: 'not-listed', url: '/' } });
      assert.equal(answer.status, 403);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_UMAMI_WEBSITE');
    });
  });

  describe('GA4 Measurement Protocol', () => {
    const collect = `/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`;

    test('stores each event of a request, with the ip and UA overrides, and answers 204', async () => {
      const answer = await c.post(
        collect,
        {
          client_id: '123.456',
          user_id: 'user-7',
          timestamp_micros: 1750000000_000_000,
          ip_override: '203.0.113.50',
          user_agent: UA,
          user_properties: { tier: { value: 'gold' } },
          user_data: { sha256_email_address: ['x'] },
          events: [
            {
              name: 'purchase',
              params: { value: 30, currency: 'EUR', session_id: 17, page_location: 'https://shop.example/thanks' },
            },
            {
              name: 'page_view',
              params: { page_location: 'https://shop.example/' },
              timestamp_micros: 1750000001_000_000,
            },
          ],
        },
        { 'Content-Type': 'text/plain' },
      );
      assert.equal(answer.status, 204);
      const [purchase, view] = c.recorder.durable.filter((e) => e.meta.source === 'ga4');
      assert.equal(purchase!.type, 'purchase');
      assert.deepEqual(purchase!.props, {
        value: 30,
        currency: 'EUR',
        session_id: 17,
        page_location: 'https://shop.example/thanks',
      });
      assert.equal(purchase!.partyId, '123.456');
      assert.equal(purchase!.sessionId, '17');
      assert.equal(purchase!.ip, '203.0.113.50');
      assert.equal(purchase!.ua, UA);
      assert.equal(purchase!.url, 'https://shop.example/thanks');
      assert.equal(purchase!.clientTs, 1750000000_000);
      assert.equal(view!.clientTs, 1750000001_000);
      assert.deepEqual(purchase!.meta, {
        source: 'ga4',
        ga4: { event: 'purchase', stream: MEASUREMENT, userProperties: { tier: { value: 'gold' } } },
        userId: 'user-7',
      });
      assert.equal(JSON.stringify(purchase).includes('sha256_email_address'), false, 'user_data is not kept');
      assert.equal(await c.received('ga4'), 2);
    });

    test('refuses an unknown stream or a wrong api_secret with 401, never echoing the secret', async () => {
      const wrong = await c.post(`/mp/collect?measurement_id=${MEASUREMENT}&api_secret=nope`, {
        client_id: '1',
        events: [{ name: 'x' }],
      });
      assert.equal(wrong.status, 401);
      assert.equal((wrong.json() as { code: string }).code, 'BEACON_E_GA_UNAUTHORIZED');
      assert.equal(wrong.text.includes(SECRET), false);
      assert.equal(
        (await c.post(`/mp/collect?measurement_id=G-OTHER&api_secret=${SECRET}`, { client_id: '1', events: [] }))
          .status,
        401,
      );
    });

    test('the debug endpoint answers GA4 validation messages and stores nothing', async () => {
      const before = c.recorder.durable.length;
      const answer = await c.post(`/debug/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`, {
        events: [
          { name: '_badEventName', params: {} },
          { name: 'session_start' },
          { name: 'ok_event', params: { long: 'x'.repeat(101) } },
        ],
      });
      assert.equal(answer.status, 200);
      const { validationMessages } = answer.json() as {
        validationMessages: Array<{ fieldPath: string; validationCode: string; description: string }>;
      };
      assert.deepEqual(
        validationMessages.map((m) => [m.fieldPath, m.validationCode]),
        [
          ['client_id', 'VALUE_REQUIRED'],
          ['events', 'NAME_RESERVED'],
          ['events', 'NAME_RESERVED'],
          ['events[2].params.long', 'VALUE_OUT_OF_BOUNDS'],
        ],
      );
      const valid = await c.post(`/debug/mp/collect?measurement_id=${MEASUREMENT}`, {
        client_id: '1.2',
        events: [{ name: 'sign_up', params: { method: 'email' } }],
      });
      assert.deepEqual(valid.json(), { validationMessages: [] });
      assert.equal(c.recorder.durable.length, before);
    });

    test("refuses with 400 a request whose user_properties nest deeper than props may (they are copied to every event's meta), and the debug endpoint says so", async () => {
      const deep = `{"x":${'['.repeat(20)}${']'.repeat(20)}}`;
      const before = c.recorder.durable.length;
      const answer = await c.post(collect, `{"client_id":"1","user_properties":${deep},"events":[{"name":"e"}]}`);
      assert.equal(answer.status, 400);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_PROPS_TOO_DEEP');
      assert.equal(c.recorder.durable.length, before, 'nothing stored');
      const debug = await c.post(
        `/debug/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`,
        `{"client_id":"1","user_properties":${deep},"events":[{"name":"e"}]}`,
      );
      const { validationMessages } = debug.json() as { validationMessages: Array<{ description: string }> };
      assert.ok(
        validationMessages.some((m) => m.description.includes('BEACON_E_PROPS_TOO_DEEP')),
        JSON.stringify(validationMessages),
      );
    });

    test('the debug endpoint checks a request of more events than collect takes as collect does: one message, not one mapping per event', async () => {
      const events = Array.from({ length: 20_000 }, () => ({ name: 'e', params: { bad: 'x'.repeat(10) } }));
      const answer = await c.post(`/debug/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`, {
        client_id: '1',
        events,
      });
      assert.equal(answer.status, 200);
      const { validationMessages } = answer.json() as {
        validationMessages: Array<{ fieldPath: string; description: string }>;
      };
      const beacon = validationMessages.filter((m) => m.description.startsWith('Beacon would refuse'));
      assert.deepEqual(
        beacon.map((m) => m.fieldPath),
        ['events'],
      );
      assert.match(beacon[0]!.description, /BEACON_E_BATCH_TOO_LARGE: it holds 20000 events/);
    });
  });
});

describe('Plausible and Umami behind server.trustProxy', () => {
  let c: ProtocolCollector;
  before(async () => {
    c = await startProtocols({ server: { trustProxy: true }, plausible: { enabled: true }, umami: { enabled: true } });
  });
  after(() => c.close());

  test("take the visitor's address from the first X-Forwarded-For hop, as every native endpoint does there", async () => {
    assert.equal(
      (
        await c.post(
          '/api/event',
          { n: 'pageview', u: 'https://shop.example/' },
          { 'X-Forwarded-For': '198.51.100.7, 10.0.0.2' },
        )
      ).status,
      202,
    );
    assert.equal(
      (
        await c.post(
          '/api/send',
          { type: 'event', payload: { website: WEBSITE, url: '/' } },
          { 'X-Forwarded-For': '198.51.100.8' },
        )
      ).status,
      200,
    );
    assert.deepEqual(
      c.recorder.durable.map((e) => [e.meta.source, e.ip]),
      [
        ['plausible', '198.51.100.7'],
        ['umami', '198.51.100.8'],
      ],
    );
  });
});

describe('the compatible protocols with strict schemas', () => {
  test("refuse an event whose props fail its schema with 400, as the native endpoints do, and keep a batch's good events", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-protocol-schemas-'));
    writeFileSync(
      join(dir, 'signup.json'),
      JSON.stringify({ type: 'object', required: ['plan'], properties: { plan: { enum: ['free', 'pro'] } } }),
    );
    const c = await startProtocols({
      umami: { enabled: true },
      ga4: { enabled: true, streams: [{ measurementId: MEASUREMENT, apiSecret: SECRET }] },
      schemas: { dir, mode: 'strict' },
    });
    try {
      const bad = await c.post('/api/send', {
        type: 'event',
        payload: { website: WEBSITE, name: 'signup', data: { plan: 'gold' } },
      });
      assert.equal(bad.status, 400);
      assert.equal((bad.json() as { code: string }).code, 'BEACON_E_SCHEMA_INVALID');
      const mixed = await c.post(`/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`, {
        client_id: '1',
        events: [
          { name: 'signup', params: { plan: 'gold' } },
          { name: 'signup', params: { plan: 'pro' } },
        ],
      });
      assert.equal(mixed.status, 200);
      assert.deepEqual(
        (mixed.json() as { accepted: number; rejected: Array<{ index: number; code: string }> }).rejected.map((r) => [
          r.index,
          r.code,
        ]),
        [[0, 'BEACON_E_SCHEMA_INVALID']],
      );
      assert.deepEqual(
        c.recorder.durable.map((e) => e.props),
        [{ plan: 'pro' }],
      );
      assert.equal(await c.rejected('umami', 'BEACON_E_SCHEMA_INVALID'), 1);
      assert.equal(await c.rejected('ga4', 'BEACON_E_SCHEMA_INVALID'), 1);
    } finally {
      await c.close();
    }
  });
});

describe('what every protocol shares', () => {
  test('with server.cors at its default (*), answers a browser with its exact origin and credentials, and inflates gzip recognised by its first bytes', async () => {
    const c = await startProtocols({ plausible: { enabled: true }, umami: { enabled: true } });
    try {
      for (const path of ['/api/event', '/api/send']) {
        const preflight = await c.send({
          method: 'OPTIONS',
          path,
          headers: {
            Origin: 'https://any.example',
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type',
          },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers['access-control-allow-origin'], 'https://any.example');
        assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
      }
      const gz = await c.post(
        '/api/send',
        gzipSync(JSON.stringify({ type: 'event', payload: { website: WEBSITE, name: 'zipped' } })),
        { 'Content-Type': 'text/plain', Origin: 'https://any.example' },
      );
      assert.equal(gz.status, 200, gz.text);
      assert.equal(gz.headers['access-control-allow-origin'], 'https://any.example');
      assert.equal(c.recorder.durable[0]!.type, 'zipped');
    } finally {
      await c.close();
    }
  });
});
