import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { compatibleType } from '../../../src/event/compatibleType.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { compileRules } from '../../../src/event/rules.js';
import { ResendMarks } from '../../../src/event/resendMarks.js';
import { isRejection, type Rejection } from '../../../src/event/rejection.js';
import { type RequestFacts } from '../../../src/event/fromSubmitted.js';
import { derivedTimestamp, snowplowEvent, type TrackerParams } from '../../../src/sources/http/snowplow/index.js';
import type { SnowplowMappingOptions } from '../../../src/sources/http/snowplow/mapping.js';

const rules = compileRules(configSchema.parse({}).server.limits);
const TS = 1_750_000_000_000;
/** Where the mapping marks events whose id the client gave (the enrichment chain's, in Beacon). */
const marks = new ResendMarks();
const facts = (extra: Partial<RequestFacts> = {}): RequestFacts => ({
  ts: TS,
  ip: '198.51.100.7',
  ua: 'Mozilla/5.0 (header)',
  referer: 'https://shop.example/from-header',
  marks,
  ...extra,
});
const anyApp: SnowplowMappingOptions = { appIds: undefined, anonymous: false };

function map(params: TrackerParams, options: SnowplowMappingOptions = anyApp, requestFacts = facts()): TrackedEvent {
  const result = snowplowEvent(params, requestFacts, rules, options, 1_000_000);
  assert.ok(!isRejection(result), `refused: ${JSON.stringify(result)}`);
  return result;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const ueWrapper = (schema: string, data: unknown) => ({
  schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
  data: { schema, data },
});
const contexts = (...entities: Array<{ schema: string; data: unknown }>) => ({
  schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
  data: entities,
});

describe('a Snowplow tracker event as a Beacon event', () => {
  test('a page view becomes page_view with its title, URL, referrer, eid as a client id and the other parameters in meta', () => {
    const event = map({
      e: 'pv',
      eid: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb',
      aid: 'shop',
      p: 'web',
      tv: 'js-4.10.1',
      page: 'Home',
      url: 'https://shop.example/',
      refr: 'https://search.example/',
      duid: 'd-1',
      sid: 's-1',
      uid: 'user-9',
    });
    assert.equal(event.type, 'page_view');
    assert.equal(event.id, 'c6ef3124-b53a-4b13-a233-0088f79dcbcb');
    assert.ok(marks.hasClientId(event), 'the id memory treats eid as a client id, so a resend is caught');
    assert.deepEqual(event.props, { title: 'Home' });
    assert.deepEqual(
      [event.url, event.referrer, event.sessionId, event.meta.userId, event.meta.source],
      ['https://shop.example/', 'https://search.example/', 's-1', 'user-9', 'snowplow'],
    );
    assert.deepEqual(event.meta.snowplow, { e: 'pv', params: { aid: 'shop', p: 'web', tv: 'js-4.10.1', duid: 'd-1' } });
  });

  test('structured events, page pings and ecommerce keep their fields under readable names, numbers as numbers', () => {
    assert.deepEqual(map({ e: 'se', se_ca: 'shop', se_ac: 'add', se_la: 'sku-1', se_pr: 'red', se_va: '2.5' }).props, {
      category: 'shop',
      action: 'add',
      label: 'sku-1',
      property: 'red',
      value: 2.5,
    });
    const ping = map({ e: 'pp', page: 'Doc', pp_mix: '0', pp_max: '10', pp_miy: '5', pp_may: '900' });
    assert.deepEqual(
      [ping.type, ping.props],
      ['page_ping', { title: 'Doc', minXOffset: 0, maxXOffset: 10, minYOffset: 5, maxYOffset: 900 }],
    );
    const tr = map({
      e: 'tr',
      tr_id: 'o-1',
      tr_af: 'web',
      tr_tt: '30.5',
      tr_tx: '5',
      tr_sh: '2',
      tr_ci: 'Lyon',
      tr_st: 'ARA',
      tr_co: 'FR',
      tr_cu: 'EUR',
    });
    assert.deepEqual(
      [tr.type, tr.props],
      [
        'transaction',
        {
          orderId: 'o-1',
          affiliation: 'web',
          total: 30.5,
          tax: 5,
          shipping: 2,
          city: 'Lyon',
          state: 'ARA',
          country: 'FR',
          currency: 'EUR',
        },
      ],
    );
    const ti = map({
      e: 'ti',
      ti_id: 'o-1',
      ti_sk: 'sku-1',
      ti_nm: 'Mug',
      ti_ca: 'kitchen',
      ti_pr: '10',
      ti_qu: '3',
      ti_cu: 'EUR',
    });
    assert.deepEqual(
      [ti.type, ti.props],
      [
        'transaction_item',
        { orderId: 'o-1', sku: 'sku-1', name: 'Mug', category: 'kitchen', price: 10, quantity: 3, currency: 'EUR' },
      ],
    );
    assert.equal(
      map({ e: 'se', se_ca: 'c', se_ac: 'a', se_va: 'lots' }).props.value,
      'lots',
      'a value that is not a number is kept as sent',
    );
  });

  test('a self-describing event takes its type from the schema name and keeps the full schema URI, in base64url, base64 or plain JSON', () => {
    const schema = 'iglu:com.acme/viewed_product/jsonschema/1-0-0';
    const payload = ueWrapper(schema, { productId: 'ASO01043', price: 49.95, tags: ['ü✓'] });
    const variants: TrackerParams[] = [
      { e: 'ue', ue_px: base64url(payload) },
      { e: 'ue', ue_px: base64(payload) },
      { e: 'ue', ue_pr: JSON.stringify(payload) },
      { e: 'ue', ue_pr: base64url(payload) },
    ];
    for (const params of variants) {
      const event = map(params);
      assert.equal(event.type, 'viewed_product');
      assert.deepEqual(event.props, { productId: 'ASO01043', price: 49.95, tags: ['ü✓'] });
      assert.equal((event.meta.snowplow as { schema: string }).schema, schema);
      assert.equal(
        (event.meta.snowplow as { params?: unknown }).params,
        undefined,
        'the decoded field is not repeated',
      );
    }
  });

  test('a schema name Beacon types refuse becomes a derived type; the name is never a reason to refuse', () => {
    const schema = 'iglu:com.acme/Produit vu!/jsonschema/1-0-0';
    const event = map({ e: 'ue', ue_pr: JSON.stringify(ueWrapper(schema, 'not an object')) });
    assert.equal(event.type, compatibleType('Produit vu!'));
    assert.deepEqual(event.props, { data: 'not an object' });
    assert.equal((event.meta.snowplow as { schema: string }).schema, schema);
  });

  test('contexts are decoded into meta.snowplow.contexts and the web_page context gives the pageViewId', () => {
    const page = {
      schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
      data: { id: '1f0c3a9e-pv' },
    };
    const custom = { schema: 'iglu:com.acme/user/jsonschema/1-0-0', data: { plan: 'pro' } };
    const event = map({ e: 'pv', cx: base64url(contexts(page, custom)) });
    assert.deepEqual((event.meta.snowplow as { contexts: unknown }).contexts, [page, custom]);
    assert.equal(event.pageViewId, '1f0c3a9e-pv');
    assert.deepEqual(
      (map({ e: 'pv', co: JSON.stringify(contexts(custom)) }).meta.snowplow as { contexts: unknown }).contexts,
      [custom],
    );
  });

  test('a field that cannot be decoded is kept as sent with the reason, and the event is still stored', () => {
    const event = map({ e: 'ue', ue_px: 'not*base64', cx: base64url({ schema: 'x', data: 'not a list' }) });
    assert.equal(event.type, 'self_describing_event');
    const snowplow = event.meta.snowplow as { params: Record<string, string>; errors: string[] };
    assert.deepEqual(snowplow.params, { ue_px: 'not*base64', cx: base64url({ schema: 'x', data: 'not a list' }) });
    assert.deepEqual(snowplow.errors, [
      'ue_px is neither JSON nor base64',
      'cx is not a contexts JSON ({"schema", "data": [...]})',
    ]);
    assert.equal(map({ p: 'web' }).type, 'snowplow_event', 'no event kind: stored under a fixed type');
    assert.equal(map({ e: 'ad' }).type, 'snowplow_event', 'an unknown kind too');
    assert.equal(
      map({ e: 'constructor', toString: 'x' }).type,
      'snowplow_event',
      'a kind named like an Object.prototype key too',
    );
  });

  test("clientTs follows Snowplow's derived timestamp: ttm, else receive time minus the wait on the device, else the receive time", () => {
    assert.equal(derivedTimestamp({ ttm: '1000', dtm: '5000', stm: '6000' }, TS), 1000);
    assert.equal(
      derivedTimestamp({ dtm: '5000', stm: '6500' }, TS),
      TS - 1500,
      'a device clock an hour off does not move the event',
    );
    assert.equal(derivedTimestamp({ dtm: '7000', stm: '6500' }, TS), TS, 'sent before created: the receive time');
    assert.equal(derivedTimestamp({ dtm: '5000' }, TS), TS, 'no sent time: the receive time');
    assert.equal(derivedTimestamp({ stm: '5000' }, TS), undefined, 'no client time at all: no clientTs');
    assert.equal(derivedTimestamp({ dtm: 'soon' }, TS), undefined);
    assert.equal(map({ e: 'pv', dtm: '5000', stm: '6500' }).clientTs, TS - 1500);
  });

  test("partyId is tnuid, else nuid, else the collector's network user id", () => {
    const withCookie = facts({ partyId: 'from-cookie' });
    assert.equal(map({ e: 'pv', tnuid: 't-1', nuid: 'n-1' }, anyApp, withCookie).partyId, 't-1');
    assert.equal(map({ e: 'pv', nuid: 'n-1' }, anyApp, withCookie).partyId, 'n-1');
    assert.equal(map({ e: 'pv' }, anyApp, withCookie).partyId, 'from-cookie');
  });

  test('the ip and ua parameters win over the request; SP-Anonymous keeps the request address out', () => {
    const event = map({ e: 'pv', ip: '203.0.113.9', ua: 'Tracker-set UA' });
    assert.deepEqual([event.ip, event.ua], ['203.0.113.9', 'Tracker-set UA']);
    assert.equal(JSON.stringify(event.meta).includes('203.0.113.9'), false, 'the raw address is not repeated in meta');
    const fromRequest = map({ e: 'pv', ip: 'not-an-ip' });
    assert.deepEqual(
      [fromRequest.ip, fromRequest.ua, fromRequest.url],
      ['198.51.100.7', 'Mozilla/5.0 (header)', 'https://shop.example/from-header'],
    );
    assert.equal(map({ e: 'pv' }, { appIds: undefined, anonymous: true }).ip, undefined);
  });

  test('with snowplow.appIds set, an event of another app or of none is refused with BEACON_E_SNOWPLOW_APP_ID', () => {
    const options = { appIds: new Set(['shop']), anonymous: false };
    assert.equal(map({ e: 'pv', aid: 'shop' }, options).type, 'page_view');
    const refused: TrackerParams[] = [{ e: 'pv', aid: 'blog' }, { e: 'pv' }];
    for (const params of refused) {
      const result = snowplowEvent(params, facts(), rules, options, 1000) as Rejection;
      assert.equal(result.code, 'BEACON_E_SNOWPLOW_APP_ID');
    }
  });

  test('the props limits of every intake apply to the decoded event and its contexts', () => {
    const big = 'x'.repeat(70 * 1024);
    const tooLarge = snowplowEvent(
      { e: 'ue', ue_pr: JSON.stringify(ueWrapper('iglu:a/b/jsonschema/1-0-0', { big })) },
      facts(),
      rules,
      anyApp,
      1_000_000,
    ) as Rejection;
    assert.equal(tooLarge.code, 'BEACON_E_PROPS_TOO_LARGE');
    const deepContext = snowplowEvent(
      {
        e: 'pv',
        co: JSON.stringify(
          contexts({ schema: 'iglu:a/b/jsonschema/1-0-0', data: { a: { b: { c: { d: { e: { f: {} } } } } } } }),
        ),
      },
      facts(),
      rules,
      anyApp,
      1_000_000,
    ) as Rejection;
    assert.equal(deepContext.code, 'BEACON_E_PROPS_TOO_DEEP');
    assert.match(deepContext.message, /meta\.snowplow/);
  });

  test('a __proto__ parameter is an ordinary key, never the prototype', () => {
    const params = JSON.parse('{"e":"pv","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const event = map(
      Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      ) as TrackerParams,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf((event.meta.snowplow as { params: object }).params), Object.prototype);
  });
});
