import { z } from 'zod';
import { SINK_DEFINITIONS } from '../sinks/registry.js';
import { SOURCE_DEFINITIONS } from '../sources/registry.js';
import { byteSize, duration } from './units.js';

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

const logSchema = z.discriminatedUnion('type', [localLogSchema]);

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

const enrichSchema = z.strictObject({
  ua: enrichUaSchema.prefault({}),
  bots: enrichBotsSchema.prefault({}),
  geo: enrichGeoSchema.prefault({}),
  ip: enrichIpSchema.prefault({}),
  duplicates: enrichDuplicatesSchema.prefault({}),
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
  /** Queue sources (RabbitMQ, NATS, ...); the HTTP collector is always on. */
  sources: namedPartsSchema('source', SOURCE_DEFINITIONS.map((d) => d.configSchema)).default([]),
  sinks: namedPartsSchema('sink', SINK_DEFINITIONS.map((d) => d.configSchema)).default([]),
});

export type BeaconConfig = z.output<typeof configSchema>;
export type ServerConfig = BeaconConfig['server'];
export type LimitsConfig = ServerConfig['limits'];
export type LogConfig = BeaconConfig['log'];
export type DispatchConfig = BeaconConfig['dispatch'];
export type EnrichConfig = BeaconConfig['enrich'];
export type LiveConfig = BeaconConfig['live'];

/** What `beacon start` runs with no --config: one process, local log, a file sink. */
export const EMBEDDED_DEFAULTS = {
  sinks: [{ name: 'archive', type: 'file', path: './data/out/events.ndjson', codec: 'json' }],
} as const;
