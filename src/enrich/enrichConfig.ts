import { z } from 'zod';
import { duration } from '../config/units.js';

/** Enrichment steps run on every event before it is written to the log (docs/enrichment.md). */
const enrichUaSchema = z.strictObject({
  /** Parse the user agent into `meta.ua` (browser, OS, device). */
  enabled: z.boolean().default(true),
  /** Distinct user agents whose parse is kept in memory. */
  cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
});

const enrichBotsSchema = z.strictObject({
  /** Flag events from crawlers and tools with `meta.bot: true`. */
  enabled: z.boolean().default(true),
  /** Drop flagged events instead of writing them (counted as BEACON_E_BOT_DROPPED). */
  drop: z.boolean().default(false),
  /** Extra regular expressions (case-insensitive) a user agent is matched against, besides isbot's list. */
  patterns: z.array(z.string()).default([]),
  cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
});

const enrichGeoSchema = z.strictObject({
  /** Look the client IP up in a MaxMind-format database: `meta.geo.country` (and city/region with a city database). */
  enabled: z.boolean().default(true),
  /** Path of an .mmdb file (GeoLite2-City, DB-IP city lite...); unset: the bundled DB-IP country database. */
  mmdb: z.string().min(1).optional(),
  cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
});

const enrichIpSchema = z.strictObject({
  /** `truncate` keeps a network prefix, `full` drops the IP, `none` writes it as received. */
  anonymize: z.enum(['truncate', 'full', 'none']).default('truncate'),
  ipv4Prefix: z.number().int().min(0).max(32).default(24),
  ipv6Prefix: z.number().int().min(0).max(128).default(48),
});

const enrichDuplicatesSchema = z.strictObject({
  /** Flag repeated requests and repeated client-given event ids with `meta.duplicate: true`. */
  enabled: z.boolean().default(true),
  /** `flag` keeps duplicates (flagged); `drop` leaves them out (counted as BEACON_E_DUPLICATE_DROPPED). */
  action: z.enum(['flag', 'drop']).default('flag'),
  /** Short-term request memory: two rotating Bloom filters of request fingerprints, in memory only. */
  memory: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Distinct requests per filter; the memory covers the last 1 to 2 times this many. */
      expectedItems: z.number().int().min(100).max(100_000_000).default(100_000),
      /** Chance that a new request is wrongly flagged (both filters together). */
      falsePositiveRate: z.number().gt(0).max(0.5).default(0.001),
    })
    .prefault({}),
  /** Idempotency memory of client-given event ids, persisted under dataDir/dedupe/. */
  ids: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How long an id is remembered. */
      ttl: duration().default(24 * 3600 * 1000),
      /** Most ids remembered per collector process; past this the oldest are forgotten. */
      maxIds: z.number().int().min(1).max(10_000_000).default(100_000),
    })
    .prefault({}),
});

/** A cookie name: an RFC 6265 token, so it needs no quoting in Cookie and Set-Cookie headers. */
const cookieName = () =>
  z
    .string()
    .regex(
      /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/,
      "expected a cookie name: letters, digits and !#$%&'*+.^_`|~- (at most 64)",
    );

/** First-party ids for browser events (docs/enrichment.md#identities), set by the HTTP collector. */
const enrichIdentitySchema = z
  .strictObject({
    /**
     * `cookie`: `partyId` and `sessionId` live in first-party cookies the collector sets;
     * `cookieless`: `partyId` is a salted hash of the client IP and user agent whose salt changes
     * every UTC day (nothing is stored on the device, no `sessionId`); `off`: no ids are added.
     */
    mode: z.enum(['cookie', 'cookieless', 'off']).default('cookie'),
    /** Requests with `DNT: 1` or `Sec-GPC: 1` get no ids and no cookies (their events are still collected). */
    honorPrivacySignals: z.boolean().default(true),
    /** Name of the cookie that holds `partyId`. */
    partyCookie: cookieName().default('beacon_pid'),
    /** Name of the cookie that holds `sessionId`. */
    sessionCookie: cookieName().default('beacon_sid'),
    /** How long the party cookie lives after the last request (browsers cap cookies at 400 days). */
    partyMaxAge: duration().default(730 * 86_400_000),
    /** A session ends after this long without a request: the session cookie's lifetime, renewed on each request. */
    sessionIdle: duration().default(30 * 60_000),
    /** Cookie `Domain`, e.g. `example.com` to share the ids between the site and a collector on a subdomain; unset: the collector's host only. */
    domain: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,253}$/, 'expected a domain name such as example.com')
      .optional(),
    /** Cookie `Secure`: `auto` sets it when the request came over HTTPS (TLS, or `X-Forwarded-Proto: https` behind a trusted proxy). */
    secure: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /** Cookie `SameSite`; `none` (needed only for a collector on another site) requires `secure: true`. */
    sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
  })
  .superRefine((identity, ctx) => {
    if (identity.sameSite === 'none' && identity.secure !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['secure'],
        message: 'sameSite: none needs secure: true (browsers drop SameSite=None cookies without Secure)',
      });
    }
    if (identity.sessionIdle < 1000)
      ctx.addIssue({ code: 'custom', path: ['sessionIdle'], message: 'expected at least 1s' });
    if (identity.partyMaxAge < identity.sessionIdle) {
      ctx.addIssue({ code: 'custom', path: ['partyMaxAge'], message: 'expected at least as long as sessionIdle' });
    }
  });

/** The corruption check of checksummed payloads (docs/enrichment.md#corruption-check). */
const enrichCorruptionSchema = z.strictObject({
  /** Verify the checksum a client sends with a POST body (`?cs=`, FNV-1a 32 of the body); requests without `cs` are not checked. */
  enabled: z.boolean().default(true),
  /**
   * What to do with events whose checksum does not match (all flagged `meta.corrupt: true`):
   * `flag` writes them; `drop` leaves them out (counted as BEACON_E_CORRUPT_DROPPED);
   * `dead-letter` writes them to dataDir/dlq/corrupt-<partition>.ndjson with the reason instead of the log.
   */
  action: z.enum(['flag', 'drop', 'dead-letter']).default('flag'),
});

export const enrichSchema = z.strictObject({
  ua: enrichUaSchema.prefault({}),
  bots: enrichBotsSchema.prefault({}),
  geo: enrichGeoSchema.prefault({}),
  ip: enrichIpSchema.prefault({}),
  duplicates: enrichDuplicatesSchema.prefault({}),
  identity: enrichIdentitySchema.prefault({}),
  corruption: enrichCorruptionSchema.prefault({}),
  /** Write `meta.clockSkewMs` (server receive time minus the client's `ts`) when a client time is given. */
  clockSkew: z.boolean().default(true),
});

export type EnrichConfig = z.output<typeof enrichSchema>;
