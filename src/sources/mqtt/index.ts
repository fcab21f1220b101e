import { z } from 'zod';
import type { SourceDefinition } from '../source.js';
import { sourceConfigSchema } from '../sourceConfig.js';
import { MqttSource } from './mqttSource.js';

export const mqttSourceConfigSchema = sourceConfigSchema('mqtt', {
  url: z.url({ protocol: /^(mqtts?|wss?)$/ }).default('mqtt://127.0.0.1:1883'),
  /** Topic filters to subscribe to at QoS 1 (wildcards `+` and `#` allowed). */
  topics: z.array(z.string().min(1)).min(1),
  /**
   * Client id of the persistent session. Keep it stable and unique to this Beacon: the broker
   * keeps the session (subscriptions, unacknowledged and queued messages) under it.
   * Default `beacon-<host>-<name>`.
   */
  clientId: z.string().min(1).max(128).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});

export type MqttSourceConfig = z.output<typeof mqttSourceConfigSchema>;

/** `mqtt`: events from subscribed topics, acknowledged (PUBACK) only once durable. */
export const mqttSource: SourceDefinition<typeof mqttSourceConfigSchema> = {
  type: 'mqtt',
  configSchema: mqttSourceConfigSchema,
  secretKeys: ['password'],
  create: (config, context) => new MqttSource(config, context),
};
