import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { templateString } from '../eventTemplate.js';
import { RabbitmqSink } from './rabbitmqSink.js';

const tlsSchema = z.strictObject({
  /** Connect with TLS (amqps). */
  enabled: z.boolean().default(true),
  /** PEM file of the CA that signed the server certificate (default: the system CAs). */
  ca: z.string().optional(),
  /** PEM files of a client certificate and key, for brokers that authenticate clients by certificate. */
  cert: z.string().optional(),
  key: z.string().optional(),
  /** Name checked against the server certificate (default: host). */
  servername: z.string().optional(),
  /** Refuse a server certificate that does not verify. Turn off only for tests. */
  rejectUnauthorized: z.boolean().default(true),
});

const declareSchema = z.strictObject({
  /** Exchange type used when the exchange is declared. */
  exchangeType: z.enum(['topic', 'direct', 'fanout', 'headers']).default('topic'),
  /** Declare the exchange or queue durable (survives a broker restart). */
  durable: z.boolean().default(true),
});

export const rabbitmqConfigSchema = sinkConfigSchema('rabbitmq', {
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(5672),
  user: z.string().default('guest'),
  /** Redacted by check-config and the admin API. */
  password: z.string().default('guest'),
  vhost: z.string().default('/'),
  tls: tlsSchema.optional(),
  /** Exchange each event is published to, with `routingKey`. Exclusive with `queue`. */
  exchange: z.string().optional(),
  /** Routing key, templated from event fields like the other broker sinks: `events.{type}`, `{props.kind|none}`, `{meta.amqp.routingKey}`. */
  routingKey: templateString().default('{type}'),
  /** Publish straight to this queue (through the default exchange). Exclusive with `exchange`. */
  queue: z.string().min(1).optional(),
  /** Declare the exchange (or queue) at connect time; without it a missing one is reported at open. */
  declare: z.union([z.boolean(), declareSchema]).default(false),
  /** Message body: the encoded event (`codec`), or only its `props` as JSON (the original message of a wrapped amqp source). */
  payload: z.enum(['event', 'props']).default('event'),
  /** Mark messages persistent (delivery mode 2) so a durable queue keeps them through a broker restart. */
  persistent: z.boolean().default(true),
  /** Ask the broker to return messages no queue is bound for, instead of dropping them silently. */
  mandatory: z.boolean().default(true),
  /** What to do with a returned (unroutable) message: try the batch again later, or dead-letter the message. */
  onUnroutable: z.enum(['retry', 'reject']).default('retry'),
  /** Time to connect (TCP, TLS and AMQP handshake). */
  connectTimeoutMs: duration().default(10_000),
  /** Longest wait for the broker to confirm a batch; past it the connection is dropped and the batch retried. */
  confirmTimeoutMs: duration().default(30_000),
  /** AMQP heartbeat, seconds (0 turns it off): a silent dead link is noticed within twice this. */
  heartbeatSeconds: z.number().int().min(0).max(600).default(30),
}).superRefine((config, ctx) => {
  if ((config.exchange === undefined) === (config.queue === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['exchange'],
      message: 'set exactly one of "exchange" (with "routingKey") or "queue"',
    });
  }
});

export type RabbitmqSinkConfig = z.output<typeof rabbitmqConfigSchema>;

/** `rabbitmq`: publishes each event as one persistent message and waits for publisher confirms. */
export const rabbitmqSink: SinkDefinition<typeof rabbitmqConfigSchema> = {
  type: 'rabbitmq',
  configSchema: rabbitmqConfigSchema,
  secretKeys: ['password'],
  create: (config, context) => new RabbitmqSink(config, context),
};
