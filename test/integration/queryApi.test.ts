import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue, waitUntil } from '../support/waitFor.js';

/**
 * The query API end to end: a real Beacon with its defaults (the embedded store, no database
 * server configured), events sent over HTTP, and every query endpoint read back over HTTP.
 */
const RUN = randomUUID().slice(0, 8);
const DAY = 86_400_000;

interface Bucket {
  start: string;
  total: number;
  counts: Record<string, number>;
}

async function getJson(
  beacon: BeaconProcess,
  path: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${beacon.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function sendBatch(beacon: BeaconProcess, events: unknown[]): Promise<void> {
  const res = await fetch(`${beacon.url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { accepted: number }).accepted, events.length);
}

/** Events in the store, by the archive counts over yesterday and today (a run near midnight spans both). */
async function storedCount(beacon: BeaconProcess): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - DAY).toISOString().slice(0, 10);
  const res = await getJson(beacon, `/api/v1/query/counts?from=${yesterday}&to=${today}&interval=day&_=${Date.now()}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.buckets as Bucket[]).reduce((n, b) => n + b.total, 0);
}

/** 60 events: 30 `view`, 20 `signup`, 10 `order`; plan pro on every third. */
function events(prefix: string): { id: string; type: string; props: Record<string, unknown> }[] {
  return Array.from({ length: 60 }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: i < 30 ? 'view' : i < 50 ? 'signup' : 'order',
    props: { plan: i % 3 === 0 ? 'pro' : 'free', n: i },
  }));
}

