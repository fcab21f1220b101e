import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Analytics } from '@segment/analytics-node';
import pg from 'pg';
import { createClient } from 'redis';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * Odd but legitimate input from real clients is stored, never refused (one Beacon process for
 * both parts, so the file pays for one start):
 *
 * - Three real SDKs of the Segment family pointed at Beacon with nothing changed but the
 *   host: @segment/analytics-node (v3), Segment's legacy analytics-node (v6) and
 *   @rudderstack/rudder-sdk-node (which posts gzip as `application/x-www-form-urlencoded`).
 *   Each sends names Segment takes and Beacon's native pattern refuses (other scripts, `$` and
 *   `_` prefixes, over 64 characters) and properties nested deeper than the native 8 levels;
 *   every event must be stored once, under a valid type, with its original name in meta.
 * - U+0000 on every intake path (pixel, POST /t, /batch, the Segment API, a redis queue
 *   source) through the real postgres sink and back out of the query API over the postgres
 *   store: PostgreSQL cannot hold U+0000 (SQLSTATE 22P05), so Beacon turns it into U+FFFD at
 *   intake (src/event/nulCharacters.ts) and every event is stored, none dead-lettered. A query
 *   that holds U+0000 is a coded 400, not a 500 from the database.
 */

const WRITE_KEY = 'wk_odd_input_5c2e8f1a';
const admin = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });
const require = createRequire(import.meta.url);

type Line = {
  id: string;
  type: string;
  props: Record<string, unknown>;
  meta: { segment?: { call?: string; event?: string } };
};

/** Names Segment takes: non-ASCII first letters, other scripts, `$`/`_` prefixes, spaces, over 64 characters. */
const NAMES = [
  'Äpfel gekauft',
  '$pageleave',
  '_internal_sync',
  '購入完了',
  'ログインしました',
  '注册成功',
  'Заказ оформлен',
  'طلب مكتمل',
  '🎉 Party',
  'Order Completed',
  'Order  Completed',
  'Signed_Up',
  `Long ${'x'.repeat(90)}`,
];

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 'here' };
  for (let i = 1; i < levels; i++) value = { level: value };
  return value;
}

/** The calls every SDK makes: one track per name, one with 12 levels of properties, a page and an identify. */
function calls(run: string, sdk: string) {
  const props = (n: number, extra: Record<string, unknown> = {}) => ({ run, sdk, n, ...extra });
  return {
    tracks: NAMES.map((event, n) => ({ userId: `user-${sdk}`, event, properties: props(n) })),
    deep: { anonymousId: `anon-${sdk}`, event: 'Deep Props', properties: props(100, { tree: nested(12) }) },
    page: { anonymousId: `anon-${sdk}`, name: 'Pricing', properties: props(101) },
    identify: { userId: `user-${sdk}`, traits: props(102, { plan: 'pro' }) },
    count: NAMES.length + 3,
  };
}

async function fileLines(path: string): Promise<Line[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  } catch {
    return [];
  }
}

