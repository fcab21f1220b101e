import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createEnrichChain } from '../../../src/enrich/chain.js';
import { inCodecOrder } from '../../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { enrichConfig, httpEvent, UA } from './fixtures.js';

async function counterValue(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe('the enrichment chain', () => {
  test('with the defaults it writes ua, geo and skew, then truncates the ip after geo has used it', () => {
    const chain = createEnrichChain(enrichConfig());
    const event = httpEvent({ clientTs: 1_699_999_999_000, ip: '8.8.8.8', ua: UA.iphone }, 1_700_000_000_000);
    const out = chain.run([event]);
    assert.equal(out.length, 1);
    assert.equal(event.ip, '8.8.8.0');
    assert.deepEqual(event.meta.geo, { country: 'US' });
    assert.equal((event.meta.ua as { os: string }).os, 'iOS');
    assert.equal(event.meta.clockSkewMs, 1000);
    assert.equal(event.meta.bot, undefined);
    assert.ok(inCodecOrder(event), 'the event keeps the json codec key order, so the log stringifies it directly');
  });

  test('it runs the steps in the documented order', () => {
    assert.deepEqual(
      createEnrichChain(enrichConfig()).steps.map((s) => s.name),
      ['clockSkew', 'ua', 'bots', 'geo', 'ids', 'requests', 'ip'],
    );
    assert.deepEqual(
      createEnrichChain(
        enrichConfig({
          ua: { enabled: false },
          bots: { enabled: false },
          geo: { enabled: false },
          ip: { anonymize: 'none' },
          duplicates: { enabled: false },
          clockSkew: false,
        }),
      ).steps,
      [],
    );
  });

  test('it flags bots and keeps them unless told to drop them', () => {
    const event = httpEvent({ ua: UA.googlebot });
    const out = createEnrichChain(enrichConfig()).run([event]);
    assert.deepEqual(out, [event]);
    assert.equal(event.meta.bot, true);
  });

  test('with bots.drop it leaves bot events out and counts them as BEACON_E_BOT_DROPPED per source', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ bots: { drop: true } }), { metrics });
    const human = httpEvent({ ua: UA.chrome });
    const bot = httpEvent({ ua: UA.googlebot });
    const queued = httpEvent({ ua: UA.googlebot });
    queued.meta.source = 'orders-queue';
    assert.deepEqual(chain.run([bot, human, queued]), [human]);
    assert.equal(await counterValue(metrics.eventsRejected, { source: 'http', code: 'BEACON_E_BOT_DROPPED' }), 1);
    assert.equal(
      await counterValue(metrics.eventsRejected, { source: 'orders-queue', code: 'BEACON_E_BOT_DROPPED' }),
      1,
    );
    const all = [human];
    assert.equal(chain.run(all), all, 'no bots: the same array, no copy');
  });

  test('the user-agent cache hit metric moves as events repeat an agent', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig(), { metrics });
    chain.run([httpEvent({ ua: UA.chrome }), httpEvent({ ua: UA.chrome })]);
    chain.run([httpEvent({ ua: UA.chrome })]);
    assert.equal(await counterValue(metrics.enrichUaCacheLookups, { result: 'miss' }), 1);
    assert.equal(await counterValue(metrics.enrichUaCacheLookups, { result: 'hit' }), 2);
  });

  test('it never throws on garbage, and never lets an unreadable ip through', () => {
    const chain = createEnrichChain(enrichConfig());
    const weird: unknown[] = [
      httpEvent({ ua: 42 as unknown as string, ip: 'not-an-ip' }),
      { ...httpEvent(), ua: { nested: true }, ip: ['8.8.8.8'], clientTs: 'yesterday' },
      { id: 'x', type: 't', ts: Number.NaN, props: {}, meta: null, ip: '::::' },
      { id: 'y', type: 't', ts: 1, props: {}, meta: 'text' },
      null,
      7,
      Object.freeze({ ...httpEvent({ ip: '8.8.8.8' }) }),
      Object.defineProperty(httpEvent(), 'ua', {
        enumerable: true,
        get() {
          throw new Error('boom');
        },
      }),
    ];
    assert.doesNotThrow(() => chain.run(weird as TrackedEvent[]));
    const [a, b, c, d] = weird as TrackedEvent[];
    assert.equal(a!.ip, undefined);
    assert.equal(a!.meta.ipInvalid, true);
    assert.equal(b!.ip, undefined);
    assert.equal(b!.meta.ua, undefined);
    assert.equal(b!.meta.clockSkewMs, undefined);
    assert.equal(c!.ip, undefined);
    assert.deepEqual(d!.meta, {});
    assert.match(String((weird[7] as TrackedEvent).meta.enrichFailed), /ua/);
  });

  test('with anonymize none the ip is written as received, with its geo', () => {
    const event = httpEvent({ ip: '8.8.8.8' });
    createEnrichChain(enrichConfig({ ip: { anonymize: 'none' } })).run([event]);
    assert.equal(event.ip, '8.8.8.8');
    assert.deepEqual(event.meta.geo, { country: 'US' });
  });

  test('it truncates IPv6 at the configured prefix', () => {
    const event = httpEvent({ ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348' });
    createEnrichChain(enrichConfig({ ip: { ipv6Prefix: 32 } })).run([event]);
    assert.equal(event.ip, '2001:db8::');
  });
});
