import { z } from 'zod';

/**
 * The `ga4` config section: the GA4 Measurement Protocol (docs/protocols.md#ga4). A request
 * names its stream with `measurement_id` (web) or `firebase_app_id` (apps) and proves it may
 * write with the stream's `api_secret`, both in the query string, as Google's endpoint takes
 * them. The secrets are redacted by `check-config` and the admin API and never logged.
 */
const streamSchema = z
  .strictObject({
    /** A web stream's measurement id (`G-...`). */
    measurementId: z.string().min(1).optional(),
    /** An app stream's Firebase app id. */
    firebaseAppId: z.string().min(1).optional(),
    /** The stream's Measurement Protocol API secret. */
    apiSecret: z.string().min(1, 'apiSecret cannot be empty'),
  })
  .superRefine((s, ctx) => {
    if ((s.measurementId === undefined) === (s.firebaseAppId === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['measurementId'],
        message: 'a ga4 stream needs exactly one of measurementId (web) or firebaseAppId (app)',
      });
    }
  });

export const ga4Schema = z
  .strictObject({
    /** Serve POST /mp/collect and /debug/mp/collect (off by default). */
    enabled: z.boolean().default(false),
    /** The streams accepted, each with its API secret. */
    streams: z.array(streamSchema).default([]),
  })
  .superRefine((s, ctx) => {
    if (s.enabled && s.streams.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['streams'],
        message: 'ga4.enabled needs at least one stream in ga4.streams ({measurementId, apiSecret})',
      });
    }
  });

export type Ga4Config = z.output<typeof ga4Schema>;
export type Ga4Stream = Ga4Config['streams'][number];
