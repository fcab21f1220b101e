import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dispatcher, SinkStatus } from '../../../src/dispatch/index.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import type { LogPosition } from '../../../src/log/eventLog.js';
import { SinkError, type BatchOrigins } from '../../../src/sinks/sink.js';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

function status(d: Dispatcher, name: string): SinkStatus {
  const s = d.status().find((x) => x.name === name);
  assert.ok(s, `no status for ${name}`);
  return s;
}

describe('Dispatcher delivery', () => {
  test('delivers every event in log order and commits the cursor', async () => {
    const sink = new FakeSink();
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(25));
    await waitFor(() => sink.accepted.length === 25, 'all events');
    await waitFor(() => log.committedOf('hook') === 25, 'commit');
    assert.deepEqual(
      sink.acceptedIds,
      makeEvents(25).map((e) => e.id),
    );
    const s = dispatcher.status()[0]!;
    assert.equal(s.delivered, 25);
    assert.equal(s.lagEvents, 0);
    assert.ok(
      sink.attempts.every((b) => b.length <= 10),
      'batches respect batch.maxEvents',
    );
    await dispatcher.stop(1000);
  });

  test('delivers only the listed types but moves past the others', async () => {
    const sink = new FakeSink();
    const { log, dispatcher } = setup([{ name: 'clicks', sink, config: { types: ['click'] } }]);
    await dispatcher.start();
    await log.append(makeEvents(10, 0, (i) => ({ type: i % 2 ? 'click' : 'page' })));
    await waitFor(() => log.committedOf('clicks') === 10, 'commit');
    assert.deepEqual(sink.acceptedIds, ['e1', 'e3', 'e5', 'e7', 'e9']);
    await dispatcher.stop(1000);
  });

  test('counts delivered events in the beacon_sink_delivered_total metric', async () => {
    const sink = new FakeSink();
    const { log, dispatcher, metrics } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(12));
    await waitFor(() => sink.accepted.length === 12, 'delivery');
    const text = await metrics.registry.getSingleMetricAsString('beacon_sink_delivered_total');
    assert.match(text, /beacon_sink_delivered_total\{sink="hook"\} 12/);
    await dispatcher.stop(1000);
  });

  test('observes receive-to-delivery per event for a sink that writes at once, not for one that holds events', async () => {
    /** Takes events into a later object (as the s3 sink does): commits the batch's end, writes nothing yet. */
    class HoldingSink extends FakeSink {
      async deliverAt(batch: readonly TrackedEvent[], at: BatchOrigins): Promise<LogPosition> {
        this.accepted.push(...batch);
        return at.end;
      }
      async flushHeld(): Promise<LogPosition | undefined> {
        return undefined;
      }
    }
    const writes = new FakeSink();
    const holds = new HoldingSink();
    const { log, dispatcher, metrics } = setup([
      { name: 'writes', sink: writes },
      { name: 'holds', sink: holds },
    ]);
    await dispatcher.start();
    try {
      await log.append(makeEvents(12));
      await waitFor(() => writes.accepted.length === 12 && holds.accepted.length === 12, 'delivery');
      const delivered = await metrics.registry.getSingleMetricAsString('beacon_sink_delivered_total');
      assert.match(delivered, /beacon_sink_delivered_total\{sink="holds"\} 12/);
      const latency = await metrics.registry.getSingleMetricAsString('beacon_ingest_delivery_seconds');
      assert.match(latency, /beacon_ingest_delivery_seconds_count\{sink="writes"\} 12/);
      assert.doesNotMatch(latency, /sink="holds"/);
    } finally {
      await dispatcher.stop(1000);
    }
  });

  test('logs the sent count every logEvery events per sink', async () => {
    const sink = new FakeSink();
    const { log, dispatcher, lines } = setup(
      [{ name: 'hook', sink, config: { batch: { maxEvents: 5, maxWaitMs: 5 } } }],
      { logEvery: 10 },
    );
    await dispatcher.start();
    await log.append(makeEvents(30));
    await waitFor(() => sink.accepted.length === 30, 'delivery');
    const sent = lines.filter((l) => l.event === 'sink_sent').map((l) => ({ sink: l.sink, sent: l.sent }));
    assert.deepEqual(sent, [
      { sink: 'hook', sent: 10 },
      { sink: 'hook', sent: 20 },
      { sink: 'hook', sent: 30 },
    ]);
    await dispatcher.stop(1000);
  });
});

