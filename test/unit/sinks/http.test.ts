import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpConfigSchema } from '../../../src/sinks/http/index.js';
import { HttpSink } from '../../../src/sinks/http/httpSink.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { SinkError } from '../../../src/sinks/sink.js';
import { systemClock } from '../../../src/ops/clock.js';
import { runAttempt } from '../../../src/dispatch/deadline.js';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { parseSinkConfig } from '../../../src/config/parseSinkConfig.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { waitUntil } from '../../support/waitFor.js';

let answer: (res: ServerResponse) => void = (res) => res.end();
let lastHeaders: Record<string, unknown> = {};
const server = createServer((req, res) => {
  lastHeaders = req.headers;
  req.resume();
  req.on('end', () => answer(res));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

const event = { id: 'a', type: 't', ts: 1, props: {}, meta: {} };

async function attempt(
  extra: Record<string, unknown> = {},
  url = `http://127.0.0.1:${port}/in`,
): Promise<SinkError | undefined> {
  const sink = new HttpSink(httpConfigSchema.parse({ name: 'h', type: 'http', url, ...extra }), { clock: systemClock });
  await sink.open();
  try {
    await sink.deliver([event, event]);
    return undefined;
  } catch (err) {
    return err as SinkError;
  } finally {
    await sink.close();
  }
}

describe('http sink answers', () => {
  test('treats a 2xx as delivered and sends the configured headers', async () => {
    answer = (res) => res.writeHead(204).end();
    assert.equal(await attempt({ headers: { authorization: 'Bearer t' } }), undefined);
    assert.equal(lastHeaders.authorization, 'Bearer t');
    assert.equal(lastHeaders['content-type'], 'application/json');
  });

  test('retries a 503 after the Retry-After the server asks for', async () => {
    answer = (res) => res.writeHead(503, { 'retry-after': '3' }).end('busy');
    const err = await attempt();
    assert.equal(err?.kind, 'retry');
    assert.equal(err?.retryAfterMs, 3000);
    assert.equal(err?.errorType, 'http_503');
  });

  test('retries 408 and 429', async () => {
    for (const status of [408, 429]) {
      answer = (res) => res.writeHead(status).end();
      assert.equal((await attempt())?.kind, 'retry');
    }
  });

  test('rejects a 400 with the body as the reason', async () => {
    answer = (res) => res.writeHead(400).end('field x is required');
    const err = await attempt();
    assert.equal(err?.kind, 'reject');
    assert.equal(err?.message, 'HTTP 400: field x is required');
  });

  test('stops on 401 and 403, since every event would fail the same way', async () => {
    for (const status of [401, 403]) {
      answer = (res) => res.writeHead(status).end();
      assert.equal((await attempt())?.kind, 'fatal');
    }
  });

  test('names the refused events when a 2xx body lists them as Beacon /batch does', async () => {
    answer = (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted: 1, rejected: [{ index: 1, code: 'BEACON_E_BAD_TYPE', message: 'bad type' }] }));
    const err = await attempt();
    assert.equal(err?.kind, 'reject');
    assert.deepEqual(err?.rejected, [{ index: 1, reason: 'BEACON_E_BAD_TYPE: bad type' }]);
  });

  test('asks for a reconnect when the connection is refused', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await attempt({}, `http://127.0.0.1:${closedPort}/in`);
    assert.equal(err?.kind, 'reconnect');
    assert.equal(err?.errorType, 'econnrefused');
  });

  test('retries when the server does not answer within timeoutMs', async () => {
    answer = () => {};
    const sink = new HttpSink(
      httpConfigSchema.parse({ name: 'h', type: 'http', url: `http://127.0.0.1:${port}/in`, timeoutMs: 100 }),
      { clock: systemClock },
    );
    await sink.open();
    // As the loop runs it: the attempt deadline is timeoutMs.
    const err = await runAttempt(sink, 'h', (a) => sink.deliver([event, event], a)).then(
      () => undefined,
      (e: unknown) => e as SinkError,
    );
    await sink.close();
    assert.equal(err?.kind, 'retry');
  });
});

