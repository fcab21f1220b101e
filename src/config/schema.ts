import { z } from 'zod';
import { SINK_DEFINITIONS } from '../sinks/registry.js';
import { SOURCE_DEFINITIONS } from '../sources/registry.js';
import { byteSize, duration } from './units.js';
import { alertsSchema, checkAlertSinks } from '../alerts/schema.js';
import { segmentSchema } from '../sources/http/segment/segmentConfig.js';
import { schemasSchema } from '../schemas/schemasConfig.js';
import { apiSchema } from '../api/apiConfig.js';
import { storeSchema } from '../store/storeConfig.js';
import { refineSqlStore } from '../store/sql/index.js';
import { jetstreamLogSchema } from '../log/jetstream/jetstreamConfig.js';

/**
 * The one source of truth for Beacon's configuration: types, defaults, `check-config` and the
 * docs all come from here. Every object is strict so a misspelt key is an error, not a no-op.
 */

const corsSchema = z.strictObject({
  /** Origins allowed to send from a browser; `*` allows any. */
  origins: z.array(z.string()).default(['*']),
  /** Send Access-Control-Allow-Credentials (needed for cookies); requires explicit origins. */
  credentials: z.boolean().default(false),
  maxAgeSeconds: z.number().int().min(0).default(86_400),
});

const limitsSchema = z.strictObject({
  /** Largest request body accepted on the wire. */
  bodyBytes: byteSize().default(1024 * 1024),
  /** Largest body after gzip/deflate decompression (a cap against decompression bombs). */
  decompressedBytes: byteSize().default(8 * 1024 * 1024),
  /** Most events in one POST /batch. */
  batchEvents: z.number().int().min(1).max(100_000).default(1000),
  /** Allowed event type names (a regular expression). */
  typePattern: z.string().default('^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  /** Largest `props` of one event, as JSON. */
  propsBytes: byteSize().default(64 * 1024),
  /** Deepest nesting of objects/arrays inside `props`. */
  propsDepth: z.number().int().min(1).max(64).default(8),
});

/** Beacon terminating TLS itself (small deployments; nginx in front stays the default at scale). PEM files, read at start. */
const tlsSchema = z.strictObject({
  /** Certificate file: the server's certificate, optionally followed by its intermediates. */
  cert: z.string().min(1),
  /** Private key file of that certificate (keep it readable by Beacon's user only). */
  key: z.string().min(1),
  /** Intermediate CA certificates to send with `cert` when that file holds only the server's own. */
  ca: z.string().min(1).optional(),
  /** How often the files are checked for a renewed certificate, which is then used without a restart; 0: never. */
  checkEvery: duration().default(60_000),
});

const serverSchema = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: z.number().int().min(0).max(65_535).default(8290),
  /** Take the client IP from X-Forwarded-For (only behind a proxy you trust). */
  trustProxy: z.boolean().default(false),
  /**
   * HTTP collector processes. `auto` is one per CPU core but one (so one process on 1-2 cores);
   * 1 runs everything in one process.
   * Each collector process writes its own log partition (see docs/architecture.md).
   */
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  keepAliveTimeoutMs: z.number().int().min(0).default(65_000),
  /** A client must send its whole request within this time (slow-trickle protection). */
  requestTimeoutMs: z.number().int().min(1000).default(30_000),
  headersTimeoutMs: z.number().int().min(1000).default(10_000),
  /** Serve HTTPS instead of HTTP on `port` (every endpoint); absent: plain HTTP. */
  tls: tlsSchema.optional(),
  cors: corsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
});

const localLogSchema = z.strictObject({
  type: z.literal('local'),
  /** Total size of retained log segments; when reached, appends are refused with 503. */
  maxBytes: byteSize().default(10 * 1024 ** 3),
  segmentBytes: byteSize().default(64 * 1024 * 1024),
  /** How often a cursor's committed position is persisted (a crash re-delivers at most this much). */
  cursorSyncMs: z.number().int().min(0).default(50),
  /** Retry-After sent with 503 when the log is full. */
  retryAfterSeconds: z.number().int().min(1).default(5),
});

/** `local`: files under dataDir (one machine); `jetstream`: a NATS JetStream stream shared by collector and dispatcher processes (docs/log.md). */
const logSchema = z.discriminatedUnion('type', [localLogSchema, jetstreamLogSchema]);

const dispatchSchema = z.strictObject({
  /** Longest back-off between attempts to a failing sink; it keeps probing at this interval. */
  maxFailoverDuration: duration().default(30_000),
  initialBackoff: duration().default(100),
  /** Log a sink's sent count every this many events (the Canopsis dispatcher's habit). */
  logEvery: z.number().int().min(0).default(1000),
  /** On shutdown, how long sinks may take to flush before Beacon exits anyway. */
  shutdownTimeout: duration().default(10_000),
});

