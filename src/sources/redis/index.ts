import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SourceDefinition } from '../source.js';
import { sourceConfigSchema } from '../sourceConfig.js';
import { RedisSource } from './redisSource.js';

export const redisSourceConfigSchema = sourceConfigSchema('redis', {
  url: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  password: z.string().optional(),
  /** `list`: pop from a list (as the Pushtech tracker fills it); `stream`: read a stream with a consumer group. */
  mode: z.enum(['list', 'stream']).default('list'),
  /** The list or stream key. */
  key: z.string().min(1),
  /** list: where a popped message waits until its events are durable; recovered on start. Default `<key>:processing:<name>`. */
  processingKey: z.string().min(1).optional(),
  /** list: the end messages are popped from; `right` pairs with producers that LPUSH (first in, first out). */
  pop: z.enum(['right', 'left']).default('right'),
  /** stream: consumer group name (created on start, with the stream when missing). */
  group: z.string().min(1).default('beacon'),
  /** stream: this consumer's name in the group; keep it stable so pending messages are found again after a restart. Default `<host>-<name>`. */
  consumer: z.string().min(1).optional(),
  /** stream: the entry field that holds the message (the redis sink writes `event`). */
  field: z.string().min(1).default('event'),
  /** stream: where a newly created group starts: every entry already in the stream, or only new ones. */
  start: z.enum(['earliest', 'latest']).default('earliest'),
  /** Most messages taken (and emitted together) per read. */
  batch: z.number().int().min(1).max(10_000).default(100),
  /** How long one blocking read waits for a message. */
  blockMs: duration().default(1000),
});

export type RedisSourceConfig = z.output<typeof redisSourceConfigSchema>;

/** `redis`: events from a Redis list (reliable-queue pattern) or stream (consumer group). */
export const redisSource: SourceDefinition<typeof redisSourceConfigSchema> = {
  type: 'redis',
  configSchema: redisSourceConfigSchema,
  secretKeys: ['password'],
  create: (config, context) => new RedisSource(config, context),
};
