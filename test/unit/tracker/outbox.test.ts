import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import fc from 'fast-check';
import { BATCH_BYTES, createOutbox, nextBatch, type WireEvent } from '../../../tracker/src/outbox.js';
import type { Store } from '../../../tracker/src/storage.js';
import { utf8Length } from '../../../tracker/src/utf8.js';

function event(id: string, text = ''): WireEvent {
  return { id, type: 'note', ts: 0, props: { text }, pageViewId: 'pv', url: 'https://shop.example/' };
}

describe("the tracker's UTF-8 length", () => {
  it('counts the bytes TextEncoder makes: 1 to 4 per character', () => {
    for (const text of ['', 'abc', 'é', '€', '漢字', '😀', 'a\u00e9\u20ac\u{1F600}z']) {
      assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
    }
    assert.equal(utf8Length('漢'.repeat(1000)), 3000, 'CJK takes 3 bytes per UTF-16 unit');
  });

  it('agrees with Buffer.byteLength on any well-formed string, and on the JSON of any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => utf8Length(text) === Buffer.byteLength(text, 'utf8')),
    );
    // Lone surrogates too: JSON.stringify escapes them, and the tracker measures JSON.
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        (text) => utf8Length(JSON.stringify(text)) === Buffer.byteLength(JSON.stringify(text), 'utf8'),
      ),
    );
  });
});

describe("the tracker's batch split", () => {
  it('bounds a batch by UTF-8 bytes, not UTF-16 units: a CJK-heavy batch is split', () => {
    const queue = Array.from({ length: 20 }, (_, i) => event(`e${i}`, '漢'.repeat(1500)));
    assert.ok(JSON.stringify(queue).length < BATCH_BYTES, 'the old .length measure would have sent all 20 at once');
    const first = nextBatch(queue, () => false);
    assert.ok(first.length > 1 && first.length < 20, `${first.length} events in the first batch`);
    assert.ok(utf8Length(JSON.stringify(first)) <= BATCH_BYTES, 'the body fits the keepalive quota');
    const sent = new Set(first.map((e) => e.id));
    const second = nextBatch(queue, (e) => sent.has(e.id));
    assert.equal(second[0]!.id, `e${first.length}`, 'the next batch goes on in order');
    assert.ok(utf8Length(JSON.stringify(second)) <= BATCH_BYTES);
  });

  it('keeps at most 20 events, skips what it is told to, and sends an event over the bound alone', () => {
    const small = Array.from({ length: 30 }, (_, i) => event(`s${i}`));
    assert.equal(nextBatch(small, () => false).length, 20);
    assert.deepEqual(
      nextBatch(small, (e) => e.id !== 's3').map((e) => e.id),
      ['s3'],
    );
    const huge = [event('big', '漢'.repeat(25_000)), event('after')];
    assert.deepEqual(
      nextBatch(huge, () => false).map((e) => e.id),
      ['big'],
    );
    assert.deepEqual(
      nextBatch([event('before'), ...huge], () => false).map((e) => e.id),
      ['before'],
    );
  });
});

interface Call {
  url: string;
  body: string;
  keepalive: boolean;
}

