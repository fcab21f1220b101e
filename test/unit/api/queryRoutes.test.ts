import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { queryRoutes } from '../../../src/api/query/routes.js';
import { matchPath, type ApiRoute } from '../../../src/api/route.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../../src/store/embedded/index.js';
import { disabledStoreReader } from '../../../src/store/index.js';
import { embeddedStoreSchema } from '../../../src/store/storeConfig.js';

/**
 * The query endpoints over a real embedded store holding known events, at a fixed "now":
 * each answer is checked whole, and each bad parameter for its 400 and code.
 */
const NOW = Date.UTC(2026, 10, 24, 10, 30, 15, 400);
const S = 1000;
const M = 60_000;
const H = 3_600_000;

function ev(id: string, type: string, ts: number, props: Record<string, unknown> = {}): TrackedEvent {
  return { id, type, ts, props, meta: {} };
}

const EVENTS: TrackedEvent[] = [
  ev('r1', 'page', NOW - 5 * S, { plan: 'pro' }),
  ev('r2', 'click', NOW - 5 * S, { plan: 'free' }),
  ev('r3', 'page', NOW - 65 * S, { plan: 'pro', n: 1 }),
  ev('r4', 'page', NOW - 65 * S + 1, { plan: 'team' }),
  ev('r5', 'page', NOW - 30 * M),
  ev('r6', 'click', NOW - 3 * H),
  ev('a1', 'page', Date.UTC(2026, 10, 1, 12), { plan: 'pro' }),
  ev('a2', 'buy', Date.UTC(2026, 10, 23, 23, 59, 59, 999), { plan: 'pro' }),
  ev('a3', 'buy', Date.UTC(2026, 10, 24), { plan: 'free' }),
  ev('a0', 'page', Date.UTC(2026, 10, 1) - 1, { plan: 'pro' }),
];

let dataDir: string;
let store: EmbeddedStore;
let routes: ApiRoute[];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'beacon-query-'));
  store = await openEmbeddedStore(
    embeddedStoreSchema.parse({ type: 'embedded', retention: { maxAge: 0, checkEvery: '1h' } }),
    {
      dataDir,
      logger: silentLogger,
      clock: { now: () => NOW },
      registry: new Registry(),
    },
  );
  await store.sink.sink.deliver(EVENTS);
  routes = queryRoutes(store.reader, { now: () => NOW });
});

after(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the router would answer: the handler's response, or the BeaconError it threw as status and body. */
async function get(url: string, on: ApiRoute[] = routes): Promise<{ status: number; body: Record<string, unknown> }> {
  const { pathname, searchParams } = new URL(url, 'http://beacon');
  for (const route of on) {
    const params = matchPath(route.path, pathname);
    if (!params || route.method !== 'GET') continue;
    try {
      const res = await route.handle(
        { method: 'GET', path: pathname, query: Object.fromEntries(searchParams), headers: {} },
        params,
      );
      return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
    } catch (err) {
      if (!isBeaconError(err)) throw err;
      return { status: err.status, body: err.toBody() };
    }
  }
  throw new Error(`no route for ${url}`);
}

async function badQuery(url: string, mentions: string): Promise<void> {
  const res = await get(url);
  assert.equal(res.status, 400, url);
  assert.equal(res.body.code, 'BEACON_E_BAD_QUERY', url);
  assert.match(String(res.body.message), new RegExp(mentions), url);
}

describe('GET /api/v1/query/counts/recent', () => {
  test('counts per type in minute buckets over the last minutes, every bucket present, the current one last', async () => {
    const res = await get('/api/v1/query/counts/recent?minutes=5&bucket=1m');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      from: '2026-11-24T10:26:00.000Z',
      to: '2026-11-24T10:31:00.000Z',
      bucket: '1m',
      type: null,
      types: ['page', 'click'],
      buckets: [
        { start: '2026-11-24T10:26:00.000Z', total: 0, counts: {} },
        { start: '2026-11-24T10:27:00.000Z', total: 0, counts: {} },
        { start: '2026-11-24T10:28:00.000Z', total: 0, counts: {} },
        { start: '2026-11-24T10:29:00.000Z', total: 2, counts: { page: 2 } },
        { start: '2026-11-24T10:30:00.000Z', total: 2, counts: { page: 1, click: 1 } },
      ],
    });
  });

  test('takes one type, the default of 60 one-minute buckets, and other bucket sizes', async () => {
    const one = await get('/api/v1/query/counts/recent?type=click');
    assert.equal((one.body.buckets as unknown[]).length, 60);
    assert.deepEqual(one.body.types, ['click']);
    const hours = await get('/api/v1/query/counts/recent?minutes=240&bucket=1h');
    assert.deepEqual(
      (hours.body.buckets as { start: string; total: number }[]).map((b) => [b.start.slice(11, 16), b.total]),
      [
        ['07:00', 1],
        ['08:00', 0],
        ['09:00', 0],
        ['10:00', 5],
      ],
    );
  });

  test('refuses bad minutes and buckets with BEACON_E_BAD_QUERY naming the parameter', async () => {
    await badQuery('/api/v1/query/counts/recent?minutes=0', 'minutes must be a whole number from 1 to 1440');
    await badQuery('/api/v1/query/counts/recent?minutes=abc', 'minutes');
    await badQuery('/api/v1/query/counts/recent?bucket=500ms', 'bucket must be a duration in whole seconds');
    await badQuery('/api/v1/query/counts/recent?bucket=fortnight', 'bucket');
    await badQuery('/api/v1/query/counts/recent?minutes=5&bucket=1h', 'must not be longer than minutes');
    await badQuery('/api/v1/query/counts/recent?minutes=1440&bucket=1s', 'at most 1440');
  });
});

