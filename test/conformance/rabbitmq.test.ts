import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { Connection } from 'rabbitmq-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { RabbitmqSink } from '../../src/sinks/rabbitmq/rabbitmqSink.js';
import { rabbitmqConfigSchema } from '../../src/sinks/rabbitmq/index.js';
import { SinkError } from '../../src/sinks/sink.js';
import { MemoryLog } from '../support/memoryLog.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * The rabbitmq sink against the machine's real RabbitMQ (127.0.0.1:5672, guest/guest), through
 * a TcpProxy so the destination can be taken away and connections cut mid-batch without ever
 * touching the shared server. Exchange and queue names are unique per run and deleted after.
 *
 * `rejectWhere` is not offered: the suite's predicate is a JavaScript function and its reason a
 * free text, and RabbitMQ cannot refuse single messages by either. What RabbitMQ does refuse
 * for good (unroutable messages with `onUnroutable: reject`, over-long routing keys) is checked
 * below in its own tests, through the dispatcher's dead letter.
 */

const RUN = randomUUID().slice(0, 8);
const admin = new Connection({ url: 'amqp://guest:guest@127.0.0.1:5672', retryLow: 200, retryHigh: 1000 });
const proxy = new TcpProxy(5672);
const exchanges: string[] = [];
const queues: string[] = [];

/** A topic exchange with one queue bound to `binding`; both removed at the end of the file. */
async function topology(label: string, binding = '#'): Promise<{ exchange: string; queue: string }> {
  const exchange = `beacon-test-${RUN}-${label}`;
  const queue = `${exchange}-q`;
  await admin.exchangeDeclare({ exchange, type: 'topic', durable: false, autoDelete: false });
  await admin.queueDeclare({ queue, durable: false });
  await admin.queueBind({ queue, exchange, routingKey: binding });
  exchanges.push(exchange);
  queues.push(queue);
  return { exchange, queue };
}

/** Everything in `queue` now, decoded, acked, in arrival order. */
async function drain(queue: string): Promise<{ event: TrackedEvent; routingKey: string; persistent: boolean }[]> {
  const got: { event: TrackedEvent; routingKey: string; persistent: boolean }[] = [];
  for (;;) {
    const msg = await admin.basicGet({ queue, noAck: true });
    if (!msg) return got;
    const body = Buffer.isBuffer(msg.body)
      ? JSON.parse(msg.body.toString('utf8'))
      : typeof msg.body === 'string'
        ? JSON.parse(msg.body)
        : msg.body;
    got.push({ event: body as TrackedEvent, routingKey: msg.routingKey, persistent: msg.durable === true });
  }
}

before(async () => {
  await admin.onConnect(5000);
  await proxy.start();
});

after(async () => {
  for (const queue of queues) await admin.queueDelete({ queue }).catch(() => {});
  for (const exchange of exchanges) await admin.exchangeDelete({ exchange }).catch(() => {});
  await proxy.stop();
  await admin.close();
});

const main = await (async () => {
  await admin.onConnect(5000);
  return topology('conformance');
})();
let received: TrackedEvent[] = [];

runSinkConformance('rabbitmq', {
  ordered: true,
  config: () => ({
    type: 'rabbitmq',
    host: '127.0.0.1',
    port: proxy.port,
    exchange: main.exchange,
    routingKey: 'conformance.{type}',
    connectTimeoutMs: 2000,
    confirmTimeoutMs: 5000,
  }),
  start: async () => proxy.restore(),
  stop: async () => proxy.down(),
  reset: async () => {
    await admin.queuePurge({ queue: main.queue });
    received = [];
  },
  readBack: async () => {
    received.push(...(await drain(main.queue)).map((m) => m.event));
    return received;
  },
});

function dispatcherFor(config: Record<string, unknown>, options: { maxFailoverDuration?: number } = {}) {
  const name = String(config.name);
  const log = new MemoryLog();
  const dataDir = mkdtempSync(join(tmpdir(), `beacon-rabbitmq-${name}-`));
  const raw = rabbitmqConfigSchema.parse({
    type: 'rabbitmq',
    host: '127.0.0.1',
    port: proxy.port,
    connectTimeoutMs: 2000,
    confirmTimeoutMs: 5000,
    batch: { maxEvents: 50, maxWaitMs: 10 },
    ...config,
  });
  const dispatcher = new Dispatcher({
    log,
    sinks: [{ config: raw }],
    dispatch: {
      maxFailoverDuration: options.maxFailoverDuration ?? 200,
      initialBackoff: 10,
      logEvery: 0,
      shutdownTimeout: 5000,
    },
    dataDir,
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
  });
  return { log, dataDir, dispatcher, status: () => dispatcher.status()[0]! };
}

