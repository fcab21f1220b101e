import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  buildEcommerceTransaction,
  buildEcommerceTransactionItem,
  buildPagePing,
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
  type Payload,
  type PayloadBuilder,
  type SelfDescribingJson,
  type Tracker,
} from '@snowplow/node-tracker';
import { startBeacon, stopAndRemove, type BeaconProcess } from '../support/beaconProcess.js';
import { sinkLines } from '../support/sinkFile.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * The real @snowplow/node-tracker, pointed at Beacon as a real process (collector URL changed,
 * nothing else), writing to a file sink: every event kind arrives mapped as
 * docs/protocols.md#snowplow says, batched and not, by POST and GET; and when Beacon is killed
 * (SIGKILL) in the middle of a run and started again, the tracker's resends leave every event
 * stored exactly once (counted by eid).
 */

type Line = {
  id: string;
  type: string;
  ts: number;
  clientTs?: number;
  partyId?: string;
  sessionId?: string;
  ip?: string;
  url?: string;
  referrer?: string;
  props: Record<string, unknown>;
  meta: Record<string, unknown>;
};

const fileLines = (path: string) => sinkLines<Line>(path);

const PRODUCT_SCHEMA = 'iglu:com.acme/viewed_product/jsonschema/1-0-0';
const USER_CONTEXT: SelfDescribingJson = {
  schema: 'iglu:com.acme/user/jsonschema/1-0-0',
  data: { plan: 'pro', seats: 3 },
};

/** Sends with a tracker and keeps the eid of every event it was given. */
function tracked(tracker: Tracker, sent: string[]) {
  return (builder: PayloadBuilder, context?: SelfDescribingJson[]) => {
    const payload = tracker.track(builder, context) as Payload | undefined;
    assert.ok(payload && typeof payload.eid === 'string', 'track returns the payload with its eid');
    sent.push(payload.eid as string);
    return payload.eid as string;
  };
}

/** Flushes until every event in `sent` is in the file (the tracker retries what failed on each flush). */
async function flushUntilStored(trackers: Tracker[], out: string, sent: string[], timeoutMs = 30_000): Promise<Line[]> {
  const want = new Set(sent);
  return waitForValue(
    () => `${want.size} events in the file sink`,
    async () => {
      await Promise.all(trackers.map((t) => t.flush()));
      const lines = (await fileLines(out)).filter((e) => want.has(e.id));
      return new Set(lines.map((e) => e.id)).size === want.size ? lines : undefined;
    },
    timeoutMs,
    200,
  );
}

/**
 * Records stored more than once for one eid: distinct lines with the same id (a resend appended
 * again would carry its own receive time). Byte-identical lines are not counted here: after a
 * SIGKILL the file sink re-delivers from its last committed cursor position (at-least-once, see
 * docs/dispatch.md), which repeats a line, not a record.
 */
async function metric(url: string, pattern: RegExp): Promise<number> {
  const match = pattern.exec(await (await fetch(`${url}/metrics`)).text());
  return match ? Number(match[1]) : 0;
}

function duplicates(lines: Line[]): number {
  const distinct = new Set(lines.map((e) => JSON.stringify(e)));
  return distinct.size - new Set(lines.map((e) => e.id)).size;
}

/** Lines the sink wrote again after a crash (identical copies of a line already in the file). */
function redelivered(lines: Line[]): number {
  return lines.length - new Set(lines.map((e) => JSON.stringify(e))).size;
}