/**
 * A receiver that leaves the first `hang` requests without an answer (as a stuck upstream
 * does) and answers 200 to the rest, keeping their events; it notes each hung request whose
 * connection the client dropped.
 */
class HangingReceiver {
  hang = 0;
  seen = 0;
  dropped = 0;
  received: TrackedEvent[] = [];
  readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.seen++;
      if (this.seen <= this.hang) {
        res.on('close', () => {
          if (!res.writableFinished) this.dropped++;
        });
        return;
      }
      this.received.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as TrackedEvent[]));
      res.writeHead(200).end('ok');
    });
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/in`;
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('http sink deadlines', () => {
  test("aborts the request on the wire when the attempt's signal aborts, without waiting for timeoutMs", async () => {
    const receiver = new HangingReceiver();
    receiver.hang = 1;
    await receiver.start();
    const sink = new HttpSink(
      httpConfigSchema.parse({ name: 'h', type: 'http', url: receiver.url, timeoutMs: '30s' }),
      {
        clock: systemClock,
      },
    );
    try {
      await sink.open();
      const control = new AbortController();
      const delivering = sink.deliver([event], { signal: control.signal });
      delivering.catch(() => {});
      await waitUntil('the request reaches the receiver', () => receiver.seen === 1, 3000, 10);
      control.abort(new SinkError('retry', 'deadline', { errorType: 'timeout' }));
      const settled = await Promise.race([
        delivering.then(
          () => 'resolved',
          () => 'rejected',
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000).unref()),
      ]);
      assert.equal(settled, 'rejected', 'the aborted attempt failed at once');
      await waitUntil('the receiver sees the connection dropped', () => receiver.dropped === 1, 3000, 10);
    } finally {
      await sink.close();
      await receiver.stop();
    }
  });

  test('a request the endpoint never answers is ended at the attempt deadline (timeoutMs) and retried; the events arrive once it answers', async () => {
    const receiver = new HangingReceiver();
    receiver.hang = 2;
    await receiver.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'beacon-http-deadline-'));
    const log = new MemoryLog();
    const config = parseSinkConfig({
      name: 'hook',
      type: 'http',
      url: receiver.url,
      timeoutMs: 300,
      batch: { maxEvents: 10, maxWaitMs: 10 },
    });
    const dispatcher = new Dispatcher({
      log,
      sinks: [{ config }],
      dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
      dataDir,
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
    });
    const sent = Array.from({ length: 5 }, (_, i) => ({ ...event, id: `e${i}` }));
    const started = Date.now();
    try {
      await dispatcher.start();
      await log.append(sent);
      await waitUntil('the events arrive', () => receiver.received.length >= sent.length, 10_000, 10);
      const elapsed = Date.now() - started;
      assert.deepEqual(
        receiver.received.map((e) => e.id),
        sent.map((e) => e.id),
      );
      assert.equal(receiver.seen, 3, 'two hung requests, then one answered');
      assert.equal(receiver.dropped, 2, 'each hung request was aborted on the wire');
      // Two deadlines of 300 ms and short back-offs: far from a client timeout's 10 s default.
      assert.ok(elapsed >= 600 && elapsed < 5000, `delivered after ${elapsed} ms`);
      const status = dispatcher.status()[0]!;
      assert.equal(status.lastError?.kind, 'retry');
      assert.match(
        status.lastError?.message ?? '',
        /no answer from http:\/\/127\.0\.0\.1:\d+ within 300 ms \(timeoutMs\)/,
      );
      // The receiver holds the events before the answer reaches the loop and counts them.
      await waitUntil('the loop counts them delivered', () => dispatcher.status()[0]!.delivered === sent.length);
    } finally {
      await dispatcher.stop(5000);
      await receiver.stop();
    }
  });
});
