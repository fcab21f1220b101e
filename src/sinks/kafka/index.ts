import type { SinkDefinition } from '../sink.js';
import { kafkaConfigSchema } from './kafkaConfig.js';
import { KafkaSink } from './kafkaSink.js';

export { kafkaConfigSchema, type KafkaSinkConfig } from './kafkaConfig.js';

/** `kafka`: produces each batch with one sendBatch (acks all, idempotent), keyed by party id. */
export const kafkaSink: SinkDefinition<typeof kafkaConfigSchema> = {
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  secretKeys: ['sasl.password', 'ssl.passphrase', 'avro.schemaRegistry.auth.password'],
  create: (config, context) => new KafkaSink(config, context),
};
