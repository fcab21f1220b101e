import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { IpcFeed, LiveFanout, type LiveToCollector, type LiveToPrimary } from '../../../src/live/ipcLink.js';
import { LiveHub } from '../../../src/live/hub.js';
import { LogFeed } from '../../../src/live/logFeed.js';
import { parseViewerFilter } from '../../../src/live/viewerFilter.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { waitUntil } from '../../support/waitFor.js';
import { FakeFeed, FakeSocket, LIMITS, event } from './fakes.js';

describe('the live IPC link', () => {
  it('sends nothing to a collector that has not subscribed, and starts the feed with the first subscriber', () => {
    const feed = new FakeFeed();
    const fanout = new LiveFanout(feed, 2);
    const toP1: LiveToCollector[] = [];
    feed.push([event('a')]);
    assert.equal(feed.starts, 0);
    fanout.onMessage('p1', { t: 'liveSubscribe', sub: 1 }, (m) => toP1.push(m));
    assert.equal(feed.starts, 1);
    feed.push([event('a')]);
    assert.deepEqual(
      toP1.map((m) => m.t),
      ['liveReady', 'liveEvents'],
    );
    fanout.onMessage('p1', { t: 'liveUnsubscribe', sub: 1 }, () => {});
    assert.equal(feed.stops, 1);
  });

  it('keeps at most `window` events unacknowledged per collector and reports the rest as dropped', () => {
    const feed = new FakeFeed();
    const fanout = new LiveFanout(feed, 3);
    const sent: LiveToCollector[] = [];
    fanout.onMessage('p1', { t: 'liveSubscribe', sub: 1 }, (m) => sent.push(m));
    for (let i = 0; i < 5; i++) feed.push([event('a'), event('a')]);
    const batches = () => sent.filter((m): m is Extract<LiveToCollector, { t: 'liveEvents' }> => m.t === 'liveEvents');
    assert.equal(batches().length, 2, 'two batches (4 events) in flight, three batches (6 events) dropped');
    // A stale ack from an old subscription frees nothing.
    fanout.onMessage('p1', { t: 'liveAck', sub: 0 }, () => {});
    feed.push([event('a')]);
    assert.equal(batches().length, 2);
    fanout.onMessage('p1', { t: 'liveAck', sub: 1 }, () => {});
    assert.equal(batches().length, 3);
    assert.deepEqual(batches()[2], { t: 'liveEvents', sub: 1, events: [], dropped: 7 });
  });

  it('carries events from the primary to a collector hub and acks each batch', () => {
    const primaryFeed = new FakeFeed();
    const fanout = new LiveFanout(primaryFeed, 4);
    let feed!: IpcFeed;
    const toPrimary = (m: LiveToPrimary) => fanout.onMessage('p0', m, (reply) => feed.onMessage(reply));
    feed = new IpcFeed(toPrimary);
    const hub = new LiveHub(feed, LIMITS, { tickMs: 60_000 });
    const s = new FakeSocket();
    hub.add(s, parseViewerFilter(new URLSearchParams('type=b')));
    primaryFeed.push([event('a'), event('b')]);
    primaryFeed.sink!.dropped(3);
    primaryFeed.push([event('b')]);
    assert.deepEqual(
      s.messages().map((m) => m.kind),
      ['ready', 'event', 'dropped', 'event'],
    );
    void hub.close();
    assert.equal(primaryFeed.stops, 1, 'the last viewer leaving unsubscribes the collector');
  });
});

describe('the log feed', () => {
  it('follows the log from its end with an ephemeral cursor, and stops when asked', async () => {
    const log = new MemoryLog();
    await log.append([event('old')]);
    const feed = new LogFeed(log, pino({ level: 'silent' }));
    const got: string[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    feed.start({ ready, events: (b) => got.push(...b.map((e) => e.type)), dropped: () => {} });
    await isReady;
    await log.append([event('new')]);
    await waitUntil(
      () => `the appended event at the feed (got ${JSON.stringify(got)})`,
      () => got.length > 0,
    );
    await feed.stop();
    assert.deepEqual(got, ['new']);
  });
});
