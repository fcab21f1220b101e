import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { BeaconError } from '../../../src/errors/beaconError.js';
import { delay, metricValue, postJson, rejectedCount, startCollector, type Answer, type Collector } from './harness.js';

describe('answers follow the log', () => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector();
  });
  beforeEach(() => {
    collector.recorder.release();
    collector.recorder.failWith(undefined);
  });
  after(() => collector.close());

  test('it never sends a 2xx before emit resolves', async () => {
    collector.recorder.hold();
    const settled: Array<string> = [];
    const track = (name: string, p: Promise<Answer>) => p.then((a) => settled.push(`${name}:${a.status}`));
    const all = Promise.all([
      track('pixel', collector.send({ path: '/t/view' })),
      track('gif', collector.send({ path: '/t/view.gif' })),
      track('single', postJson(collector, '/t/view', { a: 1 })),
      track('batch', postJson(collector, '/batch', [{ type: 'a' }, { type: 'b' }])),
    ]);
    await collector.recorder.waitForPending(4);
    await delay(100);
    assert.deepEqual(settled, [], 'no answer while the events are not durable');
    assert.equal(collector.recorder.durable.length, 0);
    collector.recorder.release();
    await all;
    assert.deepEqual(settled.sort(), ['batch:200', 'gif:200', 'pixel:204', 'single:204']);
    assert.equal(collector.recorder.durable.length, 5);
  });

  test('it makes one emit call per request', async () => {
    const calls = collector.recorder.calls.length;
    await postJson(
      collector,
      '/batch',
      Array.from({ length: 50 }, (_, i) => ({ type: 'n', props: { i } })),
    );
    assert.equal(collector.recorder.calls.length, calls + 1);
    assert.equal(collector.recorder.calls.at(-1)!.length, 50);
  });

  test('it answers 503 with Retry-After when the log is full', async () => {
    const full = await metricValue(collector.metrics.logFull);
    const before = await rejectedCount(collector, 'BEACON_E_LOG_FULL');
    collector.recorder.failWith(new BeaconError('BEACON_E_LOG_FULL', 'the log is full', { retryAfterSeconds: 7 }));
    const answers = [
      await collector.send({ path: '/t/view' }),
      await collector.send({ path: '/t/view.gif' }),
      await postJson(collector, '/t/view', { a: 1 }),
      await postJson(collector, '/batch', [{ type: 'a' }, { type: 'b' }]),
    ];
    for (const answer of answers) {
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['retry-after'], '7');
      assert.deepEqual(answer.json(), { code: 'BEACON_E_LOG_FULL', message: 'the log is full' });
    }
    assert.equal(await metricValue(collector.metrics.logFull), full + 4);
    assert.equal(await rejectedCount(collector, 'BEACON_E_LOG_FULL'), before + 5, 'each refused event is counted');
  });

  test('it answers 503 and closes the connection when the log is closed', async () => {
    collector.recorder.failWith(new BeaconError('BEACON_E_LOG_CLOSED', 'shutting down'));
    const answer = await collector.send({ path: '/t/view' });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.connection, 'close');
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_LOG_CLOSED');
  });

  test('it answers 500 BEACON_E_INTERNAL when emit fails with an unexpected error', async () => {
    collector.recorder.failWith(new Error('disk on fire'));
    const answer = await postJson(collector, '/batch', [{ type: 'a' }]);
    assert.equal(answer.status, 500);
    assert.deepEqual(Object.keys(answer.json() as object), ['code', 'message']);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_INTERNAL');
    assert.doesNotMatch(answer.text, /disk on fire/, 'internal details stay in the server log');
  });

  test('it keeps the accounting ledger: received = emitted + rejected', async () => {
    const fresh = await startCollector();
    try {
      await fresh.send({ path: '/t/ok' });
      await fresh.send({ path: '/t/bad%20type' });
      await postJson(fresh, '/batch', [{ type: 'a' }, { nope: 1 }, { type: 'b' }]);
      await postJson(fresh, '/batch', '[');
      fresh.recorder.failWith(new BeaconError('BEACON_E_LOG_FULL', 'full', { retryAfterSeconds: 1 }));
      await postJson(fresh, '/batch', [{ type: 'a' }, { type: 'b' }]);
      const received = await metricValue(fresh.metrics.eventsReceived, { source: 'http' });
      const { values } = await fresh.metrics.eventsRejected.get();
      const rejected = values.reduce((sum, v) => sum + v.value, 0);
      assert.equal(received, 8);
      assert.equal(fresh.recorder.durable.length + rejected, received);
    } finally {
      await fresh.close();
    }
  });
});
