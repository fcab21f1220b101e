import { z } from 'zod';
import { duration } from '../../config/units.js';
import { templateString } from '../eventTemplate.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { MqttSink } from './mqttSink.js';

export const mqttConfigSchema = sinkConfigSchema('mqtt', {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: z.url({ protocol: /^(mqtts?|wss?)$/ }).default('mqtt://127.0.0.1:1883'),
  /** Topic each event is published to, templated from event fields, e.g. `beacon/{type}`. */
  topic: templateString(),
  /** 1: the broker acknowledges each message (PUBACK); 2: exactly once to the broker. QoS 0 has no ack, so it is not offered. */
  qos: z.union([z.literal(1), z.literal(2)]).default(1),
  retain: z.boolean().default(false),
  /** MQTT client id; a unique one is made from the sink name when absent. */
  clientId: z.string().min(1).max(128).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Connect timeout, and the longest wait for a batch's acks. */
  timeoutMs: duration().default(10_000),
});

export type MqttSinkConfig = z.output<typeof mqttConfigSchema>;

/** `mqtt`: publishes each event to a topic with QoS 1 (or 2); a batch is delivered when every ack came. */
export const mqttSink: SinkDefinition<typeof mqttConfigSchema> = {
  type: 'mqtt',
  configSchema: mqttConfigSchema,
  secretKeys: ['password'],
  create: (config, context) => new MqttSink(config, context),
};
