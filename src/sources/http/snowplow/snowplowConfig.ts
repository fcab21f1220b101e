import { z } from 'zod';

/**
 * The `snowplow` config section: the Snowplow tracker protocol endpoints (`POST
 * /com.snowplowanalytics.snowplow/tp2`, `GET /i`, `GET /ice.png`; docs/protocols.md#snowplow).
 * App ids are not secrets (every page shows its own), so they are not redacted; they only say
 * which trackers may write.
 */
export const snowplowSchema = z.strictObject({
  /** Serve the Snowplow collector endpoints (off by default). */
  enabled: z.boolean().default(false),
  /** App ids (`aid`, a tracker's `appId`) whose events are accepted; empty: any app id, or none. */
  appIds: z.array(z.string().min(1, 'an app id cannot be empty').max(255)).default([]),
});

export type SnowplowConfig = z.output<typeof snowplowSchema>;
