import { readFile } from 'node:fs/promises';
import avro from 'avsc';
import type * as Registry from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { lazyRequire } from '../../net/lazyRequire.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { SinkError } from '../sink.js';
import type { KafkaAvroConfig } from './kafkaConfig.js';

const schemaRegistry = lazyRequire<typeof Registry>('@kafkajs/confluent-schema-registry');

/**
 * Avro in the Confluent wire format for the Kafka sink, key and value alike:
 *
 *     byte 0: magic 0 | bytes 1-4: schema id (big-endian) | Avro binary
 *
 * This lives with the Kafka sink rather than behind the shared `Codec` seam because it does
 * not fit it: schemas are registered asynchronously (one subject per resolved topic,
 * `<topic>-value` and `<topic>-key`), and it encodes the message key too. `prepare(topics)`
 * resolves ids before a batch is built; after that `encodeValue` / `encodeKey` are synchronous.
 */

/** Divolte's key schema (the Divolte identifier); a name is added because Avro parsers require one. */
export const DEFAULT_KEY_SCHEMA = {
  type: 'record',
  name: 'DivolteIdentifier',
  namespace: 'io.divolte.record',
  fields: [
    { name: 'version', type: 'string', doc: 'Divolte Identifier Version' },
    { name: 'timestamp', type: 'long', doc: 'Timestamp' },
    { name: 'id', type: 'string', doc: 'Message identifier' },
  ],
} as const;

/** Version written in the key's `version` field: Beacon's key layout, not Divolte's party id format. */
export const KEY_VERSION = '1';

const optional = (name: string, type: 'string' | 'long') => ({ name, type: ['null', type], default: null });

/**
 * The default value schema: one TrackedEvent. `props` and `meta` are free-form (nested objects,
 * numbers, booleans), which an Avro map cannot hold without one value type, so they are JSON
 * strings: consumers parse them, and no event is ever refused for its payload's shape.
 */
export const DEFAULT_VALUE_SCHEMA = {
  type: 'record',
  name: 'TrackedEvent',
  namespace: 'io.beacon',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'type', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    optional('clientTs', 'long'),
    optional('partyId', 'string'),
    optional('sessionId', 'string'),
    optional('pageViewId', 'string'),
    optional('ip', 'string'),
    optional('ua', 'string'),
    optional('url', 'string'),
    optional('referrer', 'string'),
    { name: 'props', type: 'string', doc: 'the event props as JSON text' },
    { name: 'meta', type: 'string', doc: 'flags and enrichment results as JSON text' },
  ],
};

