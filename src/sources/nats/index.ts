import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SourceDefinition } from '../source.js';
import { sourceConfigSchema } from '../sourceConfig.js';
import { NatsSource } from './natsSource.js';

const jetstreamSchema = z.strictObject({
  /** The stream the durable consumer reads. */
  stream: z.string().min(1),
  /** Durable consumer name: shared by every Beacon that should split the messages. */
  durable: z.string().regex(/^[^\s.*>]+$/, 'a consumer name has no spaces, ".", "*" or ">"'),
  /** Create the consumer (explicit acks, filtered on `subject`) when it does not exist. */
  create: z.boolean().default(true),
  /** How long JetStream waits for an ack before redelivering a message. */
  ackWait: duration().default(30_000),
  /** Most unacknowledged messages JetStream hands this consumer. */
  maxAckPending: z.number().int().min(1).default(1000),
});

export const natsSourceConfigSchema = sourceConfigSchema('nats', {
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('nats://127.0.0.1:4222'),
  /** Subject to subscribe to (wildcards allowed); with `jetstream`, the consumer's filter. */
  subject: z.string().min(1),
  /** Core NATS: queue group, so several Beacons share the messages instead of each getting all. */
  queue: z.string().min(1).optional(),
  /** Read a JetStream durable consumer (at-least-once) instead of a core subscription (at-most-once). */
  jetstream: jetstreamSchema.optional(),
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
  /** Messages handled at once; their emits share the log's group commit. */
  concurrency: z.number().int().min(1).max(10_000).default(64),
}).superRefine((config, ctx) => {
  if (config.queue && config.jetstream)
    ctx.addIssue({
      code: 'custom',
      path: ['queue'],
      message: '`queue` is for core NATS; a JetStream durable is already shared by its consumers',
    });
});

export type NatsSourceConfig = z.output<typeof natsSourceConfigSchema>;

/** `nats`: events from a core NATS subject (queue group) or a JetStream durable consumer. */
export const natsSource: SourceDefinition<typeof natsSourceConfigSchema> = {
  type: 'nats',
  configSchema: natsSourceConfigSchema,
  secretKeys: ['pass', 'token'],
  create: (config, context) => new NatsSource(config, context),
};