describe('Dispatcher back-off', () => {
  test('backs off exponentially, caps at maxFailoverDuration and keeps probing at that interval', async () => {
    let failures = 8;
    const sink = new FakeSink(() => {
      if (failures-- > 0) throw new SinkError('retry', 'HTTP 503', { errorType: 'http_503' });
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }], {
      initialBackoff: 100,
      maxFailoverDuration: 1000,
    });
    await dispatcher.start();
    await log.append(makeEvents(3));
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const ms = await clock.nextSleep();
      waits.push(ms);
      const s = status(dispatcher, 'hook');
      assert.equal(s.state, 'backing_off');
      assert.equal(s.nextAttemptAt, new Date(clock.now() + ms).toISOString());
      assert.equal(s.lastError?.kind, 'retry');
      clock.advance(ms);
    }
    assert.deepEqual(waits, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    await waitFor(() => sink.accepted.length === 3, 'delivery after recovery');
    assert.equal(sink.attempts.length, 9, 'the same batch was retried, nothing dropped');
    assert.ok(sink.attempts.every((a) => a.join() === 'e0,e1,e2'));
    assert.equal(status(dispatcher, 'hook').errors, 8);
    await dispatcher.stop(1000);
  });

  test('uses a per-sink maxFailoverDuration over the dispatch default', async () => {
    let failures = 4;
    const sink = new FakeSink(() => {
      if (failures-- > 0) throw new SinkError('retry', 'busy');
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink, config: { maxFailoverDuration: 250 } }], {
      initialBackoff: 100,
      maxFailoverDuration: 30_000,
    });
    await dispatcher.start();
    await log.append(makeEvents(1));
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ms = await clock.nextSleep();
      waits.push(ms);
      clock.advance(ms);
    }
    assert.deepEqual(waits, [100, 200, 250, 250]);
    await waitFor(() => sink.accepted.length === 1, 'delivery');
    await dispatcher.stop(1000);
  });

  test('honours a Retry-After longer than the back-off, up to maxFailoverDuration', async () => {
    let failures = 2;
    const sink = new FakeSink(() => {
      if (failures-- > 0) throw new SinkError('retry', 'HTTP 429', { retryAfterMs: failures === 1 ? 700 : 60_000 });
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(1));
    const first = await clock.nextSleep();
    clock.advance(first);
    const second = await clock.nextSleep();
    clock.advance(second);
    assert.deepEqual([first, second], [700, 1000]);
    await waitFor(() => sink.accepted.length === 1, 'delivery');
    await dispatcher.stop(1000);
  });

  test('closes and reopens the sink after a reconnect error', async () => {
    let failures = 1;
    const sink = new FakeSink(() => {
      if (failures-- > 0) throw new SinkError('reconnect', 'connection lost', { errorType: 'econnreset' });
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(2));
    clock.advance(await clock.nextSleep());
    await waitFor(() => sink.accepted.length === 2, 'delivery');
    assert.equal(sink.closes, 1);
    assert.equal(sink.opens, 2);
    await dispatcher.stop(1000);
  });

  test('backs off when open() fails and delivers once it succeeds', async () => {
    const sink = new FakeSink();
    sink.openBehaviour = (n) => {
      if (n <= 2) throw new SinkError('reconnect', 'ECONNREFUSED', { errorType: 'econnrefused' });
    };
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(2));
    const waits = [await clock.nextSleep()];
    clock.advance(waits[0]!);
    waits.push(await clock.nextSleep());
    clock.advance(waits[1]!);
    await waitFor(() => sink.accepted.length === 2, 'delivery');
    assert.deepEqual(waits, [100, 200]);
    assert.equal(status(dispatcher, 'hook').lastError?.message, 'ECONNREFUSED');
    await dispatcher.stop(1000);
  });
});

