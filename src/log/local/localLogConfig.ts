import { z } from 'zod';
import { byteSize } from '../../config/units.js';

/** `log.type: local`: append-only segment files under dataDir (one machine; docs/log.md). */
export const localLogSchema = z.strictObject({
  type: z.literal('local'),
  /** Total size of retained log segments; when reached, appends are refused with 503. */
  maxBytes: byteSize().default(10 * 1024 ** 3),
  segmentBytes: byteSize().default(64 * 1024 * 1024),
  /** How often a cursor's committed position is persisted (a crash re-delivers at most this much). */
  cursorSyncMs: z.number().int().min(0).default(50),
  /** Retry-After sent with 503 when the log is full. */
  retryAfterSeconds: z.number().int().min(1).default(5),
});
