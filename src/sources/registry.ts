import type { SourceDefinition } from './source.js';
import { amqpSource } from './amqp/index.js';
import { mqttSource } from './mqtt/index.js';
import { natsSource } from './nats/index.js';
import { redisSource } from './redis/index.js';

/**
 * Every queue source type Beacon knows (the HTTP collector is not listed: it is always on).
 * Adding a source is one folder under src/sources/ and one line here; the `sources:` config
 * schema is built from this list.
 */
export const SOURCE_DEFINITIONS: readonly SourceDefinition[] = [amqpSource, natsSource, redisSource, mqttSource];

export function findSourceDefinition(type: string): SourceDefinition | undefined {
  return SOURCE_DEFINITIONS.find((d) => d.type === type);
}