describe('Dispatcher rejects and dead letters', () => {
  test('bisects a rejected batch and dead-letters exactly the bad events with the reason', async () => {
    const sink = new FakeSink((batch) => {
      const bad = batch.filter((e) => e.props.bad === true);
      if (bad.length) throw new SinkError('reject', `HTTP 400: invalid event ${bad[0]!.id}`, { errorType: 'http_400' });
    });
    const { log, dispatcher, dataDir, clock } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(8, 0, (i) => (i === 2 || i === 5 ? { props: { n: i, bad: true } } : {})));
    await waitFor(() => log.committedOf('hook') === 8, 'commit');
    assert.deepEqual(sink.acceptedIds, ['e0', 'e1', 'e3', 'e4', 'e6', 'e7']);
    const lines = readFileSync(join(dataDir, 'dlq', 'hook.ndjson'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(first), ['ts', 'sink', 'code', 'reason', 'errorType', 'event']);
    assert.deepEqual(
      {
        ts: first.ts,
        sink: first.sink,
        code: first.code,
        reason: first.reason,
        errorType: first.errorType,
        id: first.event.id,
      },
      {
        ts: clock.now(),
        sink: 'hook',
        code: 'BEACON_E_SINK_REJECTED',
        reason: 'HTTP 400: invalid event e2',
        errorType: 'http_400',
        id: 'e2',
      },
    );
    assert.equal(JSON.parse(lines[1]!).event.id, 'e5');
    const s = status(dispatcher, 'hook');
    assert.equal(s.delivered, 6);
    assert.equal(s.deadLettered, 2);
    await dispatcher.stop(1000);
  });

  test('dead-letters only the events the sink names and counts the rest as delivered without resending', async () => {
    const sink = new FakeSink((batch) => {
      if (batch.length === 4)
        throw new SinkError('reject', 'partial', {
          errorType: 'http_partial',
          rejected: [{ index: 1, reason: 'missing field x' }],
        });
    });
    const { log, dispatcher, dataDir } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(4));
    await waitFor(() => log.committedOf('hook') === 4, 'commit');
    assert.equal(sink.attempts.length, 1);
    const entries = readFileSync(join(dataDir, 'dlq', 'hook.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e) => [e.event.id, e.reason]),
      [['e1', 'missing field x']],
    );
    assert.equal(status(dispatcher, 'hook').delivered, 3);
    await dispatcher.stop(1000);
  });

  test('replays dead letters through the sink and removes the ones delivered', async () => {
    let accept = false;
    const sink = new FakeSink((batch) => {
      if (!accept && batch.some((e) => e.props.bad)) throw new SinkError('reject', 'bad');
    });
    const { log, dispatcher, dataDir } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(4, 0, (i) => (i % 2 ? { props: { bad: true } } : {})));
    await waitFor(() => status(dispatcher, 'hook').deadLettered === 2, 'dead letters');
    accept = true;
    const result = await dispatcher.replayDeadLetters('hook');
    assert.deepEqual(result, { sink: 'hook', replayed: 2, delivered: 2, deadLettered: 0, unreadable: 0 });
    assert.deepEqual(sink.acceptedIds.sort(), ['e0', 'e1', 'e2', 'e3']);
    assert.equal(existsSync(join(dataDir, 'dlq', 'hook.ndjson')), false);
    assert.equal(existsSync(join(dataDir, 'dlq', 'hook.replaying.ndjson')), false);
    await dispatcher.stop(1000);
  });

  test('puts events rejected again during a replay back in the dead letter', async () => {
    const sink = new FakeSink((batch) => {
      if (batch.some((e) => e.props.bad)) throw new SinkError('reject', 'still bad');
    });
    const { log, dispatcher, dataDir } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(3, 0, (i) => (i === 1 ? { props: { bad: true } } : {})));
    await waitFor(() => status(dispatcher, 'hook').deadLettered === 1, 'dead letter');
    const result = await dispatcher.replayDeadLetters('hook');
    assert.deepEqual(result, { sink: 'hook', replayed: 1, delivered: 0, deadLettered: 1, unreadable: 0 });
    const entries = readFileSync(join(dataDir, 'dlq', 'hook.ndjson'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(entries.length, 1);
    assert.equal(JSON.parse(entries[0]!).event.id, 'e1');
    await dispatcher.stop(1000);
  });

  test('replays from the log by moving the cursor back', async () => {
    const sink = new FakeSink();
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(5));
    await waitFor(() => log.committedOf('hook') === 5, 'first pass');
    const result = await dispatcher.replayFromLog('hook', { kind: 'position', position: { '0': 2 } });
    assert.equal(result.pending, 3);
    await waitFor(() => sink.accepted.length === 8, 'second pass');
    assert.deepEqual(sink.acceptedIds.slice(5), ['e2', 'e3', 'e4']);
    await dispatcher.stop(1000);
  });

  test('answers BEACON_E_SINK_UNKNOWN for a replay of a sink that is not configured', async () => {
    const { dispatcher } = setup([{ name: 'hook', sink: new FakeSink() }]);
    await assert.rejects(dispatcher.replayDeadLetters('nope'), { code: 'BEACON_E_SINK_UNKNOWN' });
  });
});

