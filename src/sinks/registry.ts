import type { ConfigOf } from '../config/partsSchema.js';
import type { SinkDefinition } from './sink.js';
import { clickhouseSink } from './clickhouse/index.js';
import { fileSink } from './file/index.js';
import { httpSink } from './http/index.js';
import { kafkaSink } from './kafka/index.js';
import { mqttSink } from './mqtt/index.js';
import { mysqlSink } from './mysql/index.js';
import { natsSink } from './nats/index.js';
import { postgresSink } from './postgres/index.js';
import { rabbitmqSink } from './rabbitmq/index.js';
import { redisSink } from './redis/index.js';
import { s3Sink } from './s3/index.js';
import { stdoutSink } from './stdout/index.js';

/**
 * Every sink type Beacon knows. Adding a sink is one folder under src/sinks/ and one line here;
 * the config schema, `check-config` and docs are built from this list.
 */
export const SINK_DEFINITIONS = [
  stdoutSink,
  fileSink,
  httpSink,
  kafkaSink,
  natsSink,
  redisSink,
  mqttSink,
  rabbitmqSink,
  postgresSink,
  mysqlSink,
  clickhouseSink,
  s3Sink,
] as const satisfies readonly SinkDefinition[];

/** A parsed sink config of any registered type (what `sinks:` holds after the config is loaded). */
export type SinkConfig = ConfigOf<typeof SINK_DEFINITIONS>;

export function findSinkDefinition(type: string): SinkDefinition | undefined {
  return SINK_DEFINITIONS.find((d) => d.type === type);
}