const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

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
const cookieName = () => z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'expected a cookie name: letters, digits and !#$%&\'*+.^_`|~- (at most 64)');

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
    domain: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'expected a domain name such as example.com').optional(),
    /** Cookie `Secure`: `auto` sets it when the request came over HTTPS (TLS, or `X-Forwarded-Proto: https` behind a trusted proxy). */
    secure: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /** Cookie `SameSite`; `none` (needed only for a collector on another site) requires `secure: true`. */
    sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
  })
  .superRefine((identity, ctx) => {
    if (identity.sameSite === 'none' && identity.secure !== true) {
      ctx.addIssue({ code: 'custom', path: ['secure'], message: 'sameSite: none needs secure: true (browsers drop SameSite=None cookies without Secure)' });
    }
    if (identity.sessionIdle < 1000) ctx.addIssue({ code: 'custom', path: ['sessionIdle'], message: 'expected at least 1s' });
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

const enrichSchema = z.strictObject({
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

/** The `/live` WebSocket stream (docs/live.md): bounds that keep a slow viewer from costing anyone else. */
const liveSchema = z.strictObject({
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

/** A list of named, typed parts (sinks or sources) as a discriminated union built from a registry. */
function namedPartsSchema(kind: 'sink' | 'source', options: z.ZodObject[]) {
  const union =
    options.length >= 2
      ? z.discriminatedUnion('type', options as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]])
      : options.length === 1
        ? options[0]!
        : z.never();
  return z.array(union).superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    sinks.forEach((s, i) => {
      const name = (s as { name: string }).name;
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${kind} name "${name}" is used twice; names must be unique` });
      seen.add(name);
    });
  });
}

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  dataDir: z.string().default('./data'),
  log: logSchema.default({ type: 'local', maxBytes: 10 * 1024 ** 3, segmentBytes: 64 * 1024 * 1024, cursorSyncMs: 50, retryAfterSeconds: 5 }),
  dispatch: dispatchSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  enrich: enrichSchema.prefault({}),
  live: liveSchema.prefault({}),
  /** Alert rules and the channels (email, webhook) they notify (docs/alerts.md). */
  alerts: alertsSchema.prefault({}),
  /** The query and admin API: tokens with scopes, cache rules per endpoint class (docs/http-api.md). */
  api: apiSchema.prefault({}),
  /** Where the query API reads events: `embedded` (DuckDB under dataDir/store, the default), a SQL store, or `none` (docs/query-api.md). */
  store: storeSchema.prefault({ type: 'embedded' }),
  /** The Segment-compatible API under /v1/ (docs/segment.md). */
  segment: segmentSchema.prefault({}),
  /** Per-type JSON Schemas for event props, and what happens to invalid events (docs/schemas.md). */
  schemas: schemasSchema.prefault({}),
  /** Queue sources (RabbitMQ, NATS, ...); the HTTP collector is always on. */
  sources: namedPartsSchema('source', SOURCE_DEFINITIONS.map((d) => d.configSchema)).default([]),
  sinks: namedPartsSchema('sink', SINK_DEFINITIONS.map((d) => d.configSchema)).default([]),
})
  .superRefine(checkAlertSinks)
  // A SQL store reads the table of the sink it names: that sink must exist, be of its type and map id, type, ts and props.
  .superRefine(refineSqlStore)
  // Invalid events must have somewhere to go: see checkBadStreamSink.
  .superRefine(checkBadStreamSink);

/**
 * Schema-invalid events that go to the bad stream (`schemas.mode: bad`, and a queue source's in
 * `strict` mode) are delivered only to sinks with `badStream: only` or `include`; every other
 * sink commits past them. With schemas configured and no such sink, an invalid event would be
 * answered 2xx and reach no sink and no dead letter, so such a config is refused at load.
 */
function checkBadStreamSink(
  config: { schemas: { dir?: string | undefined; types: Record<string, string>; mode: 'bad' | 'strict'; requireSchema: boolean }; sources: unknown[]; sinks: unknown[] },
  ctx: z.RefinementCtx,
): void {
  const { schemas } = config;
  const checks = schemas.dir !== undefined || Object.keys(schemas.types).length > 0 || schemas.requireSchema;
  if (!checks) return;
  const toBadStream = schemas.mode === 'bad' || config.sources.length > 0;
  if (!toBadStream) return;
  const takesBad = config.sinks.some((s) => {
    const badStream = (s as { badStream?: string }).badStream;
    return badStream === 'only' || badStream === 'include';
  });
  if (takesBad) return;
  const message =
    schemas.mode === 'bad'
      ? 'schemas.mode is "bad" but no sink takes the bad stream, so invalid events would reach no destination: add `badStream: only` to a sink (e.g. a file sink for bad rows) or set schemas.mode: strict'
      : 'schemas.mode is "strict" but queue sources cannot refuse an event, so their invalid events go to the bad stream, and no sink takes it: add `badStream: only` to a sink (e.g. a file sink for bad rows)';
  ctx.addIssue({ code: 'custom', path: ['schemas', 'mode'], message });
}

export type BeaconConfig = z.output<typeof configSchema>;
export type ServerConfig = BeaconConfig['server'];
export type LimitsConfig = ServerConfig['limits'];
export type LogConfig = BeaconConfig['log'];
export type DispatchConfig = BeaconConfig['dispatch'];
export type EnrichConfig = BeaconConfig['enrich'];
export type LiveConfig = BeaconConfig['live'];
export type { SegmentConfig } from '../sources/http/segment/segmentConfig.js';
export type { SchemasConfig } from '../schemas/schemasConfig.js';
export type { ApiConfig } from '../api/apiConfig.js';

/** What `beacon start` runs with no --config: one process, local log, a file sink. */
export const EMBEDDED_DEFAULTS = {
  sinks: [{ name: 'archive', type: 'file', path: './data/out/events.ndjson', codec: 'json' }],
} as const;
