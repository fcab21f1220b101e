import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { DEFAULT_KEY_SCHEMA, KEY_VERSION } from '../../src/sinks/kafka/avro.js';
import { kafkaConfigSchema } from '../../src/sinks/kafka/kafkaConfig.js';
import { KafkaSink } from '../../src/sinks/kafka/kafkaSink.js';
import {
  KafkaTopicReader,
  kafkaMockBinary,
  startKafkaMock,
  tolerateMockController,
  type ReadMessage,
} from '../support/kafkaMock.js';
import { SchemaRegistryServer } from '../support/schemaRegistry.js';

/**
 * Avro value and key in the Confluent wire format, through a schema registry, against the
 * librdkafka mock broker: what a Kafka Connect / Divolte consumer would read back.
 */
const { skip } = kafkaMockBinary();

function unwire(buffer: Buffer): { magic: number; id: number; body: Buffer } {
  return { magic: buffer.readUInt8(0), id: buffer.readUInt32BE(1), body: buffer.subarray(5) };
}

describe('kafka sink with the avro codec', { skip }, async () => {
  if (skip) return;
  tolerateMockController();
  const mock = await startKafkaMock(['avro.click:3', 'avro.view:3', 'custom:1']);
  const registry = new SchemaRegistryServer();
  await registry.start();
  const reader = new KafkaTopicReader(mock.bootstrap, ['avro.click', 'avro.view', 'custom']);
  await reader.start();
  after(async () => {
    await reader.stop();
    await registry.stop();
    await mock.stop();
  });

  const events: TrackedEvent[] = [
    {
      id: 'e1',
      type: 'click',
      ts: 1_700_000_000_001,
      partyId: 'party-a',
      sessionId: 's1',
      url: 'https://example.com/a',
      props: { button: 'buy', n: 2, nested: { x: [1, 2] } },
      meta: { source: 'http', bot: false, geo: { country: 'NL' } },
    },
    { id: 'e2', type: 'view', ts: 1_700_000_000_002, props: {}, meta: {} },
    {
      id: 'e3',
      type: 'click',
      ts: 1_700_000_000_003,
      partyId: 'party-b',
      clientTs: 1_699_999_999_000,
      props: { button: 'sell' },
      meta: { duplicate: true },
    },
  ];

  function sinkFor(extra: Record<string, unknown>): KafkaSink {
    const config = kafkaConfigSchema.parse({
      type: 'kafka',
      name: 'avro',
      brokers: [mock.bootstrap],
      codec: 'avro',
      avro: { schemaRegistry: { url: registry.url } },
      ...extra,
    });
    return new KafkaSink(config, { name: 'avro', logger: silentLogger });
  }

  async function readTopics(topics: string[]): Promise<ReadMessage[]> {
    await reader.caughtUp();
    return reader.since().filter((m) => topics.includes(m.topic));
  }

  test('registers <topic>-value and <topic>-key per topic and writes magic byte, schema id and Avro for value and key', async () => {
    await reader.mark();
    const sink = sinkFor({ topic: 'avro.{type}', compression: 'gzip' });
    await sink.open();
    await sink.deliver(events);
    await sink.close();

    assert.deepEqual([...registry.subjects.keys()].sort(), [
      'avro.click-key',
      'avro.click-value',
      'avro.view-key',
      'avro.view-value',
    ]);
    assert.ok(registry.requests.includes('POST /subjects/avro.click-value/versions'));
    const messages = await readTopics(['avro.click', 'avro.view']);
    assert.equal(messages.length, 3);

    for (const m of messages) {
      const value = unwire(m.value!);
      const key = unwire(m.key!);
      assert.equal(value.magic, 0);
      assert.equal(key.magic, 0);
      assert.equal(value.id, registry.idOf(`${m.topic}-value`));
      assert.equal(key.id, registry.idOf(`${m.topic}-key`));
      // Decode with the schemas as the registry holds them, as a consumer would.
      const valueType = avro.Type.forSchema(JSON.parse(registry.schemas.get(value.id)!) as avro.Schema);
      const keyType = avro.Type.forSchema(JSON.parse(registry.schemas.get(key.id)!) as avro.Schema);
      const record = valueType.fromBuffer(value.body) as Record<string, unknown>;
      const keyRecord = keyType.fromBuffer(key.body) as { version: string; timestamp: number; id: string };
      const sent = events.find((e) => e.id === record.id)!;

      assert.equal(record.type, sent.type);
      assert.equal(record.ts, sent.ts, 'ts is a (timestamp-millis) long');
      assert.equal(record.partyId, sent.partyId ?? null);
      assert.equal(record.clientTs, sent.clientTs ?? null);
      assert.equal(record.url, sent.url ?? null);
      assert.deepEqual(JSON.parse(record.props as string), sent.props);
      assert.deepEqual(JSON.parse(record.meta as string), sent.meta);
      assert.deepEqual({ ...keyRecord }, { version: KEY_VERSION, timestamp: sent.ts, id: sent.partyId ?? sent.id });
    }
    assert.deepEqual(JSON.parse(registry.schemas.get(registry.idOf('avro.click-key')!)!), DEFAULT_KEY_SCHEMA);
  });

  test('uses a value schema given by id without registering a value subject, and fills its fields from the event and its props', async () => {
    await reader.mark();
    const schema = {
      type: 'record',
      name: 'Click',
      namespace: 'example',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'partyId', type: ['null', 'string'], default: null },
        { name: 'button', type: 'string', default: 'none' },
        { name: 'meta', type: { type: 'map', values: ['null', 'boolean', 'string'] } },
      ],
    };
    const res = await fetch(`${registry.url}/subjects/clicks-value/versions`, {
      method: 'POST',
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });
    const { id } = (await res.json()) as { id: number };
    const sink = sinkFor({ topic: 'custom', avro: { schemaRegistry: { url: registry.url }, valueSchemaId: id } });
    await sink.open();
    await sink.deliver([events[2]!, events[1]!]);
    await sink.close();

    assert.equal(registry.idOf('custom-value'), undefined, 'no value subject registered');
    assert.ok(registry.idOf('custom-key') !== undefined, 'the key schema is registered under custom-key');
    const messages = await readTopics(['custom']);
    const type = avro.Type.forSchema(schema as avro.Schema);
    const records = messages.map((m) => {
      const v = unwire(m.value!);
      assert.equal(v.id, id);
      return { ...(type.fromBuffer(v.body) as object) };
    });
    assert.deepEqual(records, [
      { id: 'e3', partyId: 'party-b', button: 'sell', meta: { duplicate: true } },
      { id: 'e2', partyId: null, button: 'none', meta: {} },
    ]);
  });

  test('rejects, by index, an event that does not fit the value schema and sends the rest', async () => {
    await reader.mark();
    const sink = sinkFor({
      topic: 'custom',
      avro: {
        schemaRegistry: { url: registry.url },
        valueSchema: {
          type: 'record',
          name: 'Strict',
          fields: [
            { name: 'id', type: 'string' },
            { name: 'amount', type: 'long' },
          ],
        },
      },
    });
    await sink.open();
    const fits = { ...events[1]!, id: 'ok', props: { amount: 5 } };
    const misfit = { ...events[1]!, id: 'bad', props: { amount: 'five' } };
    await assert.rejects(
      sink.deliver([fits, misfit]),
      (err: { kind?: string; rejected?: { index: number; reason: string }[] }) => {
        assert.equal(err.kind, 'reject');
        assert.equal(err.rejected?.length, 1);
        assert.equal(err.rejected[0]!.index, 1);
        assert.match(err.rejected[0]!.reason, /does not fit the Avro schema Strict at amount/);
        return true;
      },
    );
    await sink.close();
    const got = (await readTopics(['custom'])).map((m) => unwire(m.value!));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.id, registry.idOf('custom-value'));
  });

  test('stops (fatal) when the schema id is unknown to the registry, retries when the registry is unreachable', async () => {
    const unknown = sinkFor({ topic: 'custom', avro: { schemaRegistry: { url: registry.url }, valueSchemaId: 9999 } });
    await assert.rejects(
      unknown.open(),
      (err: { kind?: string; errorType?: string }) => err.kind === 'fatal' && err.errorType === 'registry_404',
    );
    const down = sinkFor({
      topic: 'custom',
      avro: { schemaRegistry: { url: 'http://127.0.0.1:9' }, valueSchemaId: 1 },
    });
    await assert.rejects(down.open(), (err: { kind?: string }) => err.kind === 'retry');
  });
});