describe('GET /api/v1/query/events', () => {
  test('answers the most recent events first, whole, limited and filtered', async () => {
    const newest = await get('/api/v1/query/events?limit=3');
    assert.deepEqual(
      (newest.body.events as TrackedEvent[]).map((e) => e.id),
      ['r2', 'r1', 'r4'],
    );
    assert.deepEqual((newest.body.events as TrackedEvent[])[0], EVENTS[1]);
    const pro = await get('/api/v1/query/events?where=plan:pro');
    assert.deepEqual(
      (pro.body.events as TrackedEvent[]).map((e) => e.id),
      ['r1', 'r3', 'a2', 'a1', 'a0'],
    );
    const both = await get('/api/v1/query/events?type=page&where=plan:pro,n:1');
    assert.deepEqual(
      (both.body.events as TrackedEvent[]).map((e) => e.id),
      ['r3'],
    );
    const older = await get(`/api/v1/query/events?type=page&before=${NOW - 65 * S + 1}`);
    assert.deepEqual(
      (older.body.events as TrackedEvent[]).map((e) => e.id),
      ['r3', 'r5', 'a1', 'a0'],
    );
    const none = await get('/api/v1/query/events?type=nothing');
    assert.deepEqual(none.body, { events: [] });
  });

  test('takes any prop name in where, including names an object inherits (constructor, __proto__)', async () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await get(`/api/v1/query/events?where=${key}:x`);
      assert.equal(res.status, 200, key);
      assert.deepEqual(res.body, { events: [] }, key);
    }
    const mixed = await get('/api/v1/query/events?where=constructor:x,plan:pro');
    assert.equal(mixed.status, 200);
    await badQuery('/api/v1/query/events?where=constructor:x,constructor:y', 'appears twice');
  });

  test('refuses a bad limit, where or before', async () => {
    await badQuery('/api/v1/query/events?limit=0', 'limit');
    await badQuery('/api/v1/query/events?limit=1001', 'from 1 to 1000');
    await badQuery('/api/v1/query/events?where=plan', 'key:value');
    await badQuery('/api/v1/query/events?where=:pro', 'key:value');
    await badQuery('/api/v1/query/events?where=plan:pro,plan:free', 'appears twice');
    await badQuery('/api/v1/query/events?before=yesterday', 'before must be a date');
  });
});

describe('GET /api/v1/query/rate', () => {
  test('counts the events of the whole seconds of the window that ended a second ago', async () => {
    const res = await get('/api/v1/query/rate?window=10s');
    assert.deepEqual(res.body, {
      from: '2026-11-24T10:30:04.000Z',
      to: '2026-11-24T10:30:14.000Z',
      window: '10s',
      count: 2,
      perSecond: 0.2,
    });
    const minute = await get('/api/v1/query/rate?window=2m');
    assert.equal(minute.body.count, 4);
    assert.equal(minute.body.perSecond, 0.033);
    await badQuery('/api/v1/query/rate?window=2h', 'from 1s to 1h');
  });
});

