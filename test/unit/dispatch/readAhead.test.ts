import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

describe('the sink loop reading ahead', () => {
  test('reads the next batch while a full one is delivered, but commits only delivered batches, in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sink = new FakeSink((_batch, attempt) => (attempt === 1 ? gate : undefined));
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await log.append(makeEvents(30));
    await dispatcher.start();
    await waitFor(() => sink.attempts.length === 1, 'the first batch in flight');
    // Give the read-ahead time to run: it must not move the committed position.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(log.committedOf('hook'), 0, 'nothing is committed while the first batch is in flight');
    assert.equal(sink.attempts.length, 1, 'the batch read ahead waits for the one in flight');
    release();
    await waitFor(() => log.committedOf('hook') === 30, 'every batch committed');
    assert.deepEqual(
      sink.acceptedIds,
      makeEvents(30).map((e) => e.id),
      'each event once, in log order',
    );
    assert.deepEqual(
      sink.attempts.map((b) => b.length),
      [10, 10, 10],
    );
    await dispatcher.stop(1000);
  });

  test('a batch read ahead before a replay seek is not delivered: the sink gets the log again from the start', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sink = new FakeSink((_batch, attempt) => (attempt === 1 ? gate : undefined));
    const { log, dispatcher } = setup([{ name: 'hook', sink }]);
    await log.append(makeEvents(30));
    await dispatcher.start();
    await waitFor(() => sink.attempts.length === 1, 'the first batch in flight');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const seek = dispatcher.replayFromLog('hook', { kind: 'start' });
    release();
    await seek;
    await waitFor(() => log.committedOf('hook') === 30, 'every batch committed after the replay');
    const ids = makeEvents(30).map((e) => e.id);
    // The first batch was delivered before the seek; after it the log is delivered from the start again.
    assert.deepEqual(sink.acceptedIds, [...ids.slice(0, 10), ...ids]);
    await dispatcher.stop(1000);
  });
});
