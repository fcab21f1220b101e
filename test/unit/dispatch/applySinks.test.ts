import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import type { SinkConfig } from '../../../src/sinks/registry.js';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

const fake = (name: string, sink: FakeSink, extra: Record<string, unknown> = {}) => ({
  config: { name, type: 'fake', batch: { maxEvents: 10, maxWaitMs: 5 }, ...extra },
  sink,
});

describe('Dispatcher.applySinks (config reload)', () => {
  test('starts an added sink at the end of the log, so it takes the events that come after', async () => {
    const hook = new FakeSink();
    const { log, dispatcher } = setup([{ name: 'hook', sink: hook }]);
    await dispatcher.start();
    await log.append(makeEvents(20));
    await waitFor(() => hook.accepted.length === 20, 'hook caught up');
    const fresh = new FakeSink();
    await dispatcher.applySinks({ add: [fake('fresh', fresh)], change: [], remove: [] }, 1000);
    await log.append(makeEvents(15, 20));
    await waitFor(() => fresh.accepted.length === 15 && hook.accepted.length === 35, 'both sinks caught up');
    assert.deepEqual(
      fresh.acceptedIds,
      makeEvents(15, 20).map((e) => e.id),
    );
    assert.deepEqual(
      dispatcher.status().map((s) => s.name),
      ['hook', 'fresh'],
    );
    await dispatcher.stop(1000);
  });

  test('restarts a changed sink from its committed cursor after its batch in flight: nothing lost, nothing twice', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const before = new FakeSink(async (_batch, attempt) => {
      if (attempt === 2) await held;
    });
    const { log, dispatcher } = setup([{ name: 'hook', sink: before }]);
    await dispatcher.start();
    await log.append(makeEvents(30));
    await waitFor(() => before.attempts.length === 2, 'the second batch in flight');
    const after = new FakeSink();
    const applying = dispatcher.applySinks(
      { add: [], change: [fake('hook', after, { batch: { maxEvents: 7, maxWaitMs: 5 } })], remove: [] },
      5000,
    );
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(after.opens, 0, 'the new sink waits for the batch in flight');
    release();
    await applying;
    assert.equal(before.closes, 1, 'the old sink was closed');
    await log.append(makeEvents(10, 30));
    await waitFor(() => before.accepted.length + after.accepted.length === 40, 'every event delivered once');
    assert.deepEqual(
      [...before.acceptedIds, ...after.acceptedIds],
      makeEvents(40).map((e) => e.id),
    );
    assert.ok(
      after.attempts.every((b) => b.length <= 7),
      'the new settings apply',
    );
    await dispatcher.stop(1000);
  });

  test('stops a removed sink after its batch, forgets its cursor and gauges, and leaves the others delivering', async () => {
    const hook = new FakeSink();
    const old = new FakeSink();
    const { log, dispatcher, metrics } = setup([
      { name: 'hook', sink: hook },
      { name: 'old', sink: old },
    ]);
    const forgotten: string[] = [];
    Object.assign(log, { forgetCursor: (name: string) => forgotten.push(name) });
    await dispatcher.start();
    await log.append(makeEvents(10));
    await waitFor(() => old.accepted.length === 10, 'old caught up');
    await dispatcher.applySinks({ add: [], change: [], remove: ['old'] }, 1000);
    assert.equal(old.closes, 1);
    assert.deepEqual(forgotten, ['old']);
    assert.deepEqual(
      dispatcher.status().map((s) => s.name),
      ['hook'],
    );
    const text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /beacon_sink_(state|lag_events)\{[^}]*sink="old"/);
    assert.match(text, /beacon_sink_delivered_total\{sink="old"\} 10/, 'counters stay');
    await log.append(makeEvents(10, 10));
    await waitFor(() => hook.accepted.length === 20, 'hook keeps delivering');
    assert.equal(old.accepted.length, 10);
    await dispatcher.stop(1000);
  });

  test('changes nothing when a new sink cannot be built', async () => {
    const hook = new FakeSink();
    const old = new FakeSink();
    const { dispatcher } = setup([
      { name: 'hook', sink: hook },
      { name: 'old', sink: old },
    ]);
    await dispatcher.start();
    const unknownType = { name: 'bad', type: 'carrier-pigeon' } as unknown as SinkConfig;
    const err = await dispatcher
      // A hand-built config the config schema never saw (it refuses unknown types at load).
      .applySinks({ add: [{ config: unknownType }], change: [], remove: ['old'] }, 1000)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(isBeaconError(err) && err.code === 'BEACON_E_CONFIG_FIELD', String(err));
    assert.match((err as Error).message, /unknown sink type "carrier-pigeon"/);
    assert.deepEqual(
      dispatcher.status().map((s) => s.name),
      ['hook', 'old'],
    );
    assert.equal(old.closes, 0);
    await dispatcher.stop(1000);
  });
});
