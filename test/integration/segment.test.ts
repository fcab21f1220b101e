import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { compatibleType } from '../../src/event/compatibleType.js';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * The real @segment/analytics-node client, pointed at Beacon as a real process (host changed,
 * nothing else), writing to a file sink: the Segment calls arrive mapped as docs/segment.md
 * says, a wrong write key is refused, and the SDK's own retry of a batch whose answer was lost
 * is stored once.
 */

const WRITE_KEY = 'wk_beacon_test_7f3a9c2e';

type Line = {
  id: string;
  type: string;
  ts: number;
  clientTs?: number;
  partyId?: string;
  ip?: string;
  props: Record<string, unknown>;
  meta: Record<string, unknown>;
};

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

async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * A TCP relay in front of Beacon that, once armed, lets one request through and then cuts the
 * connection as Beacon's answer comes back, as a network failure after the server committed
 * would: the client never learns that its batch was stored.
 */
class AnswerDropper {
  private server: Server | undefined;
  private armed = false;
  private readonly sockets = new Set<Socket>();
  connections = 0;
  dropped = 0;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<number> {
    this.server = createServer((client: Socket) => {
      this.connections++;
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      }
      const cutBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cutBoth);
      upstream.on('error', cutBoth);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (this.armed) {
          this.armed = false;
          this.dropped++;
          cutBoth();
          return;
        }
        client.write(chunk);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  arm(): void {
    this.armed = true;
  }

  /** Cuts the connections still open (keep-alive ones would hold close() for a minute) and closes. */
  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('the Segment API with the real analytics-node client', () => {
  let beacon: BeaconProcess;
  let out: string;
  const run = randomUUID().slice(0, 8);

  before(async () => {
    beacon = await startBeacon({
      segment: { enabled: true, writeKeys: [WRITE_KEY] },
      // Drop repeats, so a retried batch is stored exactly once (docs/enrichment.md#duplicates).
      enrich: { duplicates: { action: 'drop' } },
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 100, maxWaitMs: 20 },
        },
      ],
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('delivers track, page, screen, identify, group and alias calls mapped as documented', async () => {
    const analytics = new Analytics({
      writeKey: WRITE_KEY,
      host: beacon.url,
      flushAt: 50,
      flushInterval: 200,
      maxRetries: 2,
    });
    const errors: unknown[] = [];
    analytics.on('error', (err) => errors.push(err));
    const id = (call: string) => `${run}-${call}`;
    const at = new Date('2025-06-15T12:00:00.000Z');
    analytics.track({
      messageId: id('track'),
      userId: 'user-42',
      anonymousId: 'anon-7',
      event: 'Order Completed',
      properties: { total: 30, currency: 'EUR' },
      timestamp: at,
      context: {
        ip: '203.0.113.77',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
        page: { url: 'https://shop.example/thanks' },
      },
    });
    analytics.page({
      messageId: id('page'),
      anonymousId: 'anon-7',
      category: 'Docs',
      name: 'Pricing',
      properties: { path: '/pricing' },
    });
    analytics.screen({ messageId: id('screen'), userId: 'user-42', name: 'Settings', properties: { tab: 'privacy' } });
    analytics.identify({
      messageId: id('identify'),
      userId: 'user-42',
      traits: { email: 'ann@example.com', plan: 'pro' },
    });
    analytics.group({ messageId: id('group'), userId: 'user-42', groupId: 'acme', traits: { employees: 40 } });
    analytics.alias({ messageId: id('alias'), userId: 'user-42', previousId: 'anon-7' });
    await analytics.closeAndFlush({ timeout: 15_000 });
    assert.deepEqual(errors, [], 'the SDK reported no delivery error');

    const lines = await waitForValue('the six Segment calls in the file sink', async () => {
      const found = (await fileLines(out)).filter((e) => e.id.startsWith(run));
      return found.length >= 6 ? found : undefined;
    });
    const byCall = new Map(lines.map((e) => [e.id.slice(run.length + 1), e]));

    const track = byCall.get('track')!;
    assert.equal(track.type, compatibleType('Order Completed'));
    assert.deepEqual(track.props, { total: 30, currency: 'EUR' });
    assert.equal(track.partyId, 'anon-7');
    assert.equal(track.clientTs, at.getTime());
    assert.equal(track.ip, '203.0.113.0', 'context.ip is the client address, anonymised like any other');
    assert.deepEqual(track.meta.segment, { call: 'track', event: 'Order Completed' });
    assert.equal(track.meta.userId, 'user-42');
    assert.equal(
      (track.meta.ua as { browser?: string } | undefined)?.browser,
      'Firefox',
      'context.userAgent is enriched as the event ua',
    );
    assert.equal((track as { url?: string }).url, 'https://shop.example/thanks');
    assert.equal(
      ((track.meta.context as { library?: { name?: string } }).library ?? {}).name,
      '@segment/analytics-node',
    );
    assert.equal(JSON.stringify(track).includes('203.0.113.77'), false, 'the raw context.ip is not kept anywhere');

    assert.deepEqual(
      [byCall.get('page')!.type, byCall.get('page')!.props],
      ['page', { path: '/pricing', name: 'Pricing', category: 'Docs' }],
    );
    assert.deepEqual(
      [byCall.get('screen')!.type, byCall.get('screen')!.props],
      ['screen', { tab: 'privacy', name: 'Settings' }],
    );
    assert.deepEqual(
      [byCall.get('identify')!.type, byCall.get('identify')!.props, byCall.get('identify')!.partyId],
      ['identify', { email: 'ann@example.com', plan: 'pro' }, 'user-42'],
    );
    assert.deepEqual(
      [byCall.get('group')!.type, byCall.get('group')!.props],
      ['group', { employees: 40, groupId: 'acme' }],
    );
    assert.deepEqual([byCall.get('alias')!.type, byCall.get('alias')!.props], ['alias', { previousId: 'anon-7' }]);
    for (const event of lines) assert.equal(event.meta.source, 'segment');
  });

  it('refuses a client with a wrong write key: the SDK reports the 401 and nothing is stored', async () => {
    const analytics = new Analytics({ writeKey: 'wk_not_configured_123', host: beacon.url, flushAt: 1, maxRetries: 2 });
    const errors: Array<{ reason?: unknown }> = [];
    analytics.on('error', (err) => errors.push(err as { reason?: unknown }));
    const refusedBefore = await metric(
      beacon.url,
      /beacon_events_rejected_total\{source="segment",code="BEACON_E_SEGMENT_UNAUTHORIZED"\} (\d+)/,
    );
    analytics.track({ messageId: `${run}-wrong-key`, userId: 'u', event: 'Should Not Arrive' });
    await analytics.closeAndFlush({ timeout: 15_000 });
    assert.equal(errors.length, 1, 'the SDK saw the refusal');
    assert.match(String((errors[0]!.reason as Error | undefined)?.message), /401/);
    const refusedAfter = await metric(
      beacon.url,
      /beacon_events_rejected_total\{source="segment",code="BEACON_E_SEGMENT_UNAUTHORIZED"\} (\d+)/,
    );
    assert.equal(refusedAfter - refusedBefore, 1, 'one request refused, and not retried (401 is final for the SDK)');
    // Let a sink batch pass: had it been stored, it would be in the file by now.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      (await fileLines(out)).some((e) => e.id === `${run}-wrong-key`),
      false,
    );
  });

  it('stores an SDK retry with the same messageId once, when the first answer was lost', async () => {
    const dropper = new AnswerDropper(beacon.port);
    await dropper.start();
    try {
      const analytics = new Analytics({
        writeKey: WRITE_KEY,
        host: `http://127.0.0.1:${dropper.port}`,
        flushAt: 1,
        maxRetries: 3,
      });
      const errors: unknown[] = [];
      analytics.on('error', (err) => errors.push(err));
      const requests: number[] = [];
      analytics.on('http_request', () => requests.push(Date.now()));
      const droppedBefore = await metric(
        beacon.url,
        /beacon_events_rejected_total\{source="segment",code="BEACON_E_DUPLICATE_DROPPED"\} (\d+)/,
      );
      dropper.arm();
      analytics.track({
        messageId: `${run}-retried`,
        userId: 'user-42',
        event: 'Checkout Started',
        properties: { cart: 3 },
      });
      await analytics.closeAndFlush({ timeout: 20_000 });
      assert.deepEqual(errors, [], 'the retry succeeded');
      assert.equal(dropper.dropped, 1, 'the first answer was cut');
      assert.equal(requests.length, 2, 'the SDK sent the batch twice');

      const stored = await waitForValue('the retried event in the file', async () => {
        const found = (await fileLines(out)).filter((e) => e.id === `${run}-retried`);
        return found.length > 0 ? found : undefined;
      });
      // A second copy would be in the same or the next sink batch; give it time to show up.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await fileLines(out)).filter((e) => e.id === `${run}-retried`).length, 1, 'stored once');
      assert.deepEqual(stored[0]!.props, { cart: 3 });
      const droppedAfter = await metric(
        beacon.url,
        /beacon_events_rejected_total\{source="segment",code="BEACON_E_DUPLICATE_DROPPED"\} (\d+)/,
      );
      assert.equal(droppedAfter - droppedBefore, 1, 'the repeat was recognised and dropped');
      assert.ok(
        (await metric(beacon.url, /beacon_enrich_duplicates_total\{tier="id"\} (\d+)/)) >= 1,
        'by the id memory (messageId)',
      );
    } finally {
      await dropper.stop();
    }
  });
});
