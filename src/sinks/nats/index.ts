import { z } from 'zod';
import { duration } from '../../config/units.js';
import { templateString } from '../eventTemplate.js';
import type { SinkDefinition } from '../sink.js';
import { batchWithDefaults, DEFAULT_BATCH, MAX_IN_FLIGHT, sinkConfigSchema } from '../sinkConfig.js';
import { NatsSink } from './natsSink.js';

const streamSchema = z.strictObject({
  /** The JetStream stream the subjects belong to. */
  name: z.string().regex(/^[^\s.*>]+$/, 'a stream name has no spaces, ".", "*" or ">"'),
  /** Subjects the stream captures when Beacon creates it, e.g. `events.>`. */
  subjects: z.array(z.string().min(1)).min(1),
  /** Create the stream on start when it does not exist (an existing stream is left as it is). */
  create: z.boolean().default(false),
  storage: z.enum(['file', 'memory']).default('file'),
  /** How long the stream keeps messages when Beacon creates it (0: no limit). */
  maxAge: duration().default(0),
  /** The window in which JetStream drops a message whose Nats-Msg-Id (the event id) it has seen. */
  duplicateWindow: duration().default(120_000),
});

export const natsConfigSchema = sinkConfigSchema('nats', {
  /** One server URL or several (`nats://host:4222`). */
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('nats://127.0.0.1:4222'),
  /** Subject each event is published to, templated from event fields, e.g. `events.{type}`. */
  subject: templateString(),
  /** Publish to JetStream and wait for its acks (stored), instead of core NATS (flushed to the server). */
  jetstream: z.boolean().default(false),
  stream: streamSchema.optional(),
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
  /** Connect timeout, and the longest wait for a flush or a batch's JetStream acks. */
  timeoutMs: duration().default(10_000),
  /**
   * The client takes publishes and flushes from several callers at once, and JetStream drops a
   * re-sent event by its id, so several batches may be in flight. One by default: a batch's
   * publishes are already all in flight together, so only its last round trip overlaps (not
   * measured yet); above 1, subjects no longer get events in log order.
   */
  batch: batchWithDefaults(DEFAULT_BATCH, { default: 1, max: MAX_IN_FLIGHT }).prefault({}),
}).superRefine((config, ctx) => {
  if (config.stream && !config.jetstream)
    ctx.addIssue({ code: 'custom', path: ['stream'], message: '`stream` needs `jetstream: true`' });
});

export type NatsSinkConfig = z.output<typeof natsConfigSchema>;

/** `nats`: publishes each event to a subject, on core NATS or JetStream (with acks and de-duplication by event id). */
export const natsSink: SinkDefinition<typeof natsConfigSchema> = {
  type: 'nats',
  configSchema: natsConfigSchema,
  secretKeys: ['pass', 'token'],
  create: (config, context) => new NatsSink(config, context),
};