describe('Dispatcher isolation and shutdown', () => {
  test('stops a sink on a fatal error while the other sinks keep delivering', async () => {
    const broken = new FakeSink(() => {
      throw new SinkError('fatal', 'HTTP 401: bad token', { errorType: 'http_401' });
    });
    const healthy = new FakeSink();
    const { log, dispatcher } = setup([
      { name: 'broken', sink: broken },
      { name: 'healthy', sink: healthy },
    ]);
    await dispatcher.start();
    await log.append(makeEvents(20));
    await waitFor(() => healthy.accepted.length === 20, 'healthy delivery');
    await waitFor(() => status(dispatcher, 'broken').state === 'fatal', 'fatal state');
    const s = status(dispatcher, 'broken');
    assert.equal(s.lastError?.message, 'HTTP 401: bad token');
    assert.equal(s.lastError?.kind, 'fatal');
    assert.equal(s.lagEvents, 20, 'its events wait in the log');
    assert.equal(broken.attempts.length, 1, 'a fatal sink is not retried');
    await dispatcher.stop(1000);
    assert.equal(status(dispatcher, 'broken').state, 'fatal');
  });

  test('a sink that never answers does not delay another sink', async () => {
    const stuck = new FakeSink(() => new Promise<void>(() => {}));
    const fast = new FakeSink();
    const { log, clock, dispatcher } = setup([
      { name: 'stuck', sink: stuck },
      { name: 'fast', sink: fast },
    ]);
    await dispatcher.start();
    await log.append(makeEvents(50));
    await waitFor(() => fast.accepted.length === 50, 'fast delivery', 2000);
    assert.equal(status(dispatcher, 'stuck').state, 'delivering');
    assert.equal(status(dispatcher, 'stuck').lagEvents, 50);
    assert.equal(stuck.attempts.length, 1, 'the stuck sink holds one batch only');
    const stopping = dispatcher.stop(50);
    clock.advance(50);
    await stopping;
    assert.equal(log.persistedOf('stuck'), 0, 'the unanswered batch is not committed');
    assert.equal(log.persistedOf('fast'), 50);
  });

  test('stop() lets a delivery in flight finish, commits it and persists the cursor', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = new FakeSink(() => gate);
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(4));
    await waitFor(() => sink.attempts.length === 1, 'delivery started');
    const stopping = dispatcher.stop(5000);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await stopping;
    assert.equal(log.persistedOf('hook'), 4, 'the finished batch is committed and flushed');
    assert.equal(sink.closes, 1);
    assert.equal(status(dispatcher, 'hook').state, 'stopped');
  });

  test('stop() does not wait for a sink backing off and leaves its batch in the log', async () => {
    const sink = new FakeSink(() => {
      throw new SinkError('retry', 'down');
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(3));
    await clock.nextSleep();
    await dispatcher.stop(1000);
    assert.equal(log.persistedOf('hook'), 0);
    assert.equal(status(dispatcher, 'hook').state, 'stopped');
  });
});
