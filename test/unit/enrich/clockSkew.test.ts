import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clockSkewStep } from '../../../src/enrich/clockSkew.js';
import { httpEvent } from './fixtures.js';

describe('the clock-skew step', () => {
  test('it writes server receive time minus client time', () => {
    const late = httpEvent({ clientTs: 1_700_000_000_000 - 1500 }, 1_700_000_000_000);
    const ahead = httpEvent({ clientTs: 1_700_000_000_000 + 250 }, 1_700_000_000_000);
    clockSkewStep().apply(late);
    clockSkewStep().apply(ahead);
    assert.equal(late.meta.clockSkewMs, 1500);
    assert.equal(ahead.meta.clockSkewMs, -250);
  });

  test('it writes nothing when the client gave no time, or gave one that is not a number', () => {
    const none = httpEvent();
    clockSkewStep().apply(none);
    assert.equal(none.meta.clockSkewMs, undefined);
    const bad = httpEvent();
    (bad as { clientTs?: unknown }).clientTs = '2024-01-01';
    clockSkewStep().apply(bad);
    assert.equal(bad.meta.clockSkewMs, undefined);
  });
});