interface Subjects {
  valueId: number;
  keyId: number;
}

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, the Avro body. */
export function wireFormat(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export class AvroRecords {
  private readonly registry: SchemaRegistry;
  private valueType: avro.Type | undefined;
  private keyType: avro.Type | undefined;
  private valueSchemaText = '';
  private readonly subjects = new Map<string, Subjects>();

  constructor(private readonly config: KafkaAvroConfig) {
    this.registry = new (schemaRegistry().SchemaRegistry)({
      host: config.schemaRegistry.url.replace(/\/+$/, ''),
      clientId: 'beacon',
      ...(config.schemaRegistry.auth ? { auth: config.schemaRegistry.auth } : {}),
      // One attempt per call: the dispatcher owns retries and back-off.
      retry: { retries: 0 },
    });
  }

  /** Loads the value and key schemas: from the registry by id, from a file, inline, or the defaults. */
  async open(): Promise<void> {
    const { valueSchemaId, valueSchema, keySchemaId } = this.config;
    let value: unknown = DEFAULT_VALUE_SCHEMA;
    if (valueSchemaId !== undefined) value = await this.schemaById(valueSchemaId, 'avro.valueSchemaId');
    else if (typeof valueSchema === 'string') value = await readSchemaFile(valueSchema);
    else if (valueSchema) value = valueSchema;
    this.valueType = parseSchema(value, 'the value schema');
    this.valueSchemaText = JSON.stringify(value);
    this.keyType = parseSchema(
      keySchemaId !== undefined ? await this.schemaById(keySchemaId, 'avro.keySchemaId') : DEFAULT_KEY_SCHEMA,
      'the key schema',
    );
  }

  /** Makes sure every topic has schema ids (registering `<topic>-value` / `<topic>-key` once per topic). */
  async prepare(topics: Iterable<string>): Promise<void> {
    for (const topic of topics) {
      if (this.subjects.has(topic)) continue;
      const valueId = this.config.valueSchemaId ?? (await this.register(`${topic}-value`, this.valueSchemaText));
      const keyId =
        this.config.keySchemaId ?? (await this.register(`${topic}-key`, JSON.stringify(DEFAULT_KEY_SCHEMA)));
      this.subjects.set(topic, { valueId, keyId });
    }
  }

  /** The event as its value record; throws (a reason to reject the event) when it does not fit the schema. */
  encodeValue(topic: string, event: TrackedEvent): Buffer {
    const type = this.valueType!;
    return wireFormat(this.ids(topic).valueId, encodeRecord(type, recordFor(type, event, {})));
  }

  /** The key record: `{version, timestamp: event.ts, id: key}`, Divolte's identifier fields. */
  encodeKey(topic: string, event: TrackedEvent, key: string): Buffer {
    const type = this.keyType!;
    return wireFormat(
      this.ids(topic).keyId,
      encodeRecord(type, recordFor(type, event, { version: KEY_VERSION, timestamp: event.ts, id: key })),
    );
  }

  private ids(topic: string): Subjects {
    const ids = this.subjects.get(topic);
    if (!ids) throw new Error(`no schema ids for topic ${topic}; prepare() was not called`);
    return ids;
  }

  private async register(subject: string, schema: string): Promise<number> {
    try {
      const { id } = await this.registry.register({ type: schemaRegistry().SchemaType.AVRO, schema }, { subject });
      return id;
    } catch (err) {
      throw registryFailure(err, `registering the schema under subject "${subject}"`);
    }
  }

  private async schemaById(id: number, field: string): Promise<unknown> {
    try {
      const schema = (await this.registry.getSchema(id)) as unknown as { schema?: (opts: object) => unknown };
      if (typeof schema.schema !== 'function')
        throw new SinkError('fatal', `${field} ${id} is not an Avro schema`, { errorType: 'schema_registry' });
      // exportAttrs keeps field defaults, which fill fields an event lacks.
      return schema.schema({ exportAttrs: true });
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw registryFailure(err, `fetching schema id ${id} (${field})`);
    }
  }
}

function parseSchema(schema: unknown, what: string): avro.Type {
  try {
    const type = avro.Type.forSchema(schema as avro.Schema);
    if (type.typeName !== 'record') throw new Error('it must be a record');
    return type;
  } catch (err) {
    throw new SinkError('fatal', `${what} is no usable Avro schema: ${(err as Error).message}`, {
      errorType: 'avro_schema',
      cause: err,
    });
  }
}

async function readSchemaFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (err) {
    throw new SinkError('fatal', `cannot read avro.valueSchema file ${path}: ${(err as Error).message}`, {
      errorType: 'avro_schema',
      cause: err,
    });
  }
}

/**
 * Fills a record schema's fields from the event: `overrides` first, then the event's top-level
 * fields, then its props. Objects go in as JSON text where the field is a string (props and
 * meta in the default schema); a missing field takes the schema's default, else null.
 */
function recordFor(type: avro.Type, event: TrackedEvent, overrides: Record<string, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const top = event as unknown as Record<string, unknown>;
  for (const field of (type as avro.types.RecordType).fields) {
    const name = field.name;
    let value = name in overrides ? overrides[name] : name in top ? top[name] : event.props[name];
    if (value === undefined) value = field.defaultValue() ?? null;
    if (value !== null && typeof value === 'object' && field.type.typeName === 'string') value = JSON.stringify(value);
    record[name] = value;
  }
  return record;
}

function encodeRecord(type: avro.Type, record: Record<string, unknown>): Buffer {
  const problems: string[] = [];
  if (!type.isValid(record, { errorHook: (path) => problems.push(path.join('.') || '(record)') })) {
    throw new Error(`does not fit the Avro schema ${type.name ?? ''} at ${problems.join(', ')}`);
  }
  return type.toBuffer(record);
}

/**
 * Registry answers: 401/403 and 4xx (incompatible 409, invalid 422, unknown id 404) are config;
 * the rest is retried. The client (mappersmith) reports a network failure as status 400 with
 * the socket error as text, so those are told apart by the error code in the message.
 */
const NETWORK =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)\b|socket hang up|[Tt]imeout/;

function registryFailure(err: unknown, doing: string): SinkError {
  const text = (err as Error).message ?? String(err);
  const status = NETWORK.test(text) ? undefined : (err as { status?: unknown }).status;
  const message = `schema registry, ${doing}: ${text}`;
  if (typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new SinkError('fatal', message, { errorType: `registry_${status}`, cause: err });
  }
  return new SinkError('retry', message, {
    errorType: typeof status === 'number' ? `registry_${status}` : 'registry_unreachable',
    cause: err,
  });
}
