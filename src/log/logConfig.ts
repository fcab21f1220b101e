import { z } from 'zod';
import { jetstreamLogSchema } from './jetstream/jetstreamConfig.js';
import { localLogSchema } from './local/localLogConfig.js';

/** `local`: files under dataDir (one machine); `jetstream`: a NATS JetStream stream shared by collector and dispatcher processes (docs/log.md). */
export const logSchema = z.discriminatedUnion('type', [localLogSchema, jetstreamLogSchema]);

/** The whole default when `log` is absent: a local log with its own defaults. */
export const LOG_DEFAULT = {
  type: 'local',
  maxBytes: 10 * 1024 ** 3,
  segmentBytes: 64 * 1024 * 1024,
  cursorSyncMs: 50,
  retryAfterSeconds: 5,
} as const;

export type LogConfig = z.output<typeof logSchema>;