function makeEvents(n: number, extra: (i: number) => Partial<TrackedEvent> = () => ({})): TrackedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `r${RUN}-${String(i).padStart(5, '0')}`,
    type: 'order.created',
    ts: Date.now(),
    props: { n: i },
    meta: {},
    ...extra(i),
  }));
}

const waitFor = (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) =>
  waitUntil(what, check, timeoutMs, 20);

describe('rabbitmq sink', () => {
  test('loses nothing when connections are cut again and again in the middle of batches', async (t) => {
    const { exchange, queue } = await topology('cuts');
    const { log, dispatcher, status } = dispatcherFor({ name: 'cuts', exchange, routingKey: 'x.{type}' });
    await dispatcher.start();
    const sent = makeEvents(3000);
    const got: TrackedEvent[] = [];
    const appending = (async () => {
      for (let i = 0; i < sent.length; i += 100) {
        await log.append(sent.slice(i, i + 100));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let cuts = 0;
    while (cuts < 8) {
      await new Promise((r) => setTimeout(r, 60));
      if (proxy.connections > 0) {
        proxy.cut();
        cuts++;
      }
    }
    await appending;
    await waitFor(async () => {
      got.push(...(await drain(queue)).map((m) => m.event));
      return new Set(got.map((e) => e.id)).size === sent.length;
    }, 'every event after the cuts');
    await dispatcher.stop(5000);
    const ids = new Set(got.map((e) => e.id));
    assert.deepEqual(
      sent.filter((e) => !ids.has(e.id)),
      [],
    );
    assert.ok(status().errors > 0, 'the cuts were seen as failed attempts');
    t.diagnostic(`cuts: ${cuts}, failed attempts: ${status().errors}, duplicates: ${got.length - ids.size}`);
  });

  test('publishes persistent messages with the routing key templated from the event', async () => {
    const { exchange, queue } = await topology('keys');
    const { log, dispatcher, status } = dispatcherFor({
      name: 'keys',
      exchange,
      routingKey: 'events.{type}.{props.region}',
    });
    await dispatcher.start();
    await log.append(makeEvents(3, (i) => ({ props: { n: i, region: ['eu', 'us', 'ap'][i] } })));
    await waitFor(() => status().delivered === 3, 'deliveries');
    await dispatcher.stop(5000);
    const got = await drain(queue);
    assert.deepEqual(
      got.map((m) => m.routingKey),
      ['events.order.created.eu', 'events.order.created.us', 'events.order.created.ap'],
    );
    assert.ok(
      got.every((m) => m.persistent),
      'delivery mode 2',
    );
  });

  test('declares the exchange when asked, and publishes straight to a queue', async () => {
    const exchange = `beacon-test-${RUN}-declared`;
    exchanges.push(exchange);
    const declared = dispatcherFor({
      name: 'declared',
      exchange,
      declare: { exchangeType: 'fanout', durable: false },
      mandatory: false,
    });
    await declared.dispatcher.start();
    await waitFor(() => declared.status().state === 'idle', 'the sink to open');
    await declared.dispatcher.stop(5000);
    await admin.exchangeDeclare({ exchange, type: 'fanout', durable: false, passive: true });

    const queue = `beacon-test-${RUN}-direct-q`;
    queues.push(queue);
    const direct = dispatcherFor({ name: 'direct', queue, declare: { durable: false } });
    await direct.dispatcher.start();
    await direct.log.append(makeEvents(5));
    await waitFor(() => direct.status().delivered === 5, 'deliveries to the queue');
    await direct.dispatcher.stop(5000);
    assert.equal((await drain(queue)).length, 5);
  });

  test('dead-letters unroutable messages with the reason when onUnroutable is reject', async () => {
    const { exchange, queue } = await topology('unroutable', 'ok.#');
    const { log, dispatcher, dataDir, status } = dispatcherFor({
      name: 'unroutable',
      exchange,
      routingKey: '{props.route}.{type}',
      onUnroutable: 'reject',
    });
    await dispatcher.start();
    const sent = makeEvents(20, (i) => ({ props: { n: i, route: i === 4 || i === 13 ? 'nowhere' : 'ok' } }));
    await log.append(sent);
    await waitFor(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters').catch((e: Error) =>
      assert.fail(`${e.message}: ${JSON.stringify(status())}`),
    );
    await dispatcher.stop(5000);
    assert.equal((await drain(queue)).length, 18);
    const entries = readFileSync(join(dataDir, 'dlq', 'unroutable.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: TrackedEvent; reason: string; code: string });
    assert.deepEqual(
      entries.map((e) => e.event.id),
      [sent[4]!.id, sent[13]!.id],
    );
    for (const entry of entries) {
      assert.equal(entry.code, 'BEACON_E_SINK_REJECTED');
      assert.match(entry.reason, /unroutable.*NO_ROUTE.*routing key "nowhere\.order\.created"/);
    }
  });

  test('holds unroutable messages and retries them when onUnroutable is retry, until a queue is bound', async () => {
    const { exchange, queue } = await topology('unbound', 'nothing-yet');
    const { log, dispatcher, status } = dispatcherFor({ name: 'unbound', exchange, routingKey: 'late.{type}' });
    await dispatcher.start();
    await log.append(makeEvents(10));
    await waitFor(
      () => status().state === 'backing_off' && /unroutable/.test(status().lastError?.message ?? ''),
      'the sink to back off on unroutable messages',
    );
    assert.equal(status().deadLettered, 0);
    await admin.queueBind({ queue, exchange, routingKey: 'late.#' });
    await waitFor(() => status().delivered === 10, 'delivery once a queue is bound');
    await dispatcher.stop(5000);
    assert.equal(new Set((await drain(queue)).map((m) => m.event.id)).size, 10);
  });

  test('stops with a message naming the fix on a wrong password or an unknown vhost', async () => {
    const { exchange } = await topology('auth');
    const base = { type: 'rabbitmq', name: 'auth', host: '127.0.0.1', port: 5672, exchange, connectTimeoutMs: 2000 };
    const wrongPassword = new RabbitmqSink(rabbitmqConfigSchema.parse({ ...base, password: 'not-the-password' }), {
      name: 'auth',
      logger: silentLogger,
    });
    const err1 = await wrongPassword.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err1 instanceof SinkError);
    assert.equal(err1.kind, 'fatal');
    assert.match(err1.message, /refused user "guest".*check user and password/);

    const wrongVhost = new RabbitmqSink(rabbitmqConfigSchema.parse({ ...base, vhost: `no-such-vhost-${RUN}` }), {
      name: 'auth',
      logger: silentLogger,
    });
    const err2 = await wrongVhost.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err2 instanceof SinkError);
    assert.equal(err2.kind, 'fatal');
    assert.match(err2.message, /vhost/);

    const missing = new RabbitmqSink(rabbitmqConfigSchema.parse({ ...base, exchange: `no-such-exchange-${RUN}` }), {
      name: 'auth',
      logger: silentLogger,
    });
    const err3 = await missing.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err3 instanceof SinkError);
    assert.equal(err3.kind, 'retry');
    assert.match(err3.message, /set declare: true/);

    const refused = new RabbitmqSink(rabbitmqConfigSchema.parse({ ...base, port: 1 }), {
      name: 'auth',
      logger: silentLogger,
    });
    const err4 = await refused.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err4 instanceof SinkError);
    assert.equal(err4.kind, 'reconnect');
  });

  test('dead-letters an event whose routing key needs a field it lacks, and uses fallbacks', async () => {
    const { exchange, queue } = await topology('template');
    const { log, dispatcher, dataDir, status } = dispatcherFor({
      name: 'template',
      exchange,
      routingKey: '{props.region|any}.{partyId}',
    });
    await dispatcher.start();
    const sent = makeEvents(4, (i) => ({
      props: i === 0 ? { n: i, region: 'eu' } : { n: i },
      ...(i === 3 ? {} : { partyId: `p${i}` }),
    }));
    await log.append(sent);
    await waitFor(() => status().deadLettered === 1 && status().lagEvents === 0, 'the dead letter');
    await dispatcher.stop(5000);
    assert.deepEqual(
      (await drain(queue)).map((m) => m.routingKey),
      ['eu.p0', 'any.p1', 'any.p2'],
    );
    const entry = JSON.parse(readFileSync(join(dataDir, 'dlq', 'template.ndjson'), 'utf8').trim()) as {
      event: TrackedEvent;
      reason: string;
    };
    assert.equal(entry.event.id, sent[3]!.id);
    assert.match(entry.reason, /the event has no partyId/);
    assert.throws(
      () =>
        rabbitmqConfigSchema.parse({
          type: 'rabbitmq',
          name: 'x',
          host: 'h',
          exchange: 'e',
          routingKey: 'events.{type',
        }),
      /unclosed/,
    );
  });

  test('refuses a config with both or neither of exchange and queue', () => {
    assert.throws(() => rabbitmqConfigSchema.parse({ type: 'rabbitmq', name: 'x', host: 'h' }), /exactly one of/);
    assert.throws(
      () => rabbitmqConfigSchema.parse({ type: 'rabbitmq', name: 'x', host: 'h', exchange: 'e', queue: 'q' }),
      /exactly one of/,
    );
  });
});
