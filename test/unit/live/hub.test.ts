import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LiveHub, type LiveLimits } from '../../../src/live/hub.js';
import { parseViewerFilter, ViewerFilterError } from '../../../src/live/viewerFilter.js';
import { FakeFeed, FakeSocket, LIMITS, event } from './fakes.js';

const filter = (q = '') => parseViewerFilter(new URLSearchParams(q));

function setup(limits: Partial<LiveLimits> = {}) {
  const clock = { t: 1000 };
  const feed = new FakeFeed();
  const counts = { viewers: 0, dropped: 0 };
  const hub = new LiveHub(
    feed,
    { ...LIMITS, ...limits },
    {
      now: () => clock.t,
      tickMs: 60_000, // the test ticks by hand
      onViewers: (v) => (counts.viewers = v),
      onDropped: (d) => (counts.dropped += d),
    },
  );
  return { clock, feed, hub, counts };
}

describe('the live hub', () => {
  it('greets a viewer with ready and sends each new event as {"kind":"event"}', () => {
    const { feed, hub } = setup();
    const s = new FakeSocket();
    hub.add(s, filter());
    feed.push([event('a', { x: 1 }), event('b')]);
    assert.deepEqual(
      s.messages().map((m) => m.kind),
      ['ready', 'event', 'event'],
    );
    assert.deepEqual(
      s.events().map((e) => e.type),
      ['a', 'b'],
    );
    assert.deepEqual(s.events()[0]!.props, { x: 1 });
    void hub.close();
  });

  it('filters by type, props and meta flags', () => {
    const { feed, hub } = setup();
    const byType = new FakeSocket();
    const byWhere = new FakeSocket();
    const humans = new FakeSocket();
    const dupes = new FakeSocket();
    hub.add(byType, filter('type=a,c'));
    hub.add(byWhere, filter('where=plan=pro,country'));
    hub.add(humans, filter('bot=false'));
    hub.add(dupes, filter('duplicate=true'));
    feed.push([
      event('a', { plan: 'pro', country: 'NL' }),
      event('b', { plan: 'pro' }),
      event('c', { plan: 'free', country: 'US' }, { bot: true }),
      event('d', { plan: 'pro', country: 'DE' }, { duplicate: true }),
    ]);
    assert.deepEqual(
      byType.events().map((e) => e.type),
      ['a', 'c'],
    );
    assert.deepEqual(
      byWhere.events().map((e) => e.type),
      ['a', 'd'],
    );
    assert.deepEqual(
      humans.events().map((e) => e.type),
      ['a', 'b', 'd'],
    );
    assert.deepEqual(
      dupes.events().map((e) => e.type),
      ['d'],
    );
    void hub.close();
  });

  it('rejects a query it does not understand, naming the parameter', () => {
    assert.throws(
      () => filter('bot=maybe'),
      (e: Error) => e instanceof ViewerFilterError && /bot/.test(e.message),
    );
    assert.throws(() => filter('sample=0'), /sample/);
    assert.throws(() => filter('maxRate=x'), /maxRate/);
    assert.throws(() => filter('typo=1'), /unknown parameter "typo"/);
  });

  it('samples 1 in N matching events', () => {
    const { feed, hub } = setup({ viewerMaxEvents: 1000 });
    const s = new FakeSocket();
    hub.add(s, filter('sample=3'));
    feed.push(Array.from({ length: 30 }, (_, i) => event('a', { i })));
    assert.deepEqual(
      s.events().map((e) => e.props.i),
      [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
    );
    assert.equal(s.droppedTotal(), 0, 'sampling is not dropping');
    void hub.close();
  });

  it('sends at most maxRate events per second', () => {
    const { clock, feed, hub } = setup({ viewerMaxEvents: 1000 });
    const s = new FakeSocket();
    hub.add(s, filter('maxRate=5'));
    feed.push(Array.from({ length: 50 }, () => event('a')));
    assert.equal(s.events().length, 5);
    clock.t += 1000;
    feed.push(Array.from({ length: 50 }, () => event('a')));
    assert.equal(s.events().length, 10);
    clock.t += 200;
    feed.push(Array.from({ length: 50 }, () => event('a')));
    assert.equal(s.events().length, 11);
    void hub.close();
  });

  it('keeps a slow viewer to its bounds and drops the rest, while a fast viewer gets everything', () => {
    const { feed, hub, counts } = setup({ socketMaxBytes: 1, viewerMaxEvents: 5 });
    const slow = new FakeSocket(false);
    const fast = new FakeSocket(true);
    hub.add(slow, filter());
    hub.add(fast, filter());
    // 'ready' already fills the slow socket past its 1-byte bound, so nothing more goes out.
    feed.push(Array.from({ length: 100 }, (_, i) => event('a', { i })));
    assert.equal(fast.events().length, 100);
    assert.equal(slow.events().length, 0);
    assert.equal(counts.dropped, 95, 'five wait in the queue, 95 are dropped');
    slow.drain();
    hub.tickNow();
    // It reads one message per drain (socketMaxBytes 1): drain until the queue is empty.
    for (let i = 0; i < 10; i++) {
      slow.drain();
      hub.tickNow();
    }
    assert.deepEqual(
      slow.events().map((e) => e.props.i),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(slow.messages().slice(-1)[0], { kind: 'dropped', count: 95 });
    void hub.close();
  });

  it('bounds the queue by bytes as well as by count', () => {
    const { feed, hub } = setup({ socketMaxBytes: 1, viewerMaxEvents: 1000, viewerMaxBytes: 2000 });
    const slow = new FakeSocket(false);
    hub.add(slow, filter());
    feed.push(Array.from({ length: 100 }, () => event('a', { pad: 'x'.repeat(400) })));
    for (let i = 0; i < 20; i++) {
      slow.drain();
      hub.tickNow();
    }
    const got = slow.events().length;
    assert.ok(got >= 3 && got <= 4, `about 2000 bytes of ~480-byte messages, got ${got}`);
    assert.equal(got + slow.droppedTotal(), 100);
    void hub.close();
  });

  it('announces a gap exactly where it is, before the next event the viewer gets', () => {
    const { feed, hub } = setup({ socketMaxBytes: 1, viewerMaxEvents: 2 });
    const s = new FakeSocket(false);
    hub.add(s, filter());
    feed.push([event('a', { i: 0 }), event('a', { i: 1 }), event('a', { i: 2 }), event('a', { i: 3 })]);
    for (let i = 0; i < 5; i++) {
      s.drain();
      hub.tickNow();
    }
    feed.push([event('a', { i: 4 })]);
    for (let i = 0; i < 5; i++) {
      s.drain();
      hub.tickNow();
    }
    const seq = s
      .messages()
      .map((m) =>
        m.kind === 'event' ? `e${m.event!.props.i as number}` : m.kind === 'dropped' ? `d${m.count}` : m.kind,
      );
    assert.deepEqual(seq, ['ready', 'e0', 'e1', 'd2', 'e4']);
    void hub.close();
  });

  it('disconnects a viewer that stays behind longer than maxBehindMs with 1013 and a reason', () => {
    const { clock, feed, hub, counts } = setup({ socketMaxBytes: 1, maxBehindMs: 5000 });
    const stuck = new FakeSocket(false);
    const fine = new FakeSocket(true);
    hub.add(stuck, filter());
    hub.add(fine, filter());
    feed.push(Array.from({ length: 20 }, () => event('a')));
    clock.t += 4000;
    hub.tickNow();
    assert.equal(stuck.closedWith, undefined, 'not yet');
    clock.t += 1500;
    hub.tickNow();
    const closed = stuck.closedWith as { code: number; reason: string } | undefined;
    assert.equal(closed?.code, 1013);
    assert.match(closed.reason, /behind/);
    assert.equal(fine.closedWith, undefined);
    assert.equal(counts.viewers, 1);
    feed.push([event('b')]);
    assert.equal(fine.events().length, 21);
    void hub.close();
  });

  it('forgets being behind once a viewer catches up', () => {
    const { clock, feed, hub } = setup({ socketMaxBytes: 1, maxBehindMs: 5000 });
    const s = new FakeSocket(false);
    hub.add(s, filter());
    feed.push(Array.from({ length: 20 }, () => event('a')));
    clock.t += 4000;
    s.reading = true;
    s.drain();
    hub.tickNow();
    clock.t += 4000;
    hub.tickNow();
    assert.equal(s.closedWith, undefined);
    void hub.close();
  });

  it('runs the feed only while someone watches', async () => {
    const { feed, hub, counts } = setup();
    assert.equal(feed.starts, 0);
    const a = hub.add(new FakeSocket(), filter())!;
    const b = hub.add(new FakeSocket(), filter())!;
    assert.equal(feed.starts, 1);
    assert.equal(counts.viewers, 2);
    hub.remove(a);
    assert.equal(feed.stops, 0);
    hub.remove(b);
    assert.equal(feed.stops, 1);
    assert.equal(counts.viewers, 0);
    hub.add(new FakeSocket(), filter());
    assert.equal(feed.starts, 2);
    await hub.close();
    assert.equal(feed.stops, 2);
  });

  it('closes viewers past maxViewers with 1013', () => {
    const { hub } = setup({ maxViewers: 1 });
    hub.add(new FakeSocket(), filter());
    const extra = new FakeSocket();
    assert.equal(hub.add(extra, filter()), undefined);
    assert.equal(extra.closedWith?.code, 1013);
    void hub.close();
  });

  it('tells every viewer about events the feed itself lost', () => {
    const { feed, hub } = setup();
    const s = new FakeSocket();
    hub.add(s, filter('type=a'));
    feed.sink!.dropped(7);
    feed.push([event('a')]);
    assert.deepEqual(
      s.messages().map((m) => m.kind),
      ['ready', 'dropped', 'event'],
    );
    assert.equal(s.droppedTotal(), 7);
    void hub.close();
  });

  it('sends nothing before the feed is ready', () => {
    const feed = new FakeFeed(false);
    const hub = new LiveHub(feed, LIMITS, { tickMs: 60_000 });
    const s = new FakeSocket();
    hub.add(s, filter());
    feed.push([event('a')]);
    assert.deepEqual(s.sent, []);
    feed.sink!.ready();
    feed.push([event('a')]);
    assert.deepEqual(
      s.messages().map((m) => m.kind),
      ['ready', 'event'],
    );
    void hub.close();
  });
});
