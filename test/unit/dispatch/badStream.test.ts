import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEventFilter } from '../../../src/dispatch/eventFilter.js';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

/** Events e0..e9 of type page/click alternating; e2, e5 and e8 failed their schema. */
function mixed() {
  return makeEvents(10, 0, (i) => ({
    type: i % 2 ? 'click' : 'page',
    meta: i % 3 === 2 ? { invalid: { schema: 'page', reasons: ['props.n must be a string'] } } : {},
  }));
}

describe('sinks and the bad stream', () => {
  test('by default a sink never sees bad events, one with badStream: only sees nothing else, include sees all; every cursor moves past all', async () => {
    const normal = new FakeSink();
    const bad = new FakeSink();
    const all = new FakeSink();
    const { log, dispatcher, metrics } = setup([
      { name: 'normal', sink: normal },
      { name: 'bad-rows', sink: bad, config: { badStream: 'only' } },
      { name: 'everything', sink: all, config: { badStream: 'include' } },
    ]);
    await dispatcher.start();
    await log.append(mixed());
    await waitFor(
      () => ['normal', 'bad-rows', 'everything'].every((s) => log.committedOf(s) === 10),
      'every cursor committed',
    );
    assert.deepEqual(normal.acceptedIds, ['e0', 'e1', 'e3', 'e4', 'e6', 'e7', 'e9']);
    assert.deepEqual(bad.acceptedIds, ['e2', 'e5', 'e8']);
    assert.equal(all.acceptedIds.length, 10);
    const skipped = await metrics.registry.getSingleMetricAsString('beacon_sink_skipped_total');
    assert.match(skipped, /beacon_sink_skipped_total\{sink="normal",filter="bad_stream"\} 3/);
    assert.match(skipped, /beacon_sink_skipped_total\{sink="bad-rows",filter="bad_stream"\} 7/);
    assert.doesNotMatch(skipped, /sink="everything"/);
    await dispatcher.stop(1000);
  });

  test('a batch with nothing for the sink still moves its cursor', async () => {
    const bad = new FakeSink();
    const { log, dispatcher } = setup([{ name: 'bad-rows', sink: bad, config: { badStream: 'only' } }]);
    await dispatcher.start();
    await log.append(makeEvents(5));
    await waitFor(() => log.committedOf('bad-rows') === 5, 'commit past good-only batch');
    assert.equal(bad.attempts.length, 0, 'deliver was never called with an empty batch');
    await dispatcher.stop(1000);
  });

  test('types and badStream combine; an event left out by type is not counted against the bad stream', () => {
    const filter = createEventFilter({ types: ['click'], badStream: 'exclude' })!;
    const { wanted, skippedByType, skippedByBadStream } = filter.select(mixed());
    assert.deepEqual(
      wanted.map((e) => e.id),
      ['e1', 'e3', 'e7', 'e9'],
    );
    assert.deepEqual([skippedByType, skippedByBadStream], [5, 1]);
    assert.equal(
      createEventFilter({ badStream: 'include' }),
      undefined,
      'no filter at all when the sink takes everything',
    );
    const good = makeEvents(3);
    assert.equal(
      createEventFilter({})!.select(good).wanted,
      good,
      'an all-good batch is passed on as it is, without a copy',
    );
  });
});
