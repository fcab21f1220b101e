import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FilterSyntaxError, filterQuery, parseFilterBox } from '../../../web/src/liveFilter.js';
import { FailureTracker, describeSink, overall, DOWN_AFTER_MS } from '../../../web/src/sinkHealth.js';
import { parseStatus, parseThroughput, ShapeError, type SinkView } from '../../../web/src/parse.js';
import { bytes, count, duration, rate } from '../../../web/src/format.js';

/** The web page's logic that needs no browser: the filter box, sink health, answer parsing, formatting. */

describe("the live view's filter box", () => {
  it('turns words into types, key=value into prop filters and bot:/duplicate: into flags', () => {
    const q = filterQuery(parseFilterBox('  pageview signup plan=pro coupon= bot:false duplicate:true '));
    assert.equal(
      q.toString(),
      new URLSearchParams({
        type: 'pageview,signup',
        where: 'plan=pro,coupon',
        bot: 'false',
        duplicate: 'true',
      }).toString(),
    );
    assert.equal(filterQuery(parseFilterBox('')).toString(), '');
  });

  it('explains what it cannot read', () => {
    assert.throws(() => parseFilterBox('=pro'), FilterSyntaxError);
    assert.throws(() => parseFilterBox('a,b'), /spaces, not commas/);
    assert.throws(() => parseFilterBox('bot:maybe'), /bot:true or bot:false/);
  });
});

const sink = (over: Partial<SinkView>): SinkView => ({
  name: 'hook',
  type: 'http',
  state: 'idle',
  since: 0,
  lagEvents: 0,
  lagSeconds: 0,
  delivered: 0,
  deadLettered: 0,
  nextAttemptAt: undefined,
  ...over,
});

describe('sink health on the destination cards', () => {
  it('calls idle and delivering sinks delivering, and a failing one backing off, then down since', () => {
    const t = new FailureTracker();
    const now = 1_000_000;
    assert.equal(describeSink(sink({ state: 'idle' }), undefined, now).label, 'delivering');
    t.update([sink({ state: 'backing_off', since: now - 500, delivered: 10 })], now);
    const early = describeSink(
      sink({ state: 'backing_off', since: now - 500, nextAttemptAt: now + 3000 }),
      t.failingSince('hook'),
      now,
    );
    assert.deepEqual([early.label, early.tone, early.detail], ['backing off', 'warn', 'next try in 3.0 s']);
    // A probe moves it through `delivering` with nothing delivered: still failing.
    t.update([sink({ state: 'delivering', delivered: 10 })], now + 1000);
    assert.equal(t.failingSince('hook'), now - 500);
    const later = now - 500 + DOWN_AFTER_MS;
    const down = describeSink(sink({ state: 'backing_off', since: later - 100 }), t.failingSince('hook'), later);
    assert.equal(down.tone, 'bad');
    assert.match(down.label, /^down since \d\d:\d\d:\d\d$/);
    t.update([sink({ state: 'delivering', delivered: 11 })], later);
    assert.equal(t.failingSince('hook'), undefined, 'a delivery ends the failure');
  });

  it('sums the sinks up for the header', () => {
    const t = new FailureTracker();
    assert.deepEqual(overall([], t, 0), { text: 'No destinations configured', tone: 'muted', problems: 0 });
    assert.equal(overall([sink({}), sink({ name: 'b' })], t, 0).text, 'All 2 destinations healthy');
    const mixed = overall(
      [sink({}), sink({ name: 'b', state: 'backing_off', since: 0 }), sink({ name: 'c', state: 'fatal' })],
      t,
      1000,
    );
    assert.deepEqual(mixed, { text: '1 destination down, 1 backing off', tone: 'bad', problems: 2 });
  });
});

describe('parsing API answers', () => {
  it('reads a status answer, tolerating unknown states and missing fields', () => {
    const s = parseStatus({
      version: '1.2.3',
      uptimeSeconds: 5,
      log: { bytes: 1, maxBytes: 2, ratio: 0.5 },
      sinks: [
        {
          name: 'a',
          type: 'file',
          state: 'warp',
          since: '2026-01-01T00:00:00.000Z',
          lastError: { message: 'x', kind: 'retry', at: '2026-01-01T00:00:01.000Z' },
        },
      ],
    });
    assert.equal(s.sinks[0]!.state, 'unknown');
    assert.equal(s.sinks[0]!.since, Date.parse('2026-01-01T00:00:00.000Z'));
    assert.equal(s.sinks[0]!.lastError?.at, Date.parse('2026-01-01T00:00:01.000Z'));
    assert.throws(() => parseStatus({ sinks: 'no' }), ShapeError);
  });

  it('refuses a throughput answer whose series differ in length', () => {
    assert.throws(() => parseThroughput({ received: [1], rejected: [], delivered: [1] }), /differ in length/);
    assert.deepEqual(
      parseThroughput({
        intervalMs: 1000,
        end: 5,
        received: [1, null],
        rejected: [0, null],
        delivered: [2, 'x'],
        deliveredBySink: { a: [], b: [] },
      }).delivered,
      [2, null],
    );
  });
});

describe('number formatting', () => {
  it('formats counts, rates, bytes and durations for people', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.deepEqual([rate(0), rate(0.44), rate(1234.4)], ['0/s', '0.4/s', '1,234/s']);
    assert.deepEqual([bytes(512), bytes(1536), bytes(10 * 1024 ** 3)], ['512 B', '1.5 KiB', '10 GiB']);
    assert.deepEqual(
      [duration(3.21), duration(75), duration(7200), duration(90_000)],
      ['3.2 s', '1 min 15 s', '2 h', '1 d 1 h'],
    );
  });
});