describe('the query API over the embedded store', () => {
  let beacon: BeaconProcess;
  const sent = events(`q${RUN}`);

  before(async () => {
    // Archive answers are cached for an hour by default; this test reads the same URLs as they change.
    beacon = await startBeacon({ api: { cache: { realtime: 0, archive: 0 } } });
    await sendBatch(beacon, sent);
    const pixel = await fetch(`${beacon.url}/t/view?plan=team&src=pixel`);
    assert.equal(pixel.status, 204);
    await waitUntil('61 events stored', async () => (await storedCount(beacon)) === 61, 20_000);
  });

  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('keeps the store under dataDir/store and runs its internal sink `_store` like any sink', async () => {
    assert.ok(existsSync(join(beacon.dataDir, 'store', 'events.duckdb')));
    // The rows are queryable before the store's `deliver` returns and the loop counts them:
    // wait for the count rather than read it the moment the rows appear.
    let store: { name: string; type: string; delivered: number } | undefined;
    await waitUntil(
      () => `the _store sink to count 61 delivered (last seen ${JSON.stringify(store)})`,
      async () => {
        const status = await getJson(beacon, '/api/v1/status');
        store = (status.body.sinks as { name: string; type: string; delivered: number }[]).find(
          (s) => s.name === '_store',
        );
        return (store?.delivered ?? 0) >= 61;
      },
    );
    assert.equal(store?.type, 'store');
    assert.equal(store?.delivered, 61);
  });

  it('answers the counts per type of the last minutes in minute buckets', async () => {
    const res = await getJson(beacon, '/api/v1/query/counts/recent?minutes=10&bucket=1m');
    assert.equal(res.status, 200);
    const buckets = res.body.buckets as Bucket[];
    assert.equal(buckets.length, 10);
    const sum = (type: string) => buckets.reduce((n, b) => n + (b.counts[type] ?? 0), 0);
    assert.deepEqual([sum('view'), sum('signup'), sum('order')], [31, 20, 10]);
    assert.deepEqual(res.body.types, ['view', 'signup', 'order']);
    const signups = await getJson(beacon, '/api/v1/query/counts/recent?minutes=10&bucket=5m&type=signup');
    assert.equal(
      (signups.body.buckets as Bucket[]).reduce((n, b) => n + b.total, 0),
      20,
    );
  });

  it('answers the most recent events, filtered by type and prop', async () => {
    const res = await getJson(beacon, '/api/v1/query/events?type=signup&where=plan:pro&limit=100');
    assert.equal(res.status, 200);
    const got = (res.body.events as { id: string; props: { n: number } }[]).map((e) => e.props.n).sort((a, b) => a - b);
    assert.deepEqual(got, [30, 33, 36, 39, 42, 45, 48]);
    const pixel = await getJson(beacon, '/api/v1/query/events?where=src:pixel');
    assert.deepEqual(
      (pixel.body.events as { type: string; props: unknown }[]).map((e) => [e.type, e.props]),
      [['view', { plan: 'team', src: 'pixel' }]],
    );
    const limited = await getJson(beacon, '/api/v1/query/events?limit=5');
    assert.equal((limited.body.events as unknown[]).length, 5);
  });

  it('answers events per second over a window', async () => {
    // The window ends a second ago: poll until the events sent above are inside it. Ten
    // minutes, not one: on a loaded machine the tests before this one can take a minute, and
    // the events would have left a 1 minute window before they were counted.
    let last: unknown;
    const res = await waitForValue(
      () => `the rate to count every event (last answer ${JSON.stringify(last)})`,
      async () => {
        const r = await getJson(beacon, '/api/v1/query/rate?window=10m');
        last = r.body;
        return r.body.count === 61 ? r : undefined;
      },
    );
    assert.equal(res.body.perSecond, Math.round((61 / 600) * 1000) / 1000);
  });

  it('answers the counts per hour of a date range, and the top values of a prop', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    const hours = await getJson(beacon, `/api/v1/query/counts?from=${yesterday}&to=${today}&interval=hour&type=order`);
    assert.equal((hours.body.buckets as Bucket[]).length, 48);
    assert.equal(
      (hours.body.buckets as Bucket[]).reduce((n, b) => n + b.total, 0),
      10,
    );
    const top = await getJson(beacon, `/api/v1/query/props/plan/top?from=${yesterday}&to=${today}`);
    assert.deepEqual(top.body.values, [
      { value: 'free', count: 40 },
      { value: 'pro', count: 20 },
      { value: 'team', count: 1 },
    ]);
  });

  it('answers one event by id, and 404 with a code for an unknown id', async () => {
    const found = await getJson(beacon, `/api/v1/query/events/${sent[7]!.id}`);
    assert.equal(found.status, 200);
    assert.equal(found.body.type, 'view');
    assert.deepEqual(found.body.props, { plan: 'free', n: 7 });
    assert.equal(typeof found.body.ts, 'number');
    const missing = await getJson(beacon, `/api/v1/query/events/${RUN}-nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'BEACON_E_EVENT_NOT_FOUND');
  });

  it('answers a malformed parameter with 400 and BEACON_E_BAD_QUERY', async () => {
    const res = await getJson(beacon, '/api/v1/query/counts?from=2026-11-01');
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BEACON_E_BAD_QUERY');
    assert.match(String(res.body.message), /to is required/);
  });

  it('writes nothing twice when `_store` is replayed from the start of the log', async () => {
    const replay = await fetch(`${beacon.url}/api/v1/sinks/_store/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"from":"start"}',
    });
    assert.equal(replay.status, 200);
    await waitUntil('the replay delivered', async () => {
      const status = await getJson(beacon, '/api/v1/status');
      return (
        (status.body.sinks as { name: string; delivered: number }[]).find((s) => s.name === '_store')!.delivered === 122
      );
    });
    assert.equal(await storedCount(beacon), 61);
  });

  it('keeps every acknowledged event, once, through a kill -9 and a restart', async () => {
    const more = events(`k${RUN}`);
    await Promise.all([sendBatch(beacon, more.slice(0, 30)), sendBatch(beacon, more.slice(30))]);
    await beacon.kill9();
    await beacon.restart();
    await waitUntil('121 events stored after the restart', async () => (await storedCount(beacon)) === 121, 20_000);
    // Give a redelivery the time to happen, then check it wrote nothing twice.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await storedCount(beacon), 121);
    const again = await getJson(beacon, '/api/v1/query/events?where=plan:pro&type=order&limit=100');
    assert.equal((again.body.events as unknown[]).length, 6, 'each of the 3 pro orders of each run once');
  });
});

describe('the query API with store.type none, and in the multi-process mode', () => {
  it('answers 404 with BEACON_E_STORE_OFF and runs no `_store` sink when the store is off', async () => {
    const beacon = await startBeacon({ store: { type: 'none' } });
    try {
      const res = await getJson(beacon, '/api/v1/query/events');
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'BEACON_E_STORE_OFF');
      const status = await getJson(beacon, '/api/v1/status');
      assert.equal(
        (status.body.sinks as { name: string }[]).some((s) => s.name === '_store'),
        false,
      );
      assert.equal(existsSync(join(beacon.dataDir, 'store')), false);
    } finally {
      await beacon.stop();
      await beacon.cleanup();
    }
  });

  it('feeds and answers from the primary when two collector processes take the events', async () => {
    const beacon = await startBeacon({ server: { workers: 2 }, api: { cache: { realtime: 0, archive: 0 } } });
    try {
      const sent = events(`w${RUN}`);
      await Promise.all([
        sendBatch(beacon, sent.slice(0, 20)),
        sendBatch(beacon, sent.slice(20, 40)),
        sendBatch(beacon, sent.slice(40)),
      ]);
      await waitUntil('60 events stored', async () => (await storedCount(beacon)) === 60, 20_000);
      const found = await getJson(beacon, `/api/v1/query/events/${sent[59]!.id}`);
      assert.equal(found.body.type, 'order');
    } finally {
      await beacon.stop();
      await beacon.cleanup();
    }
  });
});
