import type { ConfigOf } from '../config/partsSchema.js';
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
export const SOURCE_DEFINITIONS = [
  amqpSource,
  natsSource,
  redisSource,
  mqttSource,
] as const satisfies readonly SourceDefinition[];

/** A parsed queue source config of any registered type. */
export type SourceConfig = ConfigOf<typeof SOURCE_DEFINITIONS>;

export function findSourceDefinition(type: string): SourceDefinition | undefined {
  return SOURCE_DEFINITIONS.find((d) => d.type === type);
}