describe('odd but legitimate input from real clients', () => {
  const run = randomUUID().slice(0, 8);
  const table = `beacon_odd_${run}`;
  const queueKey = `beacon-odd-${run}`;
  const redis = createClient({ url: 'redis://127.0.0.1:6379' });
  let beacon: BeaconProcess;
  let out: string;

  before(async () => {
    await redis.connect();
    beacon = await startBeacon({
      segment: { enabled: true, writeKeys: [WRITE_KEY] },
      sources: [{ name: 'queue', type: 'redis', mode: 'list', key: queueKey, format: 'json', blockMs: 200 }],
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 100, maxWaitMs: 20 },
        },
        {
          name: 'warehouse',
          type: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          user: 'postgres',
          database: 'test',
          table: `public.${table}`,
          createTable: true,
          batch: { maxEvents: 100, maxWaitMs: 20 },
        },
      ],
      store: { type: 'postgres', sink: 'warehouse' },
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    try {
      assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
      await beacon.cleanup();
    } finally {
      await admin.query(`DROP TABLE IF EXISTS public."${table}"`).catch(() => undefined);
      await admin.end();
      await redis.del([queueKey, `${queueKey}:processing:queue`]).catch(() => undefined);
      await redis.quit();
    }
  });

  describe('Segment-family SDKs against the Segment API', () => {
    /** Waits for `sent` events of `sdk`, then checks each is stored once under a valid type with its name kept. */
    async function checkStored(t: TestContext, sdk: string, sent: number): Promise<void> {
      const mine = async () => (await fileLines(out)).filter((e) => e.props.run === run && e.props.sdk === sdk);
      await waitForValue(`${sent} events of ${sdk} in the file sink`, async () =>
        (await mine()).length >= sent ? true : undefined,
      );
      // A repeat would be in the same or the next sink batch: give it time to show up.
      await new Promise((r) => setTimeout(r, 300));
      const stored = await mine();
      t.diagnostic(`${sdk}: ${sent} sent, ${stored.length} stored`);
      assert.deepEqual(
        stored.map((e) => e.props.n).sort((a, b) => Number(a) - Number(b)),
        [...NAMES.keys(), 100, 101, 102],
        'every event stored once',
      );
      const tracks = stored.filter((e) => typeof e.props.n === 'number' && e.props.n < NAMES.length);
      for (const e of stored) assert.match(e.type, /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);
      assert.deepEqual(
        tracks.sort((a, b) => Number(a.props.n) - Number(b.props.n)).map((e) => e.meta.segment?.event ?? e.type),
        NAMES,
        'the original names, in meta.segment.event',
      );
      assert.equal(new Set(tracks.map((e) => e.type)).size, NAMES.length, 'distinct names, distinct types');
      const deep = stored.find((e) => e.props.n === 100)!;
      assert.deepEqual(deep.props.tree, nested(12), '12 levels of properties, as sent');
    }

    it('@segment/analytics-node (v3): every event stored once, none reported failed', async (t) => {
      const analytics = new Analytics({
        writeKey: WRITE_KEY,
        host: beacon.url,
        flushAt: 5,
        flushInterval: 200,
        maxRetries: 2,
      });
      const errors: unknown[] = [];
      analytics.on('error', (err) => errors.push(err));
      const c = calls(run, 'analytics-node-v3');
      for (const track of c.tracks) analytics.track(track);
      analytics.track(c.deep);
      analytics.page(c.page);
      analytics.identify(c.identify);
      await analytics.closeAndFlush({ timeout: 15_000 });
      assert.deepEqual(errors, [], 'the SDK reported no delivery error');
      await checkStored(t, 'analytics-node-v3', c.count);
    });

    it("Segment's legacy analytics-node (v6): every event stored once, every flush without error", async (t) => {
      const Legacy = require('analytics-node') as new (
        key: string,
        options: Record<string, unknown>,
      ) => {
        track(m: object): unknown;
        page(m: object): unknown;
        identify(m: object): unknown;
        flush(callback: (err?: Error) => void): unknown;
      };
      const analytics = new Legacy(WRITE_KEY, { host: beacon.url, flushAt: 4, flushInterval: 200, retryCount: 1 });
      const c = calls(run, 'analytics-node-v6');
      for (const track of c.tracks) analytics.track(track);
      analytics.track(c.deep);
      analytics.page(c.page);
      analytics.identify(c.identify);
      const error = await new Promise<Error | undefined>((resolve) =>
        analytics.flush((err) => resolve(err ?? undefined)),
      );
      assert.equal(error, undefined, `the SDK's flush failed: ${error?.message}`);
      await checkStored(t, 'analytics-node-v6', c.count);
    });

    it('@rudderstack/rudder-sdk-node (gzip, declared as a form): every event stored once, no error reported', async (t) => {
      const Rudder = require('@rudderstack/rudder-sdk-node') as new (
        key: string,
        options: Record<string, unknown>,
      ) => {
        track(m: object): unknown;
        page(m: object): unknown;
        identify(m: object): unknown;
        flush(): Promise<unknown>;
      };
      const errors: unknown[] = [];
      const analytics = new Rudder(WRITE_KEY, {
        dataPlaneUrl: beacon.url,
        flushAt: 4,
        flushInterval: 200,
        retryCount: 1,
        logLevel: 'error',
        errorHandler: (err: unknown) => errors.push(err),
      });
      const c = calls(run, 'rudder-sdk-node');
      for (const track of c.tracks) analytics.track(track);
      analytics.track(c.deep);
      analytics.page(c.page);
      analytics.identify(c.identify);
      await analytics.flush();
      // flush() sends what is queued; batches sent earlier by flushAt report through errorHandler.
      await waitForValue('the queue to empty', async () =>
        (analytics as unknown as { queue: unknown[] }).queue.length === 0 ? true : undefined,
      );
      assert.deepEqual(
        errors.map((e) => String((e as Error).message ?? e)),
        [],
        'the SDK reported no delivery error',
      );
      await checkStored(t, 'rudder-sdk-node', c.count);
    });
  });

  describe('U+0000 in events and queries', () => {
    it('stores a NUL in props and ids from every path as U+FFFD, with the count in meta, and dead-letters nothing', async () => {
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${beacon.url}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
      const pixel = await fetch(`${beacon.url}/t/nul_pixel?run=${run}&note=a%00b&%00key=1`);
      assert.equal(pixel.status, 204);
      const single = await post('/t/nul_single', { run, note: 'x\u0000y' });
      assert.equal(single.status, 204);
      const batch = await post('/batch', [
        {
          type: 'nul_batch',
          id: `${run}-batch\u0000id`,
          partyId: 'party\u0000',
          props: { run, 'k\u0000': 'v\u0000', deep: { list: ['\u0000\u0000'] } },
        },
      ]);
      assert.equal(batch.status, 200);
      const basic = { Authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
      const segment = await post(
        '/v1/track',
        {
          messageId: `${run}-segment\u0000`,
          userId: 'user\u0000',
          event: 'Nul\u0000Event',
          properties: { run, text: '\u0000' },
          context: { note: '\u0000' },
        },
        basic,
      );
      assert.equal(segment.status, 200);
      await redis.lPush(
        queueKey,
        JSON.stringify({ type: 'nul_queue', id: `${run}-queue\u0000`, props: { run, note: 'q\u0000' } }),
      );

      const rows = await waitForValue('the five events in the postgres table', async () => {
        const result = await admin
          .query(
            `SELECT id, type, props, meta FROM public."${table}" WHERE props->>'run' = $1 AND props->>'sdk' IS NULL`,
            [run],
          )
          .catch(() => undefined);
        return result && result.rows.length >= 5
          ? (result.rows as Array<{
              id: string;
              type: string;
              props: Record<string, unknown>;
              meta: Record<string, unknown>;
            }>)
          : undefined;
      });
      const byType = new Map(rows.map((r) => [r.type.startsWith('Nul') ? 'segment' : r.type, r]));
      assert.deepEqual([...byType.keys()].sort(), ['nul_batch', 'nul_pixel', 'nul_queue', 'nul_single', 'segment']);
      const queueRow = byType.get('nul_queue')!;
      assert.deepEqual(
        [queueRow.id, queueRow.props.note, queueRow.meta.nulReplaced, queueRow.meta.source],
        [`${run}-queue\uFFFD`, 'q\uFFFD', 2, 'queue'],
      );
      const pixelRow = byType.get('nul_pixel')!;
      assert.equal(pixelRow.props.note, 'a\uFFFDb');
      assert.equal(pixelRow.props['\uFFFDkey'], '1', 'a key is renamed too');
      assert.equal(pixelRow.meta.nulReplaced, 2);
      assert.equal(byType.get('nul_single')!.props.note, 'x\uFFFDy');
      const batchRow = byType.get('nul_batch')!;
      assert.equal(batchRow.id, `${run}-batch\uFFFDid`);
      assert.deepEqual(batchRow.props, { run, 'k\uFFFD': 'v\uFFFD', deep: { list: ['\uFFFD\uFFFD'] } });
      assert.equal(batchRow.meta.nulReplaced, 6, 'one each in id, partyId, a key and a value, two in a nested list');
      const segmentRow = byType.get('segment')!;
      assert.equal(segmentRow.id, `${run}-segment\uFFFD`);
      assert.deepEqual(segmentRow.props, { run, text: '\uFFFD' });
      assert.equal(
        (segmentRow.meta.segment as { event?: string }).event,
        'Nul\uFFFDEvent',
        'the original name, as stored',
      );
      assert.equal(segmentRow.meta.userId, 'user\uFFFD');
      assert.equal((segmentRow.meta.context as { note?: string }).note, '\uFFFD');

      const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
      assert.doesNotMatch(
        metrics,
        /beacon_sink_dead_lettered_total\{[^}]*sink="warehouse"[^}]*\} [1-9]/,
        'nothing dead-lettered',
      );
    });

    it('answers a query that holds U+0000 with a coded 400, in a query parameter or in the path', async () => {
      for (const path of [
        '/api/v1/query/events?type=nul%00pixel',
        `/api/v1/query/events?where=run:${run}%00`,
        '/api/v1/query/events/abc%00def',
        '/api/v1/query/props/%00/top?from=2026-01-01&to=2026-01-02',
      ]) {
        const answer = await fetch(`${beacon.url}${path}`);
        const body = (await answer.json()) as { code?: string; message?: string };
        assert.equal(answer.status, 400, `${path}: ${JSON.stringify(body)}`);
        assert.equal(body.code, 'BEACON_E_BAD_QUERY');
        assert.match(body.message ?? '', /U\+0000.*U\+FFFD/);
      }
      const fine = await fetch(`${beacon.url}/api/v1/query/events?type=nul_pixel`);
      assert.equal(fine.status, 200, 'the same query without U+0000 is answered');
    });
  });
});
