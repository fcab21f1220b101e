import { z } from 'zod';
import { duration } from '../../config/units.js';
import { templateString } from '../eventTemplate.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { RedisSink } from './redisSink.js';

export const redisConfigSchema = sinkConfigSchema('redis', {
  /** `redis://[user@]host:port[/db]` or `rediss://` for TLS. Put the password in `password`. */
  url: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  password: z.string().optional(),
  /**
   * `stream`: `XADD key [MAXLEN ~ n] * <field> <event>`; `list`: `LPUSH`/`RPUSH key <event>`;
   * `pubsub`: `PUBLISH key <event>` (only subscribers connected at that moment get it).
   */
  mode: z.enum(['stream', 'list', 'pubsub']).default('stream'),
  /** Stream key, list key or channel, templated from event fields, e.g. `beacon:{type}`. */
  key: templateString(),
  /** stream: the entry field that holds the encoded event. */
  field: z.string().min(1).default('event'),
  /** stream: trim to about this many entries on every add (`MAXLEN ~`); no trimming when absent. */
  maxLen: z.number().int().min(1).optional(),
  /** list: `lpush` (consumers pop from the right, the Redis reliable-queue pattern) or `rpush`. */
  push: z.enum(['lpush', 'rpush']).default('lpush'),
  /** Send each batch as one MULTI/EXEC transaction (all or nothing) instead of a plain pipeline. */
  transaction: z.boolean().default(true),
  /** Connect timeout, and the longest wait for a batch's replies. */
  timeoutMs: duration().default(10_000),
});

export type RedisSinkConfig = z.output<typeof redisConfigSchema>;

/** `redis`: adds each batch to a stream, a list or a pub/sub channel in one round trip. */
export const redisSink: SinkDefinition<typeof redisConfigSchema> = {
  type: 'redis',
  configSchema: redisConfigSchema,
  secretKeys: ['password'],
  create: (config, context) => new RedisSink(config, context),
};