describe('GET /api/v1/query/counts', () => {
  test('counts per type per day over a date range, the day of `to` included', async () => {
    const res = await get('/api/v1/query/counts?from=2026-11-01&to=2026-11-24');
    assert.equal(res.body.from, '2026-11-01T00:00:00.000Z');
    assert.equal(res.body.to, '2026-11-25T00:00:00.000Z');
    assert.equal(res.body.interval, 'day');
    const buckets = res.body.buckets as { start: string; total: number; counts: Record<string, number> }[];
    assert.equal(buckets.length, 24);
    assert.deepEqual(buckets[0], { start: '2026-11-01T00:00:00.000Z', total: 1, counts: { page: 1 } });
    assert.deepEqual(buckets[22], { start: '2026-11-23T00:00:00.000Z', total: 1, counts: { buy: 1 } });
    assert.deepEqual(buckets[23], {
      start: '2026-11-24T00:00:00.000Z',
      total: 7,
      counts: { buy: 1, page: 4, click: 2 },
    });
    assert.equal(
      buckets.reduce((n, b) => n + b.total, 0),
      9,
      'the event a millisecond before the range is out',
    );
    assert.deepEqual(res.body.types, ['page', 'buy', 'click']);
  });

  test('counts per hour between date-times, for one type', async () => {
    const res = await get(
      '/api/v1/query/counts?from=2026-11-23T22:00:00Z&to=2026-11-24T01:00:00%2B00:00&interval=hour&type=buy',
    );
    assert.deepEqual(
      (res.body.buckets as { start: string; total: number }[]).map((b) => [b.start, b.total]),
      [
        ['2026-11-23T22:00:00.000Z', 0],
        ['2026-11-23T23:00:00.000Z', 1],
        ['2026-11-24T00:00:00.000Z', 1],
      ],
    );
  });

  test('refuses a missing, malformed or reversed range, an unknown interval and too many buckets', async () => {
    await badQuery('/api/v1/query/counts?to=2026-11-24', 'from is required');
    await badQuery('/api/v1/query/counts?from=2026-11-01', 'to is required');
    await badQuery('/api/v1/query/counts?from=2026-02-30&to=2026-03-02', 'from must be a date');
    await badQuery('/api/v1/query/counts?from=2026-11-24T10:00:00&to=2026-11-25', 'with a zone');
    await badQuery('/api/v1/query/counts?from=2026-11-24&to=2026-11-01', 'must be after from');
    await badQuery('/api/v1/query/counts?from=2026-11-01&to=2026-11-24&interval=week', 'one of hour, day');
    await badQuery('/api/v1/query/counts?from=2020-01-01&to=2026-11-24&interval=hour', 'at most 5000');
  });
});

describe('GET /api/v1/query/props/{prop}/top', () => {
  test('ranks the values of a prop over a range, most frequent first, for all or one type', async () => {
    const res = await get('/api/v1/query/props/plan/top?from=2026-11-01&to=2026-11-24');
    assert.deepEqual(res.body, {
      prop: 'plan',
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-25T00:00:00.000Z',
      type: null,
      values: [
        { value: 'pro', count: 4 },
        { value: 'free', count: 2 },
        { value: 'team', count: 1 },
      ],
    });
    const pages = await get('/api/v1/query/props/plan/top?from=2026-11-01&to=2026-11-24&type=page&limit=1');
    assert.deepEqual(pages.body.values, [{ value: 'pro', count: 3 }]);
    const encoded = await get(
      `/api/v1/query/props/${encodeURIComponent('no such/prop')}/top?from=2026-11-01&to=2026-11-24`,
    );
    assert.deepEqual(encoded.body.values, []);
    await badQuery('/api/v1/query/props/plan/top?from=2026-11-01', 'to is required');
  });
});

describe('GET /api/v1/query/events/{id}', () => {
  test('answers one event by id, or 404 with BEACON_E_EVENT_NOT_FOUND', async () => {
    const found = await get('/api/v1/query/events/a2');
    assert.equal(found.status, 200);
    assert.deepEqual(found.body, EVENTS[7]);
    const missing = await get('/api/v1/query/events/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'BEACON_E_EVENT_NOT_FOUND');
    assert.match(String(missing.body.message), /"nope"/);
  });
});

describe('the query endpoints with store.type none', () => {
  test('stay declared and answer 404 with BEACON_E_STORE_OFF', async () => {
    const off = queryRoutes(disabledStoreReader(), { now: () => NOW });
    for (const url of [
      '/api/v1/query/counts/recent',
      '/api/v1/query/events',
      '/api/v1/query/rate',
      '/api/v1/query/counts?from=2026-11-01&to=2026-11-02',
      '/api/v1/query/props/plan/top?from=2026-11-01&to=2026-11-02',
      '/api/v1/query/events/x',
    ]) {
      const res = await get(url, off);
      assert.equal(res.status, 404, url);
      assert.equal(res.body.code, 'BEACON_E_STORE_OFF', url);
    }
  });
});
