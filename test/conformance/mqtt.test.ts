import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectAsync } from 'mqtt';
import { jsonCodec } from '../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { mqttConfigSchema } from '../../src/sinks/mqtt/index.js';
import { MqttSink } from '../../src/sinks/mqtt/mqttSink.js';
import { SinkError } from '../../src/sinks/sink.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';
import { runSinkConformance } from './sink.js';

/**
 * The MQTT sink against the machine's Mosquitto, through a TcpProxy so a check can take the
 * broker away without stopping it. A QoS 1 subscriber connected directly to the broker is the
 * destination. Topics are unique to this run; nothing is retained, so nothing is left behind.
 *
 * No `rejectWhere`: an MQTT 3.1.1 broker acknowledges every publish it accepts on the wire
 * (an ACL drop is acknowledged too), so a broker cannot refuse a single event visibly.
 */
const MQTT_PORT = 1883;
const run = randomBytes(4).toString('hex');
const proxy = new TcpProxy(MQTT_PORT);
await proxy.start();
const reader = await connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, {
  clientId: `beacon-test-reader-${run}`,
  clean: true,
});
let received: TrackedEvent[] = [];
reader.on('message', (_topic, payload) => received.push(...(jsonCodec.decode!(payload) as TrackedEvent[])));
await reader.subscribeAsync(`beacon-test/${run}/#`, { qos: 1 });

after(async () => {
  await reader.endAsync();
  await proxy.stop();
});

let round = 0;
runSinkConformance('mqtt', {
  ordered: true,
  config: () => ({
    type: 'mqtt',
    url: `mqtt://127.0.0.1:${proxy.port}`,
    topic: `beacon-test/${run}/${round}/{type}`,
    timeoutMs: 2000,
  }),
  start: async () => proxy.restore(),
  stop: async () => proxy.down(),
  reset: async () => {
    round++;
    received = [];
  },
  readBack: async () => received,
});

describe('mqtt sink (specifics)', () => {
  test('an event missing a topic field is rejected by index; "/" in a value does not add a level', async () => {
    const sink = new MqttSink(
      mqttConfigSchema.parse({
        name: 'mqtt-check',
        type: 'mqtt',
        url: `mqtt://127.0.0.1:${MQTT_PORT}`,
        topic: `beacon-test/${run}/apps/{props.app}`,
      }),
      { name: 'mqtt-check', logger: silentLogger },
    );
    const topics: string[] = [];
    const onMessage = (topic: string) => topics.push(topic);
    reader.on('message', onMessage);
    await sink.open();
    const make = (id: string, props: Record<string, unknown>): TrackedEvent => ({
      id,
      type: 't',
      ts: 1,
      props,
      meta: {},
    });
    const err = await sink.deliver([make('m1', { app: 'a/b' }), make('m2', {}), make('m3', { app: 'c#' })]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();
    // The broker forwards to the reader after the sink's publish is acknowledged: wait for it
    // (the 1 s this loop used to allow is short on a loaded machine).
    await waitUntil(
      () => `two messages at the reader (got ${JSON.stringify(topics)})`,
      () => topics.length >= 2,
    );
    reader.off('message', onMessage);
    assert.ok(err instanceof SinkError && err.kind === 'reject');
    assert.deepEqual(
      err.rejected?.map((r) => r.index),
      [1],
    );
    assert.deepEqual(topics.sort(), [`beacon-test/${run}/apps/a_b`, `beacon-test/${run}/apps/c_`]);
  });

  test('a broker that is down is a reconnect, not a fatal error', async () => {
    const down = new TcpProxy(MQTT_PORT);
    await down.start();
    down.down();
    const sink = new MqttSink(
      mqttConfigSchema.parse({
        name: 'mqtt-down',
        type: 'mqtt',
        url: `mqtt://127.0.0.1:${down.port}`,
        topic: 'x',
        timeoutMs: 1000,
      }),
      { name: 'mqtt-down', logger: silentLogger },
    );
    await assert.rejects(sink.open(), (err: unknown) => err instanceof SinkError && err.kind === 'reconnect');
    await down.stop();
  });
});
