import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import type { BucketCount, StoreReader, ValueCount } from '../../src/store/storeReader.js';

/**
 * The checks every StoreReader runs against its real database: known events are written the
 * way the store's sink writes them (twice, as a redelivery after a crash would), then each
 * query's answer is compared with a reference computed here from the same events, plus a few
 * answers spelled out by hand so the reference itself is checked.
 *
 * The events are built to catch the usual slips: times on bucket edges and one millisecond
 * outside the range, types and prop values that differ only in case, a JSON null, numbers and
 * booleans compared as text, a key with a space and a dot, quotes and non-ASCII in values, and
 * values shaped like SQL.
 */
export interface StoreReaderHarness {
  /** Writes events through the store's real sink (each call one delivery). */
  write(events: readonly TrackedEvent[]): Promise<void>;
  /** Opens the reader over what was written. */
  open(): Promise<StoreReader>;
  /**
   * An event as the table gives it back, when its columns hold less than the whole event
   * (default: all of it); the reference answers are computed from these.
   */
  stored?(event: TrackedEvent): TrackedEvent;
}

/** A minute-aligned start, so minute buckets begin at T0. */
export const T0 = 1_700_000_040_000;
const MINUTE = 60_000;

/** 45 events over four minutes, in distinct seconds (so "most recent first" has one answer, even in a DateTime column). */
export function storeEvents(prefix: string): TrackedEvent[] {
  const types = ['page.view', 'page.view', 'signup', 'order.created', 'page.view'];
  const plans = ['pro', 'free', 'pro', 'Pro', 'team'];
  const events: TrackedEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const event: TrackedEvent = {
      id: `${prefix}-${String(i).padStart(3, '0')}`,
      type: types[i % types.length]!,
      // 6 s apart from T0 + 1 s: 10 per minute, and i = 0 at T0 + 1000.
      ts: T0 + 1000 + i * 6000,
      props: {
        plan: plans[i % plans.length]!,
        n: i % 4,
        ok: i % 3 === 0,
        'a key.with dots': i % 2 ? 'odd' : 'even',
        ctx: { page: `/p/${i % 3}` },
      },
      meta: { geo: { country: i % 2 ? 'DE' : 'FR' } },
    };
    if (i % 4 === 0)
      Object.assign(event, {
        clientTs: event.ts - 250,
        partyId: `party-${i % 7}`,
        sessionId: `s-${i}`,
        url: `https://example.test/p/${i}?q=1`,
      });
    events.push(event);
  }
  // Edges: one exactly on a minute boundary, one a millisecond before T0, one at the range's end.
  events.push({ id: `${prefix}-edge-on`, type: 'signup', ts: T0 + 2 * MINUTE, props: { plan: 'pro' }, meta: {} });
  events.push({ id: `${prefix}-edge-before`, type: 'signup', ts: T0 - 1, props: { plan: 'pro' }, meta: {} });
  events.push({ id: `${prefix}-edge-end`, type: 'signup', ts: T0 + 4 * MINUTE, props: { plan: 'pro' }, meta: {} });
  // Case, null, quotes, non-ASCII, and a value shaped like SQL.
  events.push({
    id: `${prefix}-Case`,
    type: 'Signup',
    ts: T0 + 3 * MINUTE + 500,
    props: { plan: null, note: 'it\'s "quoted" — ünïcode' },
    meta: { bot: true },
  });
  events.push({
    id: `${prefix}-sql`,
    type: "x' OR '1'='1",
    ts: T0 + 3 * MINUTE + 2500,
    props: { plan: "' OR 1=1 --", n: 12.5 },
    meta: {},
  });
  return events;
}

