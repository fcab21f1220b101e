import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { SinkError, type Attempt, type SinkDeadlines } from '../../../src/sinks/sink.js';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

/** A fake sink whose first attempt never answers; it remembers the signals the loop gave it. */
class StuckOnceSink extends FakeSink {
  readonly attemptSignals: AbortSignal[] = [];

  constructor(readonly deadlines: SinkDeadlines) {
    super();
  }

  override async deliver(batch: readonly TrackedEvent[], attempt: Attempt): Promise<void> {
    this.attemptSignals.push(attempt.signal);
    if (this.attemptSignals.length === 1) return new Promise(() => {});
    return super.deliver(batch);
  }
}

/** A fake sink whose close never finishes on its own, only when the loop forces it. */
class HangingCloseSink extends FakeSink {
  readonly deadlines = { closeMs: 30 };
  readonly closeSignals: AbortSignal[] = [];

  override close(signal: AbortSignal): Promise<void> {
    this.closes++;
    this.closeSignals.push(signal);
    return new Promise(() => {});
  }
}

describe('Dispatcher deadlines', { timeout: 10_000 }, () => {
  test('aborts a stuck deliver after attemptMs, counts it as a failed attempt and retries the batch', async () => {
    const sink = new StuckOnceSink({
      attemptMs: 30,
      timedOut: (ms) => new SinkError('retry', `no answer within ${ms} ms`, { errorType: 'timeout' }),
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(3));
    const backoff = await clock.nextSleep();
    assert.equal(backoff, 100, 'the timed-out attempt is followed by the first back-off');
    const first = sink.attemptSignals[0]!;
    assert.ok(first.aborted, "the stuck attempt's signal is aborted");
    assert.equal((first.reason as SinkError).errorType, 'timeout');
    const s = dispatcher.status()[0]!;
    assert.equal(s.errors, 1);
    assert.equal(s.lastError?.kind, 'retry');
    assert.equal(s.lastError?.message, 'no answer within 30 ms');
    clock.advance(backoff);
    await waitFor(() => sink.accepted.length === 3, 'the batch delivered by the next attempt');
    assert.equal(sink.attemptSignals[1]!.aborted, false);
    assert.equal(sink.opens, 1, 'a retry keeps the connection');
    assert.equal(sink.closes, 0);
    await dispatcher.stop(1000);
  });

  test('without timedOut, a stuck attempt counts as reconnect: the sink is closed and opened again', async () => {
    const sink = new StuckOnceSink({ attemptMs: 30 });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(2));
    clock.advance(await clock.nextSleep());
    await waitFor(() => sink.accepted.length === 2, 'delivery');
    const s = dispatcher.status()[0]!;
    assert.equal(s.lastError?.kind, 'reconnect');
    assert.equal(s.lastError?.message, 'fake sink "hook": no answer within 30 ms');
    assert.equal(sink.closes, 1);
    assert.equal(sink.opens, 2);
    await dispatcher.stop(1000);
  });

  test('forces a close that hangs past closeMs (its signal aborts) and goes on', async () => {
    let failures = 1;
    const sink = new HangingCloseSink(() => {
      if (failures-- > 0) throw new SinkError('reconnect', 'connection lost', { errorType: 'econnreset' });
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(2));
    await waitFor(() => sink.closes === 1, 'the close after the reconnect error');
    assert.equal(sink.closeSignals[0]!.aborted, false, 'not forced before closeMs');
    await waitFor(() => sink.closeSignals[0]!.aborted, 'the forced close');
    clock.advance(await clock.nextSleep());
    await waitFor(() => sink.accepted.length === 2, 'delivery after reopening');
    assert.equal(sink.opens, 2);
    // At stop too: a hanging close does not hold the shutdown.
    await dispatcher.stop(1000);
    assert.equal(sink.closes, 2);
    assert.equal(sink.closeSignals[1]!.aborted, true);
  });
});
