import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SourceDefinition } from '../source.js';
import { sourceConfigSchema } from '../sourceConfig.js';
import { AmqpSource } from './amqpSource.js';

const tlsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** PEM file of the CA that signed the server certificate (default: the system CAs). */
  ca: z.string().optional(),
  servername: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
});

const declareSchema = z.strictObject({
  /** Declare the queue durable (survives a broker restart). */
  durable: z.boolean().default(true),
  /** Also bind the queue to this exchange (which must exist) with `routingKey`. */
  exchange: z.string().min(1).optional(),
  routingKey: z.string().default('#'),
});

export const amqpConfigSchema = sourceConfigSchema('amqp', {
  /** `amqp://user:password@host:5672/vhost` (or `amqps://`); instead of host/port/user/password/vhost. Redacted. */
  url: z.url({ protocol: /^amqps?$/ }).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65_535).default(5672),
  user: z.string().default('guest'),
  /** Redacted by check-config and the admin API. */
  password: z.string().default('guest'),
  vhost: z.string().default('/'),
  tls: tlsSchema.optional(),
  /** The queue consumed. */
  queue: z.string().min(1),
  /** Declare the queue (and a binding) before consuming; without it the queue must exist. */
  declare: z.union([z.boolean(), declareSchema]).default(false),
  /** Most unacknowledged messages held at once (basic.qos prefetch); also how many are emitted concurrently. */
  prefetch: z.number().int().min(1).max(10_000).default(100),
  /**
   * For producers that do not send Beacon events (e.g. Canopsis): each message is one JSON
   * object that becomes the `props` of one event of this type. The message's exchange and
   * routing key are kept in `meta.amqp` either way.
   */
  wrapAs: z.string().min(1).optional(),
  /** Longest wait between reconnect attempts, and after the log refused a message. */
  maxBackoff: duration().default(30_000),
}).superRefine((config, ctx) => {
  if ((config.url === undefined) === (config.host === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['host'], message: 'set exactly one of "url" or "host"' });
  }
});

export type AmqpSourceConfig = z.output<typeof amqpConfigSchema> & { name: string };

/** `amqp`: consumes a RabbitMQ queue; a message is acked only once its events are durable in the log. */
export const amqpSource: SourceDefinition<typeof amqpConfigSchema> = {
  type: 'amqp',
  configSchema: amqpConfigSchema,
  // A url's password is masked by check-config's URL rule; the rest of the url stays readable.
  secretKeys: ['password'],
  create: (config, context) => new AmqpSource(config, context),
};
