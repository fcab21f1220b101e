import { z } from 'zod';
import { duration } from '../../config/units.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { checkFieldPath, checkTemplate } from './recordFields.js';

/** The `kafka` sink's config (its own file, so the sink and the definition in index.ts import it without a cycle). */

const avroSchemaSource = z.union([
  /** Path to a `.avsc` file (JSON). */
  z.string().min(1),
  /** The schema inline, as an object. */
  z.record(z.string(), z.unknown()),
]);

const avroSchema = z
  .strictObject({
    /** Confluent-compatible schema registry, e.g. http://registry:8081. */
    schemaRegistry: z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      auth: z.strictObject({ username: z.string(), password: z.string() }).optional(),
    }),
    /** A value schema already registered: its id is written into every message. */
    valueSchemaId: z.number().int().min(0).optional(),
    /** A value schema (file path or inline) registered on start under `<topic>-value`. */
    valueSchema: avroSchemaSource.optional(),
    /** A key schema already registered; by default Divolte's identifier schema is registered under `<topic>-key`. */
    keySchemaId: z.number().int().min(0).optional(),
  })
  .refine((a) => a.valueSchemaId === undefined || a.valueSchema === undefined, {
    message: 'give avro.valueSchemaId or avro.valueSchema, not both',
    path: ['valueSchemaId'],
  });

/**
 * Most client resends one attempt may make: each can wait requestTimeoutMs, and the dispatcher
 * retries anyway. 20 as before `retries` changed meaning, so no config that loaded stops loading.
 */
const MAX_RETRIES = 20;
const RETRIES_MESSAGE = `retries is how many times the Kafka client resends a failed produce within one attempt: a whole number from 0 to ${MAX_RETRIES}; leave it out for the least the producer allows (1 when idempotent, else 0), since the dispatcher retries the batch`;

export const kafkaConfigSchema = sinkConfigSchema('kafka', {
  /** `json` and `line` write the shared codecs' bytes; `avro` writes the Confluent wire format (needs `avro`). */
  codec: z.enum(['json', 'line', 'avro']).default('json'),
  /** Bootstrap servers, `host:port`. */
  brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).min(1),
  /** Topic, with `{field}` placeholders filled from each event, e.g. `events.{type}`. `{props.app|web}` gives a fallback. */
  topic: z.string().min(1).superRefine(checkTemplate).default('events'),
  /** Event field whose value is the message key (`partyId` as in Divolte); events without it are keyed by `id`. */
  key: z.string().superRefine(checkFieldPath).default('partyId'),
  /** `all` (-1): every in-sync replica has the message; `1`: the leader only. */
  acks: z.union([z.literal('all'), z.literal(-1), z.literal(1)]).default('all'),
  /** Idempotent producer (needs acks all): the client's own resends never duplicate a message. */
  idempotent: z.boolean().default(true),
  /** Batch compression. Only gzip is built into the client (snappy, lz4, zstd need extra codec packages). */
  compression: z.enum(['none', 'gzip']).default('none'),
  clientId: z.string().min(1).default('beacon'),
  /** Messages larger than this (key + value bytes) are dead-lettered before sending; match the topic's max.message.bytes. */
  maxMessageBytes: z.number().int().min(1024).default(1_000_000),
  connectionTimeoutMs: duration().default(3_000),
  /** Longest wait for the broker's answer to one produce request. */
  requestTimeoutMs: duration().default(30_000),
  /**
   * How many times kafkajs itself resends a failed produce inside one attempt (within the
   * attempt deadline, requestTimeoutMs); then the attempt fails, shows in the sink's status,
   * and the dispatcher retries the batch with back-off. The dispatcher owns retries, so the
   * default is the least kafkajs allows: 1 for the idempotent producer, 0 without it.
   */
  retries: z
    .number({ error: RETRIES_MESSAGE })
    .int({ error: RETRIES_MESSAGE })
    .min(0, { error: RETRIES_MESSAGE })
    .max(MAX_RETRIES, { error: RETRIES_MESSAGE })
    .optional(),
  /** TLS: `true` for the system CAs, or files and options. */
  ssl: z
    .union([
      z.boolean(),
      z.strictObject({
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        passphrase: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
        servername: z.string().optional(),
      }),
    ])
    .default(false),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string(),
      password: z.string(),
    })
    .optional(),
  avro: avroSchema.optional(),
})
  .refine((c) => kafkaCodec(c) !== 'avro' || c.avro !== undefined, {
    message: 'codec avro needs an `avro` section (schemaRegistry, ...)',
    path: ['avro'],
  })
  .refine((c) => !c.idempotent || c.acks === 'all' || c.acks === -1, {
    message: 'an idempotent producer needs acks all; set idempotent: false for acks 1',
    path: ['acks'],
  })
  .refine((c) => !c.idempotent || c.retries !== 0, {
    message:
      'retries: 0 needs idempotent: false (kafkajs refuses an idempotent producer that may not resend once); leave retries out for the least each allows',
    path: ['retries'],
  });

export type KafkaSinkConfig = z.output<typeof kafkaConfigSchema>;

/**
 * The sink's codec. `sinkConfigSchema` types `codec` from the shared base (json | line); this
 * sink's own field replaces it at run time and adds `avro`, which is not a shared codec (see avro.ts).
 */
export function kafkaCodec(config: { codec: string }): 'json' | 'line' | 'avro' {
  return config.codec as 'json' | 'line' | 'avro';
}
export type KafkaAvroConfig = NonNullable<KafkaSinkConfig['avro']>;

/** The resends kafkajs gets: `retries` when set, else the least it allows (1 for the idempotent producer, 0 without). */
export function kafkaRetries(config: { retries?: number | undefined; idempotent: boolean }): number {
  return config.retries ?? (config.idempotent ? 1 : 0);
}