describe("the tracker's outbox", () => {
  let now: number;
  let data: Map<string, string>;
  let store: Store;
  let fetches: Call[];
  let beacons: Call[];
  /** What the next fetches do, in order; then 200. */
  let answers: Array<number | 'TypeError' | 'hang'>;
  let beaconAccepts: boolean;

  beforeEach(() => {
    now = 1_700_000_000_000;
    mock.method(Date, 'now', () => now);
    mock.timers.enable({ apis: ['setTimeout'] });
    data = new Map();
    store = {
      get: (k) => data.get(k) ?? null,
      set: (k, v) => void data.set(k, v),
      remove: (k) => void data.delete(k),
      keys: () => [...data.keys()],
    };
    fetches = [];
    beacons = [];
    answers = [];
    beaconAccepts = true;
    Object.defineProperty(globalThis, 'navigator', {
      configurable: true,
      value: {
        onLine: true,
        sendBeacon: (url: string, body: string) => {
          beacons.push({ url, body, keepalive: true });
          return beaconAccepts;
        },
      },
    });
    mock.method(globalThis, 'fetch', async (url: string, init: RequestInit) => {
      fetches.push({ url, body: init.body as string, keepalive: init.keepalive === true });
      const answer = answers.shift() ?? 200;
      if (answer === 'TypeError') throw new TypeError('Failed to fetch');
      if (answer === 'hang') {
        // No answer, ever: only the request's own abort signal ends it.
        return new Promise<Response>((_, reject) =>
          init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
        );
      }
      return new Response(null, { status: answer });
    });
  });

  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
    Reflect.deleteProperty(globalThis, 'navigator');
  });

  /** The page is gone: its timers with it. */
  const pageGone = () => {
    mock.timers.reset();
    mock.timers.enable({ apis: ['setTimeout'] });
  };
  /** Lets the fake fetches answer and their handlers run. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const ids = (calls: Call[]) => calls.flatMap((c) => (JSON.parse(c.body) as WireEvent[]).map((e) => e.id));
  const stored = (tab = 'tab1') =>
    JSON.parse(data.get(`beacon_q.${tab}`) ?? '{"e":[]}') as { e: WireEvent[]; b?: Record<string, number> };

  it('sends by keepalive fetch, not sendBeacon, when the tab is hidden, and keeps the events stored through a 503', async () => {
    const outbox = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    outbox.adopt();
    outbox.add(event('a'));
    outbox.add(event('b'));
    answers = [503];
    outbox.hide();
    assert.deepEqual(beacons, [], 'no sendBeacon for a tab that is only hidden');
    assert.equal(fetches.length, 1, 'sent at once, not after the flush timer');
    assert.deepEqual(ids(fetches), ['a', 'b']);
    assert.equal(fetches[0]!.keepalive, true);
    await settle();
    assert.deepEqual(
      stored().e.map((e) => e.id),
      ['a', 'b'],
      'a 503 loses nothing',
    );

    mock.timers.tick(1000); // the first retry comes within 0.5-1 s
    await settle();
    assert.equal(fetches.length, 2);
    assert.deepEqual(ids(fetches.slice(1)), ['a', 'b']);
    assert.equal(data.has('beacon_q.tab1'), false, 'removed from storage on the 2xx');
  });

  it('retries a keepalive fetch that failed with a TypeError once without keepalive, and sends big bodies without it', async () => {
    const outbox = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    outbox.adopt();
    outbox.add(event('a'));
    answers = ['TypeError'];
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(
      fetches.map((f) => f.keepalive),
      [true, false],
    );
    assert.equal(data.has('beacon_q.tab1'), false, 'delivered by the second try');

    // Two TypeErrors: a real network error, retried with back-off, events kept.
    outbox.add(event('b'));
    answers = ['TypeError', 'TypeError'];
    mock.timers.tick(1000);
    await settle();
    assert.equal(fetches.length, 4, 'one retry without keepalive, not more');
    assert.deepEqual(
      stored().e.map((e) => e.id),
      ['b'],
    );
    mock.timers.tick(1000);
    await settle();
    assert.equal(data.has('beacon_q.tab1'), false);

    // A CJK event over the quota in bytes (under it in UTF-16 units) goes without keepalive.
    outbox.add(event('cjk', '漢'.repeat(21_000)));
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(
      fetches.slice(5).map((f) => [ids([f]), f.keepalive]),
      [[['cjk'], false]],
    );
  });

  it('abandons a request unanswered for 30 s and sends the same events again after the back-off', async () => {
    const outbox = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    outbox.adopt();
    outbox.add(event('a'));
    answers = ['hang'];
    mock.timers.tick(1000);
    await settle();
    assert.equal(fetches.length, 1);
    mock.timers.tick(29_999);
    await settle();
    assert.equal(fetches.length, 1, 'still waiting for the answer');
    outbox.add(event('b'));
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(
      stored().e.map((e) => e.id),
      ['a', 'b'],
      'kept through the timeout',
    );
    // The back-off after one failure is at most a few seconds; then both go, and are delivered.
    for (let i = 0; i < 60 && data.has('beacon_q.tab1'); i++) {
      mock.timers.tick(1000);
      await settle();
    }
    assert.deepEqual(ids(fetches.slice(1)), ['a', 'b']);
    assert.equal(fetches[1]!.keepalive, true, 'an abort is not taken for the keepalive quota');
    assert.equal(data.has('beacon_q.tab1'), false, 'delivered by the resend');
  });

  it('keeps beaconed events stored on pagehide and resends them from the next page after the grace', async () => {
    const first = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    first.adopt();
    first.add(event('a'));
    first.add(event('b'));
    first.unload();
    assert.deepEqual(ids(beacons), ['a', 'b']);
    assert.doesNotMatch(beacons[0]!.url, /resend/, 'the first beacon is no resend');
    assert.deepEqual(fetches, []);
    assert.deepEqual(
      stored().e.map((e) => e.id),
      ['a', 'b'],
      'still stored: sendBeacon tells nothing of the answer',
    );
    assert.deepEqual(stored().b, { a: now, b: now });

    // The next page of the tab, at once: new events go, the beaconed ones wait.
    pageGone();
    now += 1000;
    const second = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    second.adopt();
    second.add(event('c'));
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(ids(fetches), ['c']);
    assert.match(
      (fetches as Call[])[0]!.url,
      /^https:\/\/c\.example\/batch\?cs=[0-9a-f]{8}$/,
      'new events are no resend',
    );
    assert.deepEqual(
      stored().e.map((e) => e.id),
      ['a', 'b'],
    );

    now += 60_000;
    mock.timers.tick(60_000);
    await settle();
    assert.deepEqual(ids(fetches.slice(1)), ['a', 'b'], 'resent after the grace, with the same ids');
    assert.match(
      (fetches as Call[])[1]!.url,
      /\?cs=[0-9a-f]{8}&resend=1$/,
      'marked as a blind resend, for the collector to drop what it holds',
    );
    assert.equal(data.has('beacon_q.tab1'), false);
  });

  it('sends at once what sendBeacon refused, and drops beaconed events too old for the id memory', async () => {
    const first = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    first.adopt();
    first.add(event('refused'));
    beaconAccepts = false;
    first.unload();
    assert.equal(stored().b?.refused, undefined, 'not marked');
    pageGone();
    const second = createOutbox('https://c.example', 'same-origin', store, 'tab1');
    second.adopt();
    mock.timers.tick(0);
    await settle();
    assert.deepEqual(ids(fetches), ['refused']);

    beaconAccepts = true;
    second.add(event('old'));
    second.unload();
    pageGone();
    now += 13 * 3600_000; // a visit the next day, from another tab
    const third = createOutbox('https://c.example', 'same-origin', store, 'tab2');
    third.adopt();
    mock.timers.tick(60_000);
    await settle();
    assert.deepEqual(ids(fetches), ['refused'], 'not resent: the collector may have forgotten its id');
    assert.deepEqual([...data.keys()], []);
  });
});
