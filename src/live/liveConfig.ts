import { z } from 'zod';
import { byteSize, duration } from '../config/units.js';

/** The `/live` WebSocket stream (docs/live.md): bounds that keep a slow viewer from costing anyone else. */
export const liveSchema = z.strictObject({
  /** Viewers connected at once (per collector process); more are closed with 1013. */
  maxViewers: z.number().int().min(0).default(100),
  /** Events waiting for one viewer's socket; past this, its events are dropped (and counted). */
  viewerMaxEvents: z.number().int().min(1).default(1000),
  /** Bytes waiting for one viewer's socket (the same queue, measured in bytes). */
  viewerMaxBytes: byteSize().default(1024 * 1024),
  /** A viewer's socket counts as backed up once `bufferedAmount` reaches this. */
  socketMaxBytes: byteSize().default(256 * 1024),
  /** A viewer that stays behind (backed up or dropping) this long is closed with 1013. */
  maxBehind: duration().default(10_000),
  /** Multi-process mode: events the primary may have in flight to one collector; past this they are dropped for it. */
  collectorMaxEvents: z.number().int().min(1).default(10_000),
});

export type LiveConfig = z.output<typeof liveSchema>;
