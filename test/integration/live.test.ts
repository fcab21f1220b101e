import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue as waitFor } from '../support/waitFor.js';

/** `/live` against Beacon as a real process, in one process and with two collector processes. */

interface LiveMessage {
  kind: string;
  event?: { type: string; props: Record<string, unknown>; meta: Record<string, unknown> };
  count?: number;
}

interface Viewer {
  ws: WebSocket;
  messages: LiveMessage[];
  events(): NonNullable<LiveMessage['event']>[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a viewer and resolves once Beacon says it is following (`{"kind":"ready"}`). */
async function openViewer(base: string, query = ''): Promise<Viewer> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/live${query ? `?${query}` : ''}`);
  const messages: LiveMessage[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as LiveMessage;
      messages.push(m);
      if (m.kind === 'ready') resolve();
    });
    ws.on('error', reject);
    void closed.then((c) => reject(new Error(`closed before ready: ${c.code} ${c.reason}`)));
  });
  await ready;
  return { ws, messages, closed, events: () => messages.flatMap((m) => (m.kind === 'event' ? [m.event!] : [])) };
}

/** A WebSocket client that completes the handshake and then never reads another byte. */
async function stuckViewer(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(
    'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
  assert.match(head, /^HTTP\/1\.1 101/);
  socket.pause();
  return socket;
}

function droppedNotices(v: Viewer): number {
  return v.messages.reduce((n, m) => n + (m.kind === 'dropped' ? m.count! : 0), 0);
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** RSS of Beacon's whole process group (the primary and its collectors), in MiB. */
function rssMiB(pid: number): number {
  const pids = execFileSync('pgrep', ['-g', String(pid)])
    .toString()
    .trim()
    .split('\n')
    .map(Number);
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

const PAD = 'x'.repeat(1000);
/** Node's own user agent counts as a bot; these requests come from a "browser". */
const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' };

/** Sends `total` ~1.2 kB events through /batch, 200 a request, 4 requests at a time; resolves with the ms taken. */
async function intake(base: string, type: string, total: number): Promise<number> {
  const started = performance.now();
  const batches = Array.from({ length: total / 200 }, (_, b) =>
    JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ type, props: { n: b * 200 + i, pad: PAD } }))),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const body = batches[next++]!;
        const res = await fetch(`${base}/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 200, await res.text());
      }
    }),
  );
  return performance.now() - started;
}

