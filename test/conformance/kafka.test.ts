import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ISocketFactory } from 'kafkajs';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { kafkaConfigSchema } from '../../src/sinks/kafka/index.js';
import { KafkaSink } from '../../src/sinks/kafka/kafkaSink.js';
import { KafkaTopicReader, kafkaMockBinary, startKafkaMock, tolerateMockController, type KafkaMock } from '../support/kafkaMock.js';
import { MemoryLog } from '../support/memoryLog.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';

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
  const reader = new KafkaTopicReader(mock.bootstrap, TOPICS.map((t) => t.split(':')[0]!));
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
    { label: 'kafka (gzip, three partitions)', topic: 'conformance-gz', ordered: false, extra: { compression: 'gzip' } },
  ]) {
    runSinkConformance(variant.label, {
      ordered: variant.ordered,
      config: () => ({ type: 'kafka', brokers: [`127.0.0.1:${proxy.port}`], topic: variant.topic, connectionTimeoutMs: 1000, requestTimeoutMs: 3000, ...variant.extra }),
      createSink: (raw, context) => new KafkaSink(kafkaConfigSchema.parse(raw), context, { socketFactory: throughProxy }),
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
      sinks: [{ config: raw }],
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

  const event = (i: number, extra: Partial<TrackedEvent> = {}): TrackedEvent => ({ id: `k${i}`, type: 'click', ts: 1_700_000_000_000 + i, props: { n: i }, meta: {}, ...extra });

  describe('kafka sink: keys and rejections', () => {
    before(async () => {
      await reader.mark('kafka-keys');
      await reader.mark('kafka-reject.main');
    });

    test('keys each message by partyId, and by event id when the event has none; one party stays on one partition', async () => {
      const { log, dispatcher, status } = dispatch('kafka-keys', { topic: 'kafka-keys' });
      await dispatcher.start();
      const sent = [...Array.from({ length: 30 }, (_, i) => event(i, { partyId: `p${i % 3}` })), event(100), event(101)];
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
        assert.deepEqual(mine.map((m) => decode(m.value).props.n), sent.filter((e) => e.partyId === party).map((e) => e.props.n), `${party} in log order`);
      }
    });

    test('dead-letters a record too large and an event whose topic cannot be rendered, with the reason, and delivers the rest', async () => {
      const { log, dispatcher, dataDir, status } = dispatch('kafka-reject', { topic: 'kafka-reject.{props.lane|main}', maxMessageBytes: 2048 });
      await dispatcher.start();
      const sent = [event(0), event(1, { props: { n: 1, blob: 'x'.repeat(5000) } }), event(2), event(3, { props: { n: 3, lane: 'no such/lane' } }), event(4)];
      await log.append(sent);
      await until(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters');
      await dispatcher.stop(5000);
      await reader.caughtUp();
      const got = reader.since().filter((m) => m.topic === 'kafka-reject.main').map((m) => decode(m.value).id);
      assert.deepEqual(got, ['k0', 'k2', 'k4']);
      const entries = readFileSync(join(dataDir, 'dlq', 'kafka-reject.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: TrackedEvent; reason: string; code: string });
      assert.deepEqual(entries.map((e) => e.event.id), ['k1', 'k3']);
      assert.match(entries[0]!.reason, /record too large: \d+ bytes, more than maxMessageBytes 2048/);
      assert.match(entries[1]!.reason, /gave "kafka-reject\.no such\/lane", no legal Kafka topic name/);
      for (const e of entries) assert.equal(e.code, 'BEACON_E_SINK_REJECTED');
    });

    test('open() fails as reconnect when no broker answers', async () => {
      const closed = new TcpProxy(mock.port);
      const port = await closed.start();
      closed.down();
      const sink = new KafkaSink(kafkaConfigSchema.parse({ type: 'kafka', name: 'down', brokers: [`127.0.0.1:${port}`], connectionTimeoutMs: 300, retries: 1 }), { name: 'down', logger: silentLogger });
      await assert.rejects(sink.open(), (err: { kind?: string; errorType?: string }) => err.kind === 'reconnect' && err.errorType === 'connection');
      await closed.stop();
    });
  });
}
