import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PostHog } from 'posthog-node';
import { Umami } from '@umami/node';
import { Command } from 'commander';
import { registerStatus } from '../../src/cli/commands/status.js';
import { startBeacon, stopAndRemove, type BeaconProcess } from '../support/beaconProcess.js';
import { sinkLines } from '../support/sinkFile.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * The real posthog-node and @umami/node clients, unmodified, pointed at Beacon as a real
 * process (host changed, nothing else), writing to a file sink; and the GA4 Measurement
 * Protocol with real HTTP requests in its documented wire format (Google ships no Node
 * client). Every call kind arrives mapped as docs/protocols.md says; then each client keeps
 * sending while Beacon is killed with SIGKILL and started again, and every event is stored
 * once. The figures of the crash run are printed (`sent / stored / duplicates`).
 */

const KEY = 'phc_beacon_integration_key';
const WEBSITE = '0f6a5bd9-94f4-4c4c-9c35-3c1f5e0e7a11';
const MEASUREMENT = 'G-BEACON01';
const SECRET = 'mp-secret-4711';
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';

type Line = {
  id: string;
  type: string;
  ts: number;
  partyId?: string;
  ip?: string;
  ua?: string;
  url?: string;
  props: Record<string, unknown>;
  meta: Record<string, unknown>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test's marker: in props, or in `$set` / `$group_set` where posthog-node puts identify and group properties. */
function seqOf(e: Line): string | undefined {
  const nested = (e.props.$set ?? e.props.$group_set) as { seq?: unknown } | undefined;
  const seq = e.props.seq ?? nested?.seq;
  return typeof seq === 'string' ? seq : undefined;
}

describe('compatible protocols with their real clients', () => {
  let beacon: BeaconProcess;
  let out: string;
  const run = `r${Date.now().toString(36)}`;

  before(async () => {
    beacon = await startBeacon({
      posthog: { enabled: true, apiKeys: [KEY] },
      umami: { enabled: true, websites: [WEBSITE] },
      plausible: { enabled: true },
      ga4: { enabled: true, streams: [{ measurementId: MEASUREMENT, apiSecret: SECRET }] },
      // Drop repeats, so a client's retry of a batch Beacon already stored is stored once.
      enrich: { duplicates: { action: 'drop' } },
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 200, maxWaitMs: 20 },
        },
      ],
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(() => stopAndRemove(beacon));

  const lines = () => sinkLines<Line>(out);

  /** Waits until `count` events whose props.seq starts with `prefix` are in the file. */
  function arrived(prefix: string, count: number, timeoutMs = 60_000): Promise<Line[]> {
    return waitForValue(
      `${count} events ${prefix}* in the file sink`,
      async () => {
        const found = (await lines()).filter((e) => seqOf(e)?.startsWith(prefix));
        return new Set(found.map(seqOf)).size >= count ? found : undefined;
      },
      timeoutMs,
    );
  }

  it('posthog-node: capture, groups, identify, alias, groupIdentify and captureImmediate, batched and one by one', async () => {
    for (const flushAt of [20, 1]) {
      const posthog = new PostHog(KEY, { host: beacon.url, flushAt, flushInterval: 50 });
      const errors: unknown[] = [];
      posthog.on('error', (err) => errors.push(err));
      const seq = (call: string) => `${run}-ph${flushAt}-${call}`;
      posthog.capture({
        distinctId: 'user-1',
        event: 'order completed',
        properties: { seq: seq('capture'), total: 30 },
      });
      posthog.capture({
        distinctId: 'user-1',
        event: 'seat added',
        groups: { company: 'acme' },
        properties: { seq: seq('groups') },
      });
      posthog.identify({ distinctId: 'user-1', properties: { seq: seq('identify'), email: 'ann@example.com' } });
      posthog.alias({ distinctId: 'user-1', alias: `anon-${flushAt}` });
      posthog.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { seq: seq('group'), plan: 'pro' } });
      await posthog.captureImmediate({
        distinctId: 'user-1',
        event: 'immediate',
        properties: { seq: seq('immediate') },
      });
      assert.equal(
        await posthog.getFeatureFlag('new-checkout', 'user-1'),
        undefined,
        'no flags: the client falls back to its default',
      );
      await posthog.shutdown(15_000);
      assert.deepEqual(errors, [], 'the client reported no delivery error');

      const found = await arrived(`${run}-ph${flushAt}-`, 5);
      const by = (call: string) => found.find((e) => seqOf(e) === seq(call))!;
      const capture = by('capture');
      assert.match(capture.type, /^order_completed\.[0-9a-f]{10}$/);
      assert.equal(capture.partyId, 'user-1');
      assert.equal((capture.meta.posthog as { event: string; lib: string }).event, 'order completed');
      assert.equal((capture.meta.posthog as { lib: string }).lib, 'posthog-node');
      assert.equal(capture.props.total, 30);
      assert.match(capture.id, /^[0-9a-f-]{36}$/, "the SDK's uuid is the event id");
      assert.deepEqual(by('groups').props.$groups, { company: 'acme' });
      assert.equal((by('identify').meta.posthog as { event: string }).event, '$identify');
      assert.equal((by('identify').props.$set as { email: string }).email, 'ann@example.com');
      assert.equal((by('group').meta.posthog as { event: string }).event, '$groupidentify');
      assert.equal((by('immediate').meta.posthog as { event: string }).event, 'immediate');
      const alias = (await lines()).find(
        (e) =>
          (e.meta.posthog as { event?: string } | undefined)?.event === '$create_alias' &&
          e.props.alias === `anon-${flushAt}`,
      );
      assert.ok(alias, 'the alias call arrived as $create_alias');
    }
  });

  it('@umami/node: track by name, track a page view, identify', async () => {
    const umami = new Umami({ hostUrl: beacon.url, websiteId: WEBSITE, userAgent: UA });
    const answers = [
      await umami.track('signup', { seq: `${run}-um-track`, plan: 'pro' }),
      await umami.track({
        website: WEBSITE,
        url: '/pricing',
        title: 'Pricing',
        hostname: 'shop.example',
        referrer: 'https://search.example/',
        data: { seq: `${run}-um-page` },
      } as never),
      await umami.identify({ seq: `${run}-um-identify`, email: 'ann@example.com' }),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    const found = await arrived(`${run}-um-`, 3);
    const by = (call: string) => found.find((e) => e.props.seq === `${run}-um-${call}`)!;
    assert.equal(by('track').type, 'signup');
    assert.equal(by('track').ua, UA, "the client's User-Agent header is the visitor's UA, as Umami reads it");
    assert.equal(by('page').type, 'pageview');
    assert.equal(by('page').url, '/pricing');
    assert.equal((by('page').meta.umami as { title: string }).title, 'Pricing');
    assert.equal(by('identify').type, 'identify');
    for (const e of found) assert.equal(e.meta.source, 'umami');
  });

  it('GA4 Measurement Protocol: real requests in the documented wire format, and the validation server', async () => {
    const collect = await fetch(`${beacon.url}/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`, {
      method: 'POST',
      body: JSON.stringify({
        client_id: '555.777',
        user_id: 'u-9',
        ip_override: '8.8.8.8',
        user_agent: UA,
        events: [
          {
            name: 'purchase',
            params: { seq: `${run}-ga4-purchase`, value: 12.5, currency: 'EUR', session_id: '1750000000' },
          },
          { name: 'Sign Up!', params: { seq: `${run}-ga4-odd` } },
        ],
      }),
    });
    assert.equal(collect.status, 204);
    const found = await arrived(`${run}-ga4-`, 2);
    const purchase = found.find((e) => e.type === 'purchase')!;
    assert.equal(purchase.partyId, '555.777');
    assert.equal((purchase.meta.ga4 as { stream: string }).stream, MEASUREMENT);
    assert.equal(
      (purchase.meta.geo as { country?: string } | undefined)?.country,
      'US',
      'ip_override is the client address',
    );
    assert.equal((purchase.meta.ua as { browser?: string } | undefined)?.browser, 'Firefox', 'user_agent is the UA');
    assert.ok(
      found.some((e) => (e.meta.ga4 as { event: string }).event === 'Sign Up!'),
      'a name GA4 would not take is still kept',
    );

    const debug = await fetch(`${beacon.url}/debug/mp/collect?measurement_id=${MEASUREMENT}&api_secret=${SECRET}`, {
      method: 'POST',
      body: JSON.stringify({ client_id: '1.2', events: [{ name: '_badEventName', params: {} }] }),
    });
    assert.equal(debug.status, 200);
    assert.deepEqual(await debug.json(), {
      validationMessages: [
        {
          fieldPath: 'events',
          description: 'Event at index: [0] has name [_badEventName] which is reserved.',
          validationCode: 'NAME_RESERVED',
        },
      ],
    });
  });

  it('beacon status lists the protocols that are on, and /metrics counts received and rejected events per protocol', async () => {
    const status = (await (await fetch(`${beacon.url}/api/v1/status`)).json()) as { protocols: string[] };
    assert.deepEqual(status.protocols, ['posthog', 'plausible', 'umami', 'ga4']);
    // `beacon status` run in this process (spawning the CLI costs seconds of start-up).
    const program = new Command();
    registerStatus(program);
    const printed: string[] = [];
    const log = console.log;
    console.log = (...parts: unknown[]) => void printed.push(parts.join(' '));
    try {
      await program.parseAsync(['status', '--url', beacon.url], { from: 'user' });
    } finally {
      console.log = log;
    }
    assert.match(printed.join('\n'), /^Protocols on: posthog, plausible, umami, ga4$/m);
    const plausible = await fetch(`${beacon.url}/api/event`, {
      method: 'POST',
      body: JSON.stringify({ n: 'pageview', u: 'https://shop.example/' }),
    });
    assert.equal(plausible.status, 202);
    const wrongSecret = await fetch(`${beacon.url}/mp/collect?measurement_id=${MEASUREMENT}&api_secret=wrong`, {
      method: 'POST',
      body: '{"client_id":"1","events":[]}',
    });
    assert.equal(wrongSecret.status, 401);
    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    for (const source of ['plausible', 'ga4'])
      assert.match(metrics, new RegExp(`beacon_events_received_total\\{source="${source}"\\} [1-9]`));
    assert.match(metrics, /beacon_events_rejected_total\{source="ga4",code="BEACON_E_GA_UNAUTHORIZED"\} 1/);
  });

  it('stores every event once when Beacon is killed with SIGKILL mid-stream and started again', async () => {
    const report: string[] = [];
    // posthog-node: batches in flight when Beacon dies are retried by the client (same uuids).
    const posthog = new PostHog(KEY, {
      host: beacon.url,
      flushAt: 10,
      flushInterval: 20,
      fetchRetryCount: 400,
      fetchRetryDelay: 250,
      requestTimeout: 5000,
    });
    const posthogErrors: string[] = [];
    posthog.on('error', (err: Error) => posthogErrors.push(String(err?.message ?? err)));
    const umami = new Umami({ hostUrl: beacon.url, websiteId: WEBSITE, userAgent: UA });
    const PH = 300;
    const UM = 60;
    const umamiPending: number[] = [];
    const umamiSend = async (i: number) => {
      try {
        const res = await umami.track('crash', { seq: `${run}-cu-${i}` });
        if (res.status !== 200) umamiPending.push(i);
      } catch {
        umamiPending.push(i);
      }
    };
    const inFlight: Array<Promise<void>> = [];
    for (let i = 0; i < PH; i++) {
      posthog.capture({ distinctId: 'crash-user', event: 'crash event', properties: { seq: `${run}-cp-${i}` } });
      if (i % 5 === 0 && i / 5 < UM) inFlight.push(umamiSend(i / 5));
      if (i % 10 === 0) await sleep(5);
      if (i === 150) await beacon.kill9();
    }
    await Promise.all(inFlight);
    await beacon.restart();
    // @umami/node does not retry: resend what was not answered 200, as an application would.
    for (const i of umamiPending.splice(0)) await umamiSend(i);
    await posthog.shutdown(60_000);
    assert.deepEqual(umamiPending, [], 'every umami resend was answered');

    for (const [name, prefix, sent] of [
      ['posthog-node', `${run}-cp-`, PH],
      ['@umami/node', `${run}-cu-`, UM],
    ] as const) {
      const found = await arrived(prefix, sent, 20_000).catch(async () =>
        (await lines()).filter((e) => seqOf(e)?.startsWith(prefix)),
      );
      // The file sink is at-least-once after a crash (it may write a record again); a record
      // written twice has the same receive time. A second *stored* copy has its own.
      const stored = new Map<string, Set<number>>();
      for (const e of found) stored.set(seqOf(e)!, (stored.get(seqOf(e)!) ?? new Set()).add(e.ts));
      const duplicates = [...stored.values()].reduce((n, copies) => n + copies.size - 1, 0);
      report.push(
        `${name}: sent ${sent} / stored ${stored.size} / duplicates ${duplicates} (file lines ${found.length})`,
      );
      assert.equal(
        stored.size,
        sent,
        `${name}: every event stored (client errors: ${posthogErrors.slice(0, 3).join(' | ')}; beacon: ${beacon.output().slice(-2000)})`,
      );
      if (name === 'posthog-node') assert.equal(duplicates, 0, `${name}: retries are deduplicated on the event uuid`);
    }
    console.log(`crash run: ${report.join('; ')}`);
  });
});
