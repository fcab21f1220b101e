import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { inCodecOrder } from '../../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { compatibleRules, compileRules } from '../../../src/event/rules.js';
import { ResendMarks } from '../../../src/event/resendMarks.js';
import { isRejection, type Rejection } from '../../../src/event/rejection.js';
import { type RequestFacts } from '../../../src/event/fromSubmitted.js';
import { normalizeEventName, segmentEvent, type SegmentCall } from '../../../src/sources/http/segment/mapping.js';
import { SEGMENT_MESSAGE_BYTES } from '../../../src/sources/http/segment/segmentApi.js';

// As the Segment API builds them: the configured limits, raised to Segment's own where lower.
const rules = compatibleRules(compileRules(configSchema.parse({}).server.limits), SEGMENT_MESSAGE_BYTES);
const PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** Where the mapping marks events whose id the client gave (the enrichment chain's, in Beacon). */
const marks = new ResendMarks();
const facts: RequestFacts = {
  ts: 1_750_000_000_000,
  ip: '10.1.2.3',
  ua: 'analytics-node-next/latest',
  referer: undefined,
  marks,
};
const normalize = { normalizeEventNames: true };

function map(call: SegmentCall | undefined, message: unknown, options = normalize, defaults = {}): TrackedEvent {
  const result = segmentEvent(call, message, facts, rules, options, 100_000, defaults);
  assert.ok(!isRejection(result), `expected an event, got ${JSON.stringify(result)}`);
  return result as TrackedEvent;
}

function reject(call: SegmentCall | undefined, message: unknown, options = normalize): Rejection {
  const result = segmentEvent(call, message, facts, rules, options, 100_000);
  assert.ok(isRejection(result), `expected a rejection, got ${JSON.stringify(result)}`);
  return result;
}

describe('the Segment message mapping', () => {
  test('a track call becomes an event of its (derived) name with properties as props', () => {
    const event = map('track', {
      type: 'track',
      event: 'Order Completed',
      userId: 'user-42',
      anonymousId: 'anon-7',
      messageId: 'msg-1',
      timestamp: '2025-06-15T12:00:00.000Z',
      properties: { total: 30, currency: 'EUR' },
      context: {
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0 Test',
        page: { url: 'https://shop.example/cart', referrer: 'https://news.example/' },
        locale: 'nl-NL',
      },
      integrations: { All: false },
      writeKey: 'never-kept',
    });
    assert.deepEqual(event, {
      id: 'msg-1',
      type: event.type,
      ts: facts.ts,
      props: { total: 30, currency: 'EUR' },
      clientTs: Date.parse('2025-06-15T12:00:00.000Z'),
      partyId: 'anon-7',
      ip: '203.0.113.9',
      ua: 'Mozilla/5.0 Test',
      url: 'https://shop.example/cart',
      referrer: 'https://news.example/',
      meta: {
        source: 'segment',
        segment: { call: 'track', event: 'Order Completed' },
        userId: 'user-42',
        context: { page: { url: 'https://shop.example/cart', referrer: 'https://news.example/' }, locale: 'nl-NL' },
      },
    });
    assert.match(event.type, /^Order_Completed\.[0-9a-f]{10}$/);
    assert.ok(inCodecOrder(event), 'keys in the json codec order, so the log stringifies the event as it is');
    assert.ok(marks.hasClientId(event), 'messageId is a client id: the id memory dedupes SDK retries');
  });

  test('the raw IP and user agent are moved out of the context, never copied beside the event fields', () => {
    const event = map('track', { event: 'x', anonymousId: 'a', context: { ip: '198.51.100.20', userAgent: 'UA' } });
    assert.equal(event.ip, '198.51.100.20');
    assert.equal(JSON.stringify(event.meta).includes('198.51.100.20'), false);
    assert.equal(event.meta.context, undefined, 'nothing else was in the context');
  });

  test('without context.ip the request address is the ip; the SDK user agent is not taken for the user', () => {
    const event = map('track', { event: 'x', anonymousId: 'a' });
    assert.equal(event.ip, '10.1.2.3');
    assert.equal(event.ua, undefined);
    const spoofed = map('track', { event: 'x', anonymousId: 'a', context: { ip: 'not-an-ip' } });
    assert.equal(spoofed.ip, '10.1.2.3');
  });

  test('userId is the party when there is no anonymousId, and a number is taken as text', () => {
    const event = map('identify', { userId: 1234, traits: { email: 'a@example.com' } });
    assert.equal(event.partyId, '1234');
    assert.equal(event.meta.userId, '1234');
    assert.equal(event.type, 'identify');
    assert.deepEqual(event.props, { email: 'a@example.com' });
  });

  test('page and screen calls are typed page and screen, with name and category in props', () => {
    const page = map('page', {
      anonymousId: 'a',
      name: 'Pricing',
      category: 'Docs',
      properties: { path: '/pricing', url: 'https://x.example/pricing', referrer: 'https://r.example/' },
    });
    assert.equal(page.type, 'page');
    assert.deepEqual(page.props, {
      path: '/pricing',
      url: 'https://x.example/pricing',
      referrer: 'https://r.example/',
      name: 'Pricing',
      category: 'Docs',
    });
    assert.equal(
      page.url,
      'https://x.example/pricing',
      'a page call without context.page takes url from its properties',
    );
    assert.equal(page.referrer, 'https://r.example/');
    const screen = map('screen', { userId: 'u', name: 'Home', properties: { name: 'Kept' } });
    assert.equal(screen.type, 'screen');
    assert.deepEqual(screen.props, { name: 'Kept' }, 'a name already in properties wins');
  });

  test('group keeps its traits and groupId, alias its previousId', () => {
    const group = map('group', { userId: 'u', groupId: 'acme', traits: { plan: 'enterprise' } });
    assert.deepEqual([group.type, group.props], ['group', { plan: 'enterprise', groupId: 'acme' }]);
    const alias = map('alias', { userId: 'new-id', previousId: 'anon-7' });
    assert.deepEqual(
      [alias.type, alias.props, alias.partyId, alias.meta.userId],
      ['alias', { previousId: 'anon-7' }, 'new-id', 'new-id'],
    );
  });

  test('a batch element names its call in "type", and takes the batch context under its own', () => {
    const event = map(undefined, { type: 'page', anonymousId: 'a', context: { locale: 'fr' } }, normalize, {
      context: { library: { name: 'x' }, locale: 'en' },
    });
    assert.equal(event.type, 'page');
    assert.deepEqual(event.meta.context, { library: { name: 'x' }, locale: 'fr' });
    assert.equal(reject(undefined, { type: 'delete', userId: 'u' }).code, 'BEACON_E_BAD_EVENT');
  });

  test('without messageId the id is made by the server and is not a client id', () => {
    const event = map('track', { event: 'x', anonymousId: 'a' });
    assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.equal(marks.hasClientId(event), false);
  });

  test('event names are kept when valid, derived otherwise, and not touched at all when turned off', () => {
    assert.equal(normalizeEventName('checkout.step:2'), 'checkout.step:2');
    assert.match(normalizeEventName('Order Completed'), /^Order_Completed\.[0-9a-f]{10}$/);
    const kept = map('track', { event: 'signup', anonymousId: 'a' });
    assert.deepEqual(kept.meta.segment, { call: 'track' }, 'no original name when nothing changed');
    assert.equal(
      reject('track', { event: 'Order Completed', anonymousId: 'a' }, { normalizeEventNames: false }).code,
      'BEACON_E_BAD_TYPE',
    );
  });

  test('takes every name Segment takes as a valid type, distinct per name, with the original in meta', () => {
    const names = [
      'Äpfel gekauft',
      '$pageleave',
      '_internal',
      '購入完了',
      'ログインしました',
      '注册',
      'Заказ оформлен',
      'طلب مكتمل',
      '🎉',
      'Order Completed',
      'Order  Completed',
      'Order-Completed!',
      'x'.repeat(64),
      'x'.repeat(65),
      'y'.repeat(500),
    ];
    const types = names.map((name) => {
      const event = map('track', { event: name, anonymousId: 'a' });
      assert.match(event.type, PATTERN, `${name} -> ${event.type}`);
      assert.deepEqual(event.meta.segment, event.type === name ? { call: 'track' } : { call: 'track', event: name });
      return event.type;
    });
    assert.equal(new Set(types).size, names.length, types.join(' '));
  });

  test("limits are at least Segment's: 32 KB of properties and nesting deeper than the native 8 levels", () => {
    const native = compileRules(configSchema.parse({ server: { limits: { propsBytes: '4KB' } } }).server.limits);
    const lowered = compatibleRules(native, SEGMENT_MESSAGE_BYTES);
    const blob = { blob: 'y'.repeat(30_000) };
    assert.ok(
      !isRejection(
        segmentEvent('track', { event: 'x', anonymousId: 'a', properties: blob }, facts, lowered, normalize, 100_000),
      ),
      '30 KB of properties with propsBytes 4KB',
    );
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    assert.deepEqual(
      map('track', { event: 'x', anonymousId: 'a', properties: deep, context: { app: deep } }).props,
      deep,
      '41 levels of properties and context',
    );
  });

  test('a bound against hostile input stays: past 64 levels, and past the configured size, a message is refused', () => {
    assert.equal(
      reject('track', { event: 'x', anonymousId: 'a', properties: { blob: 'y'.repeat(70_000) } }).code,
      'BEACON_E_PROPS_TOO_LARGE',
    );
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 70; i++) deep = { d: deep };
    assert.equal(reject('track', { event: 'x', anonymousId: 'a', properties: deep }).code, 'BEACON_E_PROPS_TOO_DEEP');
    const context = reject('track', { event: 'x', anonymousId: 'a', context: deep });
    assert.deepEqual([context.code, context.message.startsWith('context')], ['BEACON_E_PROPS_TOO_DEEP', true]);
  });

  test('it refuses what Segment refuses, with a message that says what is missing', () => {
    const cases: Array<[SegmentCall | undefined, unknown, RegExp]> = [
      ['track', { event: 'x' }, /userId.*anonymousId/],
      ['track', { anonymousId: 'a' }, /"event"/],
      ['group', { userId: 'u' }, /groupId/],
      ['alias', { userId: 'u' }, /previousId/],
      ['track', { event: 'x', anonymousId: 'a', messageId: 42 }, /messageId/],
      ['track', { event: 'x', anonymousId: 'a'.repeat(200) }, /anonymousId/],
      ['track', { event: 'x', anonymousId: 'a', properties: [1] }, /properties/],
      ['identify', { userId: 'u', traits: 'x' }, /traits/],
      ['track', { event: 'x', anonymousId: 'a', context: 'x' }, /context/],
      ['track', 'not an object', /JSON object/],
    ];
    for (const [call, message, pattern] of cases) {
      const r = reject(call, message);
      assert.equal(r.code, 'BEACON_E_BAD_EVENT', JSON.stringify(message));
      assert.match(r.message, pattern);
    }
  });

  test('a timestamp that is not a date does not lose the message: it is kept as sent in meta, without clientTs', () => {
    const event = map('track', { event: 'x', anonymousId: 'a', timestamp: 'yesterday' });
    assert.equal(event.clientTs, undefined);
    assert.deepEqual(event.meta.segment, { call: 'track', timestamp: 'yesterday' });
  });

  test('originalTimestamp stands in for a missing timestamp', () => {
    assert.equal(
      map('track', { event: 'x', anonymousId: 'a', originalTimestamp: '2025-01-01T00:00:00Z' }).clientTs,
      Date.parse('2025-01-01T00:00:00Z'),
    );
  });
});
