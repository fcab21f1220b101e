import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { botStep } from '../../../src/enrich/bot.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { httpEvent, UA } from './fixtures.js';

function flagged(ua: unknown, patterns: string[] = []): boolean | undefined {
  const event = httpEvent();
  (event as { ua?: unknown }).ua = ua;
  botStep({ patterns, cacheSize: 10 }).apply(event);
  return event.meta.bot;
}

describe('the bot step', () => {
  test('it flags Googlebot with meta.bot', () => {
    assert.equal(flagged(UA.googlebot), true);
  });

  test('it does not flag browsers, and writes no meta.bot for them', () => {
    for (const ua of [UA.chrome, UA.firefox, UA.iphone]) assert.equal(flagged(ua), undefined, ua);
  });

  test('it flags agents matching an extra pattern, case-insensitively', () => {
    const ours = 'Mozilla/5.0 (Windows NT 10.0) AcmeUptimeProbe/3.1';
    assert.equal(flagged(ours), undefined);
    assert.equal(flagged(ours, ['acmeuptimeprobe']), true);
    assert.equal(flagged(UA.chrome, ['acmeuptimeprobe']), undefined);
    assert.equal(flagged(UA.googlebot, ['acmeuptimeprobe']), true, 'isbot list still applies');
  });

  test('an extra pattern with alternation does not swallow the rest of the list', () => {
    assert.equal(flagged(UA.chrome, ['^nomatch|alsonomatch$']), undefined);
  });

  test('it refuses an extra pattern that is not a regular expression, naming it', () => {
    assert.throws(
      () => botStep({ patterns: ['ok', '(unclosed'], cacheSize: 10 }),
      (err: unknown) =>
        isBeaconError(err) && err.code === 'BEACON_E_CONFIG_FIELD' && err.message.includes('enrich.bots.patterns[1]'),
    );
  });

  test('it does not flag an event without a string user agent', () => {
    for (const ua of [undefined, '', 7, ['Googlebot']]) assert.equal(flagged(ua), undefined);
  });

  test('it gives the same answer from its cache and for agents too long to cache', () => {
    const step = botStep({ patterns: [], cacheSize: 2 });
    const long = UA.googlebot + 'x'.repeat(1000);
    for (const ua of [UA.googlebot, UA.googlebot, long, long, UA.chrome, UA.chrome]) {
      const event = httpEvent({ ua });
      step.apply(event);
      assert.equal(event.meta.bot, ua === UA.chrome ? undefined : true);
    }
  });
});
