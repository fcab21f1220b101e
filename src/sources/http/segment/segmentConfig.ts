import { z } from 'zod';

/**
 * The `segment` config section: the Segment-compatible API under `/v1/` (docs/segment.md).
 * Write keys are redacted by `check-config` and the admin API (src/config/redact.ts) and never
 * logged; a browser's analytics.js shows its key to anyone, so they identify a sender more
 * than they protect a secret, but they still gate who may write.
 */
export const segmentSchema = z
  .strictObject({
    /** Serve POST /v1/track, /v1/page, ... /v1/batch (off by default). */
    enabled: z.boolean().default(false),
    /** Write keys a sender may use (HTTP Basic user name, or `writeKey` in the body as analytics.js sends it). */
    writeKeys: z.array(z.string().min(8, 'a write key needs at least 8 characters')).default([]),
    /**
     * Derive a valid Beacon type from any track call's event name (src/event/compatibleType.ts:
     * kept when it matches server.limits.typePattern, else "Order Completed" ->
     * "Order_Completed.<10 hex>"); the original name is kept in `meta.segment.event`. Off: the
     * name must match server.limits.typePattern as it is, else the message is refused.
     */
    normalizeEventNames: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    if (s.enabled && s.writeKeys.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['writeKeys'],
        message: 'segment.enabled needs at least one write key in segment.writeKeys',
      });
    }
  });

export type SegmentConfig = z.output<typeof segmentSchema>;