/** The reference answers, from the events themselves. */
const model = {
  inRange: (events: readonly TrackedEvent[], from: number, to: number, type?: string) =>
    events.filter((e) => e.ts >= from && e.ts < to && (type === undefined || e.type === type)),
  buckets(events: readonly TrackedEvent[], from: number, to: number, bucketMs: number, type?: string): BucketCount[] {
    const counts = new Map<string, BucketCount>();
    for (const e of model.inRange(events, from, to, type)) {
      const bucket = Math.floor(e.ts / bucketMs) * bucketMs;
      const key = `${bucket} ${e.type}`;
      const c = counts.get(key) ?? { bucket, type: e.type, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    return sortCounts([...counts.values()]);
  },
  text(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : JSON.stringify(value);
  },
  top(
    events: readonly TrackedEvent[],
    prop: string,
    from: number,
    to: number,
    limit: number,
    type?: string,
  ): ValueCount[] {
    const counts = new Map<string, number>();
    for (const e of model.inRange(events, from, to, type)) {
      const v = model.text(e.props[prop]);
      if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return [...counts]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
      .slice(0, limit);
  },
  recent(
    events: readonly TrackedEvent[],
    limit: number,
    filter: { type?: string; before?: number; propEquals?: Record<string, string> } = {},
  ): TrackedEvent[] {
    return events
      .filter(
        (e) =>
          (filter.type === undefined || e.type === filter.type) &&
          (filter.before === undefined || e.ts < filter.before),
      )
      .filter((e) => Object.entries(filter.propEquals ?? {}).every(([k, v]) => model.text(e.props[k]) === v))
      .sort((a, b) => b.ts - a.ts)
      .slice(0, limit);
  },
};

function sortCounts(counts: BucketCount[]): BucketCount[] {
  return counts.sort((a, b) => a.bucket - b.bucket || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** Ties in count come back in whatever order the database sorts text; compare them as sets. */
function topByCount(values: readonly ValueCount[]): string[] {
  return values
    .map((v) => `${v.count}`)
    .concat([...values].sort((a, b) => (a.value < b.value ? -1 : 1)).map((v) => `${v.value}=${v.count}`));
}

export function runStoreReaderChecks(label: string, harness: StoreReaderHarness): void {
  const written = storeEvents(label.replace(/\W/g, ''));
  // The reference answers come from the events as the table holds them.
  const events = written.map((e) => harness.stored?.(e) ?? e);
  let reader: StoreReader;
  const from = T0;
  const to = T0 + 4 * MINUTE;

  describe(`${label} store reader`, () => {
    before(async () => {
      await harness.write(written.slice(0, 20));
      await harness.write(written.slice(20));
      // A redelivery after a crash: the same events again.
      await harness.write(written.slice(10, 30));
      reader = await harness.open();
    });
    after(async () => {
      await reader?.close();
    });

    test('counts per type per minute bucket over [from, to), edges included and excluded as promised', async () => {
      const got = sortCounts(await reader.countsByBucket({ from, to, bucketMs: MINUTE }));
      assert.deepEqual(got, model.buckets(events, from, to, MINUTE));
      // Spelled out: minute 2 starts with the edge event; the event 1 ms before T0 and the one at `to` are outside.
      assert.equal(got.filter((c) => c.bucket === T0 + 2 * MINUTE && c.type === 'signup')[0]?.count, 3);
      assert.equal(got.filter((c) => c.bucket < T0).length, 0);
      assert.equal(
        got.reduce((n, c) => n + c.count, 0),
        43,
      );
      // Types that differ only in case are counted apart.
      assert.ok(got.some((c) => c.type === 'Signup') && got.some((c) => c.type === 'signup'));
    });

    test('counts per bucket for one type, in hour buckets, and nothing for an unknown type', async () => {
      assert.deepEqual(
        sortCounts(await reader.countsByBucket({ from, to, bucketMs: MINUTE, type: 'page.view' })),
        model.buckets(events, from, to, MINUTE, 'page.view'),
      );
      assert.deepEqual(
        sortCounts(await reader.countsByBucket({ from: T0 - MINUTE, to, bucketMs: 3_600_000 })),
        model.buckets(events, T0 - MINUTE, to, 3_600_000),
      );
      assert.deepEqual(await reader.countsByBucket({ from, to, bucketMs: MINUTE, type: 'no.such.type' }), []);
      assert.deepEqual(await reader.countsByBucket({ from, to, bucketMs: MINUTE, type: "x' OR '1'='1" }), [
        { bucket: T0 + 3 * MINUTE, type: "x' OR '1'='1", count: 1 },
      ]);
    });

    test('returns the most recent events first, whole, each once', async () => {
      const got = await reader.recent({ limit: 8 });
      assert.deepEqual(got, model.recent(events, 8));
      const prefix = label.replace(/\W/g, '');
      assert.deepEqual(got.map((e) => e.id).slice(0, 3), [`${prefix}-edge-end`, `${prefix}-039`, `${prefix}-038`]);
      const all = await reader.recent({ limit: 1000 });
      assert.equal(all.length, events.length, 'every event once, the redelivered ones included');
    });

    test('filters recent events by type and by props compared as text (strings, numbers, booleans)', async () => {
      const filters: { type?: string; propEquals?: Record<string, string> }[] = [
        { type: 'page.view' },
        { propEquals: { plan: 'pro' } },
        { propEquals: { plan: 'Pro' } },
        { type: 'page.view', propEquals: { plan: 'pro', n: '0' } },
        { propEquals: { ok: 'true' } },
        { propEquals: { n: '12.5' } },
        { propEquals: { 'a key.with dots': 'odd' } },
        { propEquals: { note: 'it\'s "quoted" — ünïcode' } },
      ];
      for (const filter of filters) {
        assert.deepEqual(
          await reader.recent({ limit: 100, ...filter }),
          model.recent(events, 100, filter),
          JSON.stringify(filter),
        );
      }
      assert.ok((await reader.recent({ limit: 100, propEquals: { plan: 'pro' } })).length >= 10);
    });

    test('matches nothing for a JSON null, a missing prop, or values and keys shaped like SQL', async () => {
      assert.deepEqual(await reader.recent({ limit: 10, propEquals: { plan: 'null' } }), []);
      assert.deepEqual(await reader.recent({ limit: 10, propEquals: { missing: 'x' } }), []);
      assert.deepEqual(await reader.recent({ limit: 10, propEquals: { plan: "' OR '1'='1" } }), []);
      assert.deepEqual(await reader.recent({ limit: 10, propEquals: { "plan') OR ('1'='1": 'x' } }), []);
      assert.deepEqual(
        (await reader.recent({ limit: 10, propEquals: { plan: "' OR 1=1 --" } })).map((e) => e.type),
        ["x' OR '1'='1"],
      );
    });

    test('pages backwards with before, losing and repeating nothing', async () => {
      const seen: string[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await reader.recent({ limit: 7, ...(before === undefined ? {} : { before }) });
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.id));
        before = page[page.length - 1]!.ts;
      }
      assert.deepEqual(
        seen,
        model.recent(events, 1000).map((e) => e.id),
      );
    });

    test('counts the events in [from, to)', async () => {
      assert.equal(await reader.countBetween(from, to), model.inRange(events, from, to).length);
      assert.equal(await reader.countBetween(T0 + MINUTE, T0 + 2 * MINUTE), 10);
      assert.equal(await reader.countBetween(T0 - 1, T0 + 1), model.inRange(events, T0 - 1, T0 + 1).length);
      assert.equal(await reader.countBetween(to, to), 0);
    });

    test('ranks the top values of a prop, as text, apart by case, without nulls', async () => {
      const top = await reader.topValues({ prop: 'plan', from, to, limit: 10 });
      assert.deepEqual(topByCount(top), topByCount(model.top(events, 'plan', from, to, 10)));
      assert.equal(top[0]?.value, 'pro');
      assert.ok(top.some((v) => v.value === 'Pro') && !top.some((v) => v.value === 'null'));
      assert.deepEqual(
        topByCount(await reader.topValues({ prop: 'n', from, to, limit: 10 })),
        topByCount(model.top(events, 'n', from, to, 10)),
      );
      assert.deepEqual(
        topByCount(await reader.topValues({ prop: 'ok', from, to, limit: 10, type: 'page.view' })),
        topByCount(model.top(events, 'ok', from, to, 10, 'page.view')),
      );
      assert.deepEqual(
        (await reader.topValues({ prop: 'plan', from, to, limit: 1 })).map((v) => v.value),
        ['pro'],
      );
      assert.deepEqual(await reader.topValues({ prop: 'missing', from, to, limit: 10 }), []);
    });

    test('finds one event by id, exactly (not by a case-folded id)', async () => {
      const wanted = written.find((e) => e.clientTs !== undefined && e.url !== undefined)!;
      assert.deepEqual(
        await reader.byId(wanted.id),
        events.find((e) => e.id === wanted.id),
      );
      assert.deepEqual(await reader.byId(events[events.length - 2]!.id), events[events.length - 2]);
      assert.equal(await reader.byId(wanted.id.toUpperCase()), undefined);
      assert.equal(await reader.byId('no-such-id'), undefined);
      assert.equal(await reader.byId("' OR '1'='1"), undefined);
    });

    test('refuses ranges and limits that are not whole, positive numbers with BEACON_E_BAD_QUERY', async () => {
      await assert.rejects(reader.countBetween(to, from), { code: 'BEACON_E_BAD_QUERY' });
      await assert.rejects(reader.recent({ limit: 0 }), { code: 'BEACON_E_BAD_QUERY' });
      await assert.rejects(reader.countsByBucket({ from, to, bucketMs: 0.5 }), { code: 'BEACON_E_BAD_QUERY' });
    });
  });
}
