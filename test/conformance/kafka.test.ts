import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ISocketFactory } from 'kafkajs';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { kafkaConfigSchema, kafkaRetries } from '../../src/sinks/kafka/kafkaConfig.js';
import { KafkaSink } from '../../src/sinks/kafka/kafkaSink.js';
import {
  KafkaTopicReader,
  kafkaMockBinary,
  startKafkaMock,
  tolerateMockController,
  type KafkaMock,
} from '../support/kafkaMock.js';
import { MemoryLog } from '../support/memoryLog.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';
import { parseSinkConfig } from '../../src/config/parseSinkConfig.js';

/**
 * The kafka sink against librdkafka's mock broker (real Kafka protocol, in memory), read back
 * with a kafkajs consumer. The sink reaches the broker through a TcpProxy so an outage can be
 * played without losing what the in-memory broker holds: Kafka metadata advertises the
 * broker's own address, so the sink is given a socket factory (its network seam) that sends
 * every broker connection to the proxy; the reader connects to the broker directly.
 */
const { skip } = kafkaMockBinary();
if (skip) {
  test('kafka sink', { skip }, () => {});
} else {
  tolerateMockController();
  const TOPICS = ['conformance:1', 'conformance-gz:3', 'kafka-keys:3', 'kafka-reject.main:1'];
  const mock: KafkaMock = await startKafkaMock(TOPICS);
  const proxy = new TcpProxy(mock.port);
  await proxy.start();
  const reader = new KafkaTopicReader(
    mock.bootstrap,
    TOPICS.map((t) => t.split(':')[0]!),
  );
  await reader.start();
  after(async () => {
    await reader.stop();
    await proxy.stop();
    await mock.stop();
  });
  const throughProxy: ISocketFactory = ({ onConnect }) => connect(proxy.port, '127.0.0.1', onConnect);

  const decode = (value: Buffer | null) => JSON.parse(value!.toString('utf8')) as TrackedEvent;

  for (const variant of [
    { label: 'kafka (json, one partition)', topic: 'conformance', ordered: true, extra: {} },
    {
      label: 'kafka (gzip, three partitions)',
      topic: 'conformance-gz',
      ordered: false,
      extra: { compression: 'gzip' },
    },
  ]) {
    runSinkConformance(variant.label, {
      ordered: variant.ordered,
      config: () => ({
        type: 'kafka',
        brokers: [`127.0.0.1:${proxy.port}`],
        topic: variant.topic,
        connectionTimeoutMs: 1000,
        requestTimeoutMs: 3000,
        ...variant.extra,
      }),
      createSink: (raw, context) =>
        new KafkaSink(kafkaConfigSchema.parse(raw), context, { socketFactory: throughProxy }),
      start: async () => proxy.restore(),
      stop: async () => proxy.down(),
      reset: () => reader.mark(variant.topic),
      readBack: async () => {
        await reader.caughtUp();
        const messages = reader.since().filter((m) => m.topic === variant.topic);
        // One partition: offset order is log order. Several: order only holds per key.
        return messages.map((m) => decode(m.value));
      },
    });
  }

  /** A dispatcher over a MemoryLog with one kafka sink, the way the conformance suite builds it. */
  function dispatch(name: string, extra: Record<string, unknown>) {
    const log = new MemoryLog();
    const dataDir = mkdtempSync(join(tmpdir(), `beacon-kafka-${name}-`));
    const raw = { type: 'kafka', name, brokers: [mock.bootstrap], batch: { maxEvents: 50, maxWaitMs: 10 }, ...extra };
    const dispatcher = new Dispatcher({
      log,
      sinks: [{ config: parseSinkConfig(raw) }],
      dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
      dataDir,
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
    });
    return { log, dataDir, dispatcher, status: () => dispatcher.status()[0]! };
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const event = (i: number, extra: Partial<TrackedEvent> = {}): TrackedEvent => ({
    id: `k${i}`,
    type: 'click',
    ts: 1_700_000_000_000 + i,
    props: { n: i },
    meta: {},
    ...extra,
  });

  describe('kafka sink: keys and rejections', () => {
    before(async () => {
      await reader.mark('kafka-keys');
      await reader.mark('kafka-reject.main');
    });

    test('keys each message by partyId, and by event id when the event has none; one party stays on one partition', async () => {
      const { log, dispatcher, status } = dispatch('kafka-keys', { topic: 'kafka-keys' });
      await dispatcher.start();
      const sent = [
        ...Array.from({ length: 30 }, (_, i) => event(i, { partyId: `p${i % 3}` })),
        event(100),
        event(101),
      ];
      await log.append(sent);
      await until(() => status().delivered === sent.length, 'deliveries');
      await dispatcher.stop(5000);
      await reader.caughtUp();
      const got = reader.since().filter((m) => m.topic === 'kafka-keys');
      assert.equal(got.length, sent.length);
      for (const m of got) {
        const e = decode(m.value);
        assert.equal(m.key!.toString('utf8'), e.partyId ?? e.id);
      }
      for (const party of ['p0', 'p1', 'p2']) {
        const mine = got.filter((m) => m.key!.toString() === party);
        assert.equal(new Set(mine.map((m) => m.partition)).size, 1, `${party} on one partition`);
        assert.deepEqual(
          mine.map((m) => decode(m.value).props.n),
          sent.filter((e) => e.partyId === party).map((e) => e.props.n),
          `${party} in log order`,
        );
      }
    });

    test('dead-letters a record too large and an event whose topic cannot be rendered, with the reason, and delivers the rest', async () => {
      const { log, dispatcher, dataDir, status } = dispatch('kafka-reject', {
        topic: 'kafka-reject.{props.lane|main}',
        maxMessageBytes: 2048,
      });
      await dispatcher.start();
      const sent = [
        event(0),
        event(1, { props: { n: 1, blob: 'x'.repeat(5000) } }),
        event(2),
        event(3, { props: { n: 3, lane: 'no such/lane' } }),
        event(4),
      ];
      await log.append(sent);
      await until(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters');
      await dispatcher.stop(5000);
      await reader.caughtUp();
      const got = reader
        .since()
        .filter((m) => m.topic === 'kafka-reject.main')
        .map((m) => decode(m.value).id);
      assert.deepEqual(got, ['k0', 'k2', 'k4']);
      const entries = readFileSync(join(dataDir, 'dlq', 'kafka-reject.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: TrackedEvent; reason: string; code: string });
      assert.deepEqual(
        entries.map((e) => e.event.id),
        ['k1', 'k3'],
      );
      assert.match(entries[0]!.reason, /record too large: \d+ bytes, more than maxMessageBytes 2048/);
      assert.match(entries[1]!.reason, /gave "kafka-reject\.no such\/lane", no legal Kafka topic name/);
      for (const e of entries) assert.equal(e.code, 'BEACON_E_SINK_REJECTED');
    });

    test("a broker that stops answering shows in the sink's status within requestTimeoutMs (the attempt deadline), not after the client's resends; the events arrive once it answers", async () => {
      // A broker that accepts connections and never answers (hung, or a network that drops
      // replies): the sink's socket factory sends new connections there while `silent`.
      const held: Socket[] = [];
      const silentBroker = createServer((socket) => {
        held.push(socket);
        socket.on('error', () => {});
      });
      await new Promise<void>((r) => silentBroker.listen(0, '127.0.0.1', () => r()));
      const silentPort = (silentBroker.address() as { port: number }).port;
      let silent = false;
      const factory: ISocketFactory = ({ onConnect }) =>
        connect(silent ? silentPort : proxy.port, '127.0.0.1', onConnect);
      const log = new MemoryLog();
      const config = kafkaConfigSchema.parse({
        type: 'kafka',
        name: 'kafka-outage',
        brokers: [`127.0.0.1:${proxy.port}`],
        topic: 'kafka-keys',
        connectionTimeoutMs: 1000,
        requestTimeoutMs: 1000,
        batch: { maxEvents: 50, maxWaitMs: 10 },
      });
      const dispatcher = new Dispatcher({
        log,
        sinks: [
          {
            config,
            sink: new KafkaSink(config, { name: 'kafka-outage', logger: silentLogger }, { socketFactory: factory }),
          },
        ],
        dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
        dataDir: mkdtempSync(join(tmpdir(), 'beacon-kafka-outage-')),
        logger: silentLogger,
        metrics: createMetrics(new Registry()),
      });
      const status = () => dispatcher.status()[0]!;
      try {
        await dispatcher.start();
        await log.append([event(200)]);
        await until(() => status().delivered === 1, 'the first delivery');
        silent = true;
        proxy.cut();
        const outage = Date.now();
        await log.append([event(201), event(202)]);
        await until(() => status().lastError !== undefined, 'the outage in the status');
        const shown = Date.now() - outage;
        assert.equal(status().lastError!.kind, 'reconnect');
        assert.match(status().lastError!.message, /no answer from the brokers within 1000 ms \(requestTimeoutMs\)/);
        // One request timeout; the old client ladder (3 tries, each 1 s) took over 3 s.
        assert.ok(shown < 2000, `the outage showed after ${shown} ms`);
        silent = false;
        await until(() => status().delivered === 3, 'the events after the broker answers again');
      } finally {
        await dispatcher.stop(5000);
        for (const socket of held) socket.destroy();
        silentBroker.close();
      }
    });

    test('open() fails as reconnect when no broker answers', async () => {
      const closed = new TcpProxy(mock.port);
      const port = await closed.start();
      closed.down();
      const sink = new KafkaSink(
        kafkaConfigSchema.parse({
          type: 'kafka',
          name: 'down',
          brokers: [`127.0.0.1:${port}`],
          connectionTimeoutMs: 300,
        }),
        { name: 'down', logger: silentLogger },
      );
      await assert.rejects(
        sink.open(),
        (err: { kind?: string; errorType?: string }) => err.kind === 'reconnect' && err.errorType === 'connection',
      );
      await closed.stop();
    });
  });
}

describe('kafka sink config: retries', () => {
  const parse = (extra: Record<string, unknown>) =>
    kafkaConfigSchema.parse({ type: 'kafka', name: 'k', brokers: ['127.0.0.1:9092'], ...extra });

  test('defaults to the least kafkajs allows: one resend for the idempotent producer, none without it', () => {
    assert.equal(kafkaRetries(parse({})), 1);
    assert.equal(kafkaRetries(parse({ idempotent: false, acks: 1 })), 0);
    assert.equal(kafkaRetries(parse({ retries: 4 })), 4);
    assert.equal(kafkaRetries(parse({ retries: 0, idempotent: false })), 0);
  });

  test('refuses a retries value the client cannot take, saying what it means', () => {
    for (const retries of [-1, 1.5, 21, '3'])
      assert.throws(
        () => parse({ retries }),
        /retries is how many times the Kafka client resends a failed produce within one attempt: a whole number from 0/,
      );
    assert.throws(() => parse({ retries: 0 }), /retries: 0 needs idempotent: false/);
  });
});
