import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { freePort } from '../support/freePort.js';
import { startLoad } from '../support/loadClient.js';
import { waitUntil } from '../support/waitFor.js';
import { LONG, randomBetween, sleep, tempDataDir, waitForSink, withOutput } from './helpers.js';

/**
 * kill -9 of the whole process while its delivery thread is mid-batch. An http sink's
 * receiver holds every request it gets without answering, so the delivery thread sits in
 * `deliver()` with a batch in flight (its cursor not committed past it); Beacon is killed with
 * SIGKILL under load, the receiver is told to answer, and Beacon starts again on the same data
 * dir. Every event that was answered 2xx must reach the receiver in a request it answered 200:
 * the batch that was in flight at the kill is delivered again, never skipped.
 */
const ROUNDS = LONG ? 12 : 2;

/** An http sink receiver that can hold requests unanswered (the sink mid-batch) or answer 200 and keep their events. */
async function startHoldingReceiver(): Promise<{
  url: string;
  delivered: Set<string>;
  held: () => number;
  hold(on: boolean): void;
  close(): Promise<void>;
}> {
  const port = await freePort();
  const delivered = new Set<string>();
  let holding = true;
  let heldCount = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (holding) {
        // Never answered: the socket is cut when Beacon dies, so these events were not delivered.
        heldCount++;
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8').trim();
      const events = text.startsWith('[')
        ? (JSON.parse(text) as { id: string }[])
        : text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { id: string });
      for (const e of events) delivered.add(e.id);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    delivered,
    held: () => heldCount,
    hold(on) {
      holding = on;
      if (!on) heldCount = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('kill -9 while the delivery thread is mid-batch', { timeout: (LONG ? 900 : 180) * 1000 }, () => {
  let beacon: BeaconProcess | undefined;
  let receiver: Awaited<ReturnType<typeof startHoldingReceiver>>;
  let dataDir: string;

  before(async () => {
    receiver = await startHoldingReceiver();
    dataDir = await tempDataDir();
    beacon = await startBeacon(
      {
        server: { workers: 1, deliveryThread: 'on' },
        store: { type: 'none' },
        dispatch: { maxFailoverDuration: '2s', initialBackoff: '50ms' },
        // A long timeout: the held request keeps the batch in flight until the kill.
        sinks: [
          {
            name: 'hook',
            type: 'http',
            url: receiver.url,
            format: 'json',
            batch: { maxEvents: 200, maxWaitMs: 20 },
            timeoutMs: 60_000,
          },
        ],
      },
      { dataDir },
    );
  });

  after(async () => {
    await beacon?.kill9().catch(() => undefined);
    await receiver?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('delivers every acknowledged event after the restart, the batch in flight at the kill included', async () => {
    const b = beacon!;
    const acked = new Set<string>();
    let heldAtKill = 0;
    for (let round = 0; round < ROUNDS; round++) {
      receiver.hold(true);
      const load = startLoad({
        url: b.url,
        connections: 4,
        batchSize: 20,
        maxEvents: 20_000,
        maxDurationMs: 5000,
        idPrefix: `mid${round}`,
        requestTimeoutMs: 3000,
      });
      await waitUntil('the http sink holding a batch in flight', () => receiver.held() > 0, 30_000, 20);
      await sleep(randomBetween(50, 300));
      heldAtKill += receiver.held();
      await b.kill9();
      load.stop();
      const result = await load.done;
      for (const id of result.acked) acked.add(id);
      receiver.hold(false);
      await b.restart();
    }
    assert.ok(acked.size > 0, withOutput(b, 'the load got no event acknowledged at all'));
    assert.ok(heldAtKill >= ROUNDS, 'each kill came while a request was held (the sink mid-batch)');

    await waitForSink(b, 'hook', (s) => s.lagEvents === 0 && s.state !== 'delivering', 90_000, 'lag 0');
    const missing = [...acked].filter((id) => !receiver.delivered.has(id));
    console.log(
      `kill -9 mid-batch: rounds=${ROUNDS} acked=${acked.size} delivered=${receiver.delivered.size} held-at-kill=${heldAtKill}`,
    );
    assert.deepEqual(
      missing.slice(0, 20),
      [],
      withOutput(b, `${missing.length} of ${acked.size} acknowledged events never reached the receiver`),
    );
  });
});
