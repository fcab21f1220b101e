import { z } from 'zod';
import { jetstreamLogSchema } from './jetstream/jetstreamConfig.js';
import { localLogSchema } from './local/localLogConfig.js';

/**
 * `local`: files under dataDir (one machine); `jetstream`: a NATS JetStream stream shared by collector and dispatcher processes (docs/log.md).
 * A `log` without `type` is the local log, so `log: { maxBytes: 2GiB }` or `BEACON_LOG__MAXBYTES` alone tunes the default.
 */
export const logSchema = z.preprocess(
  (value) => (isPlainObject(value) && value.type === undefined ? { ...value, type: 'local' } : value),
  z.discriminatedUnion('type', [localLogSchema, jetstreamLogSchema]),
);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The whole default when `log` is absent: a local log with its own defaults. */
export const LOG_DEFAULT = {
  type: 'local',
  maxBytes: 10 * 1024 ** 3,
  segmentBytes: 64 * 1024 * 1024,
  cursorSyncMs: 50,
  retryAfterSeconds: 5,
} as const;

export type LogConfig = z.output<typeof logSchema>;