for (const workers of [1, 2]) {
  describe(`GET /live (${workers === 1 ? 'one process' : 'two collector processes'})`, () => {
    let beacon: BeaconProcess;

    before(async () => {
      beacon = await startBeacon({ server: { workers }, live: { maxBehind: '2s' } });
    });
    after(async () => {
      assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
      await beacon.cleanup();
    });

    it('shows events sent with plain requests within a second', async () => {
      const viewer = await openViewer(beacon.url);
      const sent = Date.now();
      await fetch(`${beacon.url}/t/seen?x=1`);
      await fetch(`${beacon.url}/t/seen`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"x":2}',
      });
      // Waits longer than the second, so a slow showing fails with its figure rather than as a
      // bare timeout.
      const events = await waitFor(
        'both events',
        () => (viewer.events().length >= 2 ? viewer.events() : undefined),
        10_000,
      );
      const seenAfter = Date.now() - sent;
      assert.ok(seenAfter < 1000, `both events showed after ${seenAfter} ms`);
      assert.deepEqual(events.map((e) => [e.type, e.props.x]).sort(), [
        ['seen', '1'],
        ['seen', 2],
      ]);
      viewer.ws.close();
    });

    it('filters by type, props and the bot flag on the server', async () => {
      const pro = await openViewer(beacon.url, 'type=signup&where=plan=pro');
      const bots = await openViewer(beacon.url, 'type=signup&bot=true');
      await fetch(`${beacon.url}/t/signup?plan=pro`, { headers: BROWSER });
      await fetch(`${beacon.url}/t/signup?plan=free`, { headers: BROWSER });
      await fetch(`${beacon.url}/t/other?plan=pro`, { headers: BROWSER });
      await fetch(`${beacon.url}/t/signup?plan=bot`, {
        headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' },
      });
      await fetch(`${beacon.url}/t/signup?plan=pro&last=1`, { headers: BROWSER });
      // With two collector processes the two pro signups are appended by either one: the last
      // can reach the viewer before the first, so wait for both rather than for the last.
      await waitFor(
        () => `both pro signups (seen so far: ${JSON.stringify(pro.events().map((e) => e.props))})`,
        () => (pro.events().some((e) => e.props.last === '1') && pro.events().length >= 2 ? true : undefined),
        10_000,
      );
      assert.deepEqual(
        pro.events().map((e) => e.props.plan),
        ['pro', 'pro'],
      );
      const bot = await waitFor('the bot signup', () => bots.events()[0], 10_000);
      assert.equal(bot.props.plan, 'bot');
      assert.equal(bots.events().length, 1);
      pro.ws.close();
      bots.ws.close();
    });

    it('closes a viewer whose query it does not understand with 1008 and the reason', async () => {
      const ws = new WebSocket(`${beacon.url.replace('http', 'ws')}/live?bot=perhaps`);
      const { code, reason } = await new Promise<{ code: number; reason: string }>((r) =>
        ws.on('close', (c, why) => r({ code: c, reason: why.toString() })),
      );
      assert.equal(code, 1008);
      assert.match(reason, /bot must be true or false/);
    });

    it('keeps intake and a normal viewer at full speed while a viewer never reads, then disconnects it', async (t) => {
      const total = 12_000;
      // Reference: intake with one normal viewer.
      const reference = await openViewer(beacon.url, 'type=ref');
      const referenceMs = await intake(beacon.url, 'ref', total);
      await waitFor(
        () =>
          `the reference viewer to get everything (has ${reference.events().length}, ${droppedNotices(reference)} dropped)`,
        () => (reference.events().length === total ? true : undefined),
        15_000,
      );
      reference.ws.close();
      const rssBefore = rssMiB(beacon.child.pid!);

      // Now with a viewer that never reads beside the normal one.
      const stuck = await stuckViewer(beacon.port);
      const normal = await openViewer(beacon.url, 'type=load');
      await waitFor('both viewers counted', async () =>
        (await metric(beacon.url, 'beacon_live_viewers')) === 2 ? true : undefined,
      );
      let rssPeak = 0;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(beacon.child.pid!))), 100);
      const withStuckMs = await intake(beacon.url, 'load', total);
      await waitFor(
        () => `the normal viewer to get everything (has ${normal.events().length}, ${droppedNotices(normal)} dropped)`,
        () => (normal.events().length === total ? true : undefined),
        15_000,
      );
      assert.deepEqual(
        normal.messages.filter((m) => m.kind === 'dropped'),
        [],
        'the normal viewer lost nothing',
      );
      assert.equal(new Set(normal.events().map((e) => e.props.n)).size, total, 'every event, once');

      // The stuck viewer falls behind, its events are dropped, and after live.maxBehind (2 s) it is cut.
      await waitFor(
        'the stuck viewer to be disconnected',
        async () => ((await metric(beacon.url, 'beacon_live_viewers')) === 1 ? true : undefined),
        15_000,
      );
      clearInterval(sampler);
      const dropped = await metric(beacon.url, 'beacon_live_dropped_total');
      assert.ok(dropped > 0, 'the stuck viewer had events dropped');
      stuck.destroy();

      t.diagnostic(
        `intake of ${total} events: ${referenceMs.toFixed(0)} ms with a normal viewer, ${withStuckMs.toFixed(0)} ms with a stuck one beside it`,
      );
      t.diagnostic(
        `RSS: ${rssBefore.toFixed(0)} MiB before, peak ${rssPeak.toFixed(0)} MiB with the stuck viewer; dropped ${dropped}`,
      );
      assert.ok(withStuckMs < referenceMs * 2 + 1000, `intake slowed from ${referenceMs} to ${withStuckMs} ms`);
      // ~15 MB went to the stuck viewer; what Beacon holds for it is bounded by live.viewerMaxBytes + socketMaxBytes.
      assert.ok(rssPeak < rssBefore + 100, `RSS grew from ${rssBefore} to ${rssPeak} MiB`);
      normal.ws.close();
    });
  });
}