describe('the Snowplow tracker protocol with the real @snowplow/node-tracker', () => {
  let beacon: BeaconProcess;
  let out: string;

  before(async () => {
    beacon = await startBeacon({
      snowplow: { enabled: true, appIds: ['shop', 'crash'] },
      // Drop repeats, so a resent event is stored exactly once (docs/enrichment.md#duplicates).
      enrich: { duplicates: { action: 'drop' } },
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 500, maxWaitMs: 20 },
        },
      ],
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(() => stopAndRemove(beacon));

  it('delivers page views, pings, structured, self-describing and ecommerce events, batched and not, by POST and GET, mapped as documented', async () => {
    const sent: string[] = [];
    const failures: unknown[] = [];
    const onRequestFailure = (failure: unknown) => failures.push(failure);
    const single = newTracker(
      { namespace: 'single', appId: 'shop' },
      { endpoint: beacon.url, bufferSize: 1, onRequestFailure },
    );
    const batched = newTracker(
      { namespace: 'batched', appId: 'shop' },
      { endpoint: beacon.url, bufferSize: 5, onRequestFailure },
    );
    const viaGet = newTracker(
      { namespace: 'get', appId: 'shop', encodeBase64: false },
      { endpoint: beacon.url, eventMethod: 'get', onRequestFailure },
    );
    single.setNetworkUserId('8f3c1f52-6d0e-4b43-9d7a-3d6f0e6a9b10');
    single.setSessionId('4c1b0c9e-1b7e-4a55-a0f4-1a6b0f6a2c11');
    const ids = {
      pv: tracked(
        single,
        sent,
      )(
        buildPageView({
          pageUrl: 'https://shop.example/p/1',
          pageTitle: 'Mug',
          referrer: 'https://search.example/?q=mug',
        }),
      ),
      se: tracked(
        single,
        sent,
      )(buildStructEvent({ category: 'cart', action: 'add', label: 'sku-1', property: 'red', value: 2.5 })),
      ue: tracked(single, sent)(
        buildSelfDescribingEvent({ event: { schema: PRODUCT_SCHEMA, data: { productId: 'ASO01043', price: 49.95 } } }),
        [USER_CONTEXT],
      ),
      tr: tracked(
        single,
        sent,
      )(
        buildEcommerceTransaction({
          orderId: 'o-1',
          total: 30.5,
          tax: 5,
          shipping: 2,
          affiliation: 'web',
          city: 'Lyon',
          country: 'FR',
          currency: 'EUR',
        }),
      ),
      ti: tracked(
        single,
        sent,
      )(
        buildEcommerceTransactionItem({
          orderId: 'o-1',
          sku: 'sku-1',
          name: 'Mug',
          category: 'kitchen',
          price: 10,
          quantity: 3,
          currency: 'EUR',
        }),
      ),
      pp: tracked(
        single,
        sent,
      )(
        buildPagePing({
          pageUrl: 'https://shop.example/p/1',
          minXOffset: 1,
          maxXOffset: 10,
          minYOffset: 5,
          maxYOffset: 900,
        }),
      ),
      getUe: tracked(viaGet, sent)(
        buildSelfDescribingEvent({ event: { schema: PRODUCT_SCHEMA, data: { productId: 'via-get', price: 1 } } }),
        [USER_CONTEXT],
      ),
    };
    const batchIds: string[] = [];
    for (let i = 0; i < 12; i++)
      batchIds.push(tracked(batched, sent)(buildStructEvent({ category: 'batch', action: 'step', value: i })));
    const lines = await flushUntilStored([single, batched, viaGet], out, sent);
    assert.deepEqual(failures, [], 'the tracker saw no failed request');
    assert.equal(duplicates(lines), 0);
    const byId = new Map(lines.map((e) => [e.id, e]));

    const pv = byId.get(ids.pv)!;
    assert.deepEqual(
      [pv.type, pv.props, pv.url, pv.referrer],
      ['page_view', { title: 'Mug' }, 'https://shop.example/p/1', 'https://search.example/?q=mug'],
    );
    assert.deepEqual(
      [pv.partyId, pv.sessionId, pv.meta.source],
      ['8f3c1f52-6d0e-4b43-9d7a-3d6f0e6a9b10', '4c1b0c9e-1b7e-4a55-a0f4-1a6b0f6a2c11', 'snowplow'],
    );
    assert.equal(typeof pv.clientTs, 'number');
    assert.ok(Math.abs(pv.clientTs! - pv.ts) < 60_000, 'clientTs is the derived timestamp, near the receive time');
    const params = (pv.meta.snowplow as { params: Record<string, string> }).params;
    assert.deepEqual([params.aid, params.p, params.tna], ['shop', 'srv', 'single']);
    assert.match(params.tv!, /^node-/);

    assert.deepEqual(
      [byId.get(ids.se)!.type, byId.get(ids.se)!.props],
      ['structured_event', { category: 'cart', action: 'add', label: 'sku-1', property: 'red', value: 2.5 }],
    );
    for (const id of [ids.ue, ids.getUe]) {
      const ue = byId.get(id)!;
      assert.equal(ue.type, 'viewed_product');
      assert.equal((ue.meta.snowplow as { schema: string }).schema, PRODUCT_SCHEMA);
      assert.deepEqual((ue.meta.snowplow as { contexts: unknown }).contexts, [USER_CONTEXT]);
    }
    assert.deepEqual(byId.get(ids.ue)!.props, { productId: 'ASO01043', price: 49.95 });
    assert.deepEqual(byId.get(ids.getUe)!.props, { productId: 'via-get', price: 1 }, 'plain ue_pr by GET');
    assert.deepEqual(
      [byId.get(ids.tr)!.type, byId.get(ids.tr)!.props],
      [
        'transaction',
        {
          orderId: 'o-1',
          affiliation: 'web',
          total: 30.5,
          tax: 5,
          shipping: 2,
          city: 'Lyon',
          country: 'FR',
          currency: 'EUR',
        },
      ],
    );
    assert.deepEqual(
      [byId.get(ids.ti)!.type, byId.get(ids.ti)!.props],
      [
        'transaction_item',
        { orderId: 'o-1', sku: 'sku-1', name: 'Mug', category: 'kitchen', price: 10, quantity: 3, currency: 'EUR' },
      ],
    );
    assert.deepEqual(
      [byId.get(ids.pp)!.type, byId.get(ids.pp)!.props],
      ['page_ping', { minXOffset: 1, maxXOffset: 10, minYOffset: 5, maxYOffset: 900 }],
    );
    assert.deepEqual(
      batchIds.map((id) => byId.get(id)!.props.value),
      [...Array(12).keys()],
    );
  });

  it('refuses an app outside snowplow.appIds; the tracker does not retry the 403 and nothing is stored', async () => {
    const failures: Array<{ status?: number; willRetry: boolean }> = [];
    const other = newTracker(
      { namespace: 'other', appId: 'blog' },
      { endpoint: beacon.url, bufferSize: 1, onRequestFailure: (f) => failures.push(f) },
    );
    const eid = tracked(other, [])(buildPageView({ pageUrl: 'https://blog.example/' }));
    await waitForValue('the refusal', () => (failures.length > 0 ? failures : undefined));
    assert.deepEqual(
      failures.map((f) => [f.status, f.willRetry]),
      [[403, false]],
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      (await fileLines(out)).some((e) => e.id === eid),
      false,
    );
  });

  it('stores every event once when Beacon is killed with SIGKILL mid-run and started again', async () => {
    const run = randomUUID().slice(0, 8);
    const sent: string[] = [];
    const post = newTracker(
      { namespace: `crash-post-${run}`, appId: 'crash' },
      { endpoint: beacon.url, bufferSize: 4, connectionTimeout: 2000 },
    );
    const viaGet = newTracker(
      { namespace: `crash-get-${run}`, appId: 'crash' },
      { endpoint: beacon.url, eventMethod: 'get', connectionTimeout: 2000 },
    );
    const send = (i: number) => {
      tracked(post, sent)(buildStructEvent({ category: 'crash', action: 'post', value: i }), [USER_CONTEXT]);
      if (i % 2 === 0)
        tracked(
          viaGet,
          sent,
        )(buildSelfDescribingEvent({ event: { schema: PRODUCT_SCHEMA, data: { productId: `p-${i}`, price: i } } }));
    };
    const pause = () => new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 120; i++) {
      send(i);
      await pause();
    }
    await beacon.kill9();
    for (let i = 120; i < 160; i++) {
      send(i);
      await pause();
    }
    await beacon.restart();
    for (let i = 160; i < 240; i++) {
      send(i);
      await pause();
    }
    const lines = await flushUntilStored([post, viaGet], out, sent, 60_000);
    // The id memory outlived the kill: a resend of an event stored before it is recognised.
    const resend = await fetch(`${beacon.url}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=UTF-8' },
      body: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [{ e: 'se', eid: sent[0], aid: 'crash', se_ca: 'crash', se_ac: 'resent' }],
      }),
    });
    assert.equal(resend.status, 200);
    // A second copy would land in the same or a following sink batch; give it time to show up.
    await new Promise((r) => setTimeout(r, 500));
    const all = (await fileLines(out)).filter((e) => sent.includes(e.id));
    const stored = new Set(all.map((e) => e.id)).size;
    const dropped = await metric(
      beacon.url,
      /beacon_events_rejected_total\{source="snowplow",code="BEACON_E_DUPLICATE_DROPPED"\} (\d+)/,
    );
    console.log(
      `snowplow node-tracker crash run: sent ${sent.length} / stored ${stored} / duplicates ${duplicates(all)}` +
        ` (resends dropped by the id memory since the restart: ${dropped}; file lines re-delivered by the sink after the kill: ${redelivered(all)})`,
    );
    assert.ok(dropped >= 1, 'the resend of a pre-kill eid was dropped');
    assert.equal(stored, sent.length, 'every event is stored');
    assert.equal(duplicates(all), 0, 'and stored once');
    assert.ok(lines.every((e) => e.meta.source === 'snowplow'));
  });
});
