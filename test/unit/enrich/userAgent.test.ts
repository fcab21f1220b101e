import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetrics } from '../../../src/ops/metrics.js';
import { userAgentStep } from '../../../src/enrich/userAgent.js';
import { httpEvent, UA } from './fixtures.js';

function uaOf(ua: string) {
  const event = httpEvent({ ua });
  userAgentStep({ cacheSize: 10 }).apply(event);
  return event.meta.ua;
}

async function lookups(metrics: ReturnType<typeof createMetrics>, result: 'hit' | 'miss'): Promise<number> {
  const metric = await metrics.enrichUaCacheLookups.get();
  return metric.values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('the user-agent step', () => {
  test('it names the browser, its version and the OS of desktop Chrome', () => {
    assert.deepEqual(uaOf(UA.chrome), {
      browser: 'Chrome',
      browserVersion: '120.0.0.0',
      os: 'Windows',
      osVersion: '10',
    });
  });

  test('it leaves out what the agent does not tell (Firefox on Ubuntu gives no OS version)', () => {
    assert.deepEqual(uaOf(UA.firefox), { browser: 'Firefox', browserVersion: '121.0', os: 'Ubuntu' });
  });

  test('it names the device of an iPhone', () => {
    assert.deepEqual(uaOf(UA.iphone), {
      browser: 'Mobile Safari',
      browserVersion: '17.2',
      os: 'iOS',
      osVersion: '17.2',
      deviceType: 'mobile',
      deviceVendor: 'Apple',
      deviceModel: 'iPhone',
    });
  });

  test('it writes no meta.ua for an agent it cannot read, such as Googlebot', () => {
    assert.equal(uaOf(UA.googlebot), undefined);
    assert.equal(uaOf('curl/8.5.0'), undefined);
  });

  test('it skips an event without a string user agent', () => {
    const step = userAgentStep({ cacheSize: 10 });
    for (const ua of [undefined, '', 42, { a: 1 }, null]) {
      const event = httpEvent();
      (event as { ua?: unknown }).ua = ua;
      step.apply(event);
      assert.equal(event.meta.ua, undefined);
    }
  });

  test('it serves a repeated agent from its cache and counts hits and misses in beacon_enrich_ua_cache_lookups_total', async () => {
    const metrics = createMetrics();
    const step = userAgentStep({ cacheSize: 10, metrics });
    const first = httpEvent({ ua: UA.chrome });
    const second = httpEvent({ ua: UA.chrome });
    const third = httpEvent({ ua: UA.firefox });
    for (const e of [first, second, third]) step.apply(e);
    step.flush!();
    assert.equal(await lookups(metrics, 'hit'), 1);
    assert.equal(await lookups(metrics, 'miss'), 2);
    assert.equal(first.meta.ua, second.meta.ua, 'the cached parse is shared');
    assert.ok(Object.isFrozen(first.meta.ua));
  });

  test('it parses agents longer than the parser reads by their first 500 characters', () => {
    const long = UA.chrome + ' '.repeat(600) + 'trailing';
    assert.deepEqual(uaOf(long), uaOf(UA.chrome));
  });
});
