import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SinkError } from '../../../src/sinks/sink.js';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

describe('Dispatcher work asked from outside (seeks, dead-letter replays)', { timeout: 10_000 }, () => {
  test('a dead-letter replay asked during a delivery waits for it: the sink never sees two callers', async () => {
    let inside = 0;
    let most = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holdNext = false;
    const sink = new FakeSink(async (batch) => {
      inside++;
      most = Math.max(most, inside);
      try {
        if (batch.some((e) => e.props.bad)) throw new SinkError('reject', 'bad');
        if (holdNext && batch.some((e) => e.id === 'e10')) await held;
      } finally {
        inside--;
      }
    });
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(1, 0, () => ({ props: { bad: true } })));
    await waitFor(() => dispatcher.status()[0]!.deadLettered === 1, 'the dead letter');
    holdNext = true;
    await log.append(makeEvents(1, 10));
    await waitFor(() => sink.attempts.some((a) => a.includes('e10')), 'the held delivery');
    const attemptsBefore = sink.attempts.length;
    const replay = dispatcher.replayDeadLetters('hook');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sink.attempts.length, attemptsBefore, 'the replay has not called the sink while the delivery is held');
    release();
    const result = await replay;
    assert.deepEqual(result, { sink: 'hook', replayed: 1, delivered: 0, deadLettered: 1, unreadable: 0 });
    assert.equal(most, 1);
    await dispatcher.stop(1000);
  });

  test('a seek asked while the sink backs off does not wait for the held batch, which is then not committed', async () => {
    let down = true;
    const sink = new FakeSink(() => {
      if (down) throw new SinkError('retry', 'down');
    });
    const { log, clock, dispatcher } = setup([{ name: 'hook', sink }]);
    await dispatcher.start();
    await log.append(makeEvents(5));
    await clock.nextSleep();
    const result = await Promise.race([
      dispatcher.replayFromLog('hook', { kind: 'position', position: { '0': 3 } }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the seek waited for the batch held by the back-off')), 2000).unref(),
      ),
    ]);
    assert.equal(result.pending, 2);
    down = false;
    clock.advance(1000);
    await waitFor(() => sink.acceptedIds.includes('e4') && sink.accepted.length === 7, 'the held batch, then e3 e4');
    assert.deepEqual(sink.acceptedIds, ['e0', 'e1', 'e2', 'e3', 'e4', 'e3', 'e4']);
    await waitFor(() => log.committedOf('hook') === 5, 'commit of the batch read after the seek');
    await dispatcher.stop(1000);
  });
});
