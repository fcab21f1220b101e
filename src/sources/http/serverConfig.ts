import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';

/**
 * The `server` config section: the HTTP collector's listener, its TLS, CORS and the limits
 * every request is held to. Assembled into the whole config by src/config/schema.ts.
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
  /** Deepest nesting of a whole JSON body, checked on the raw bytes before it is parsed. */
  jsonDepth: z.number().int().min(2).max(1000).default(64),
  /** Most array elements plus object members in one JSON body, checked before it is parsed. */
  jsonElements: z.number().int().min(1).max(10_000_000).default(100_000),
  /** A body (after decompression) above this size is "large": only largeBodiesAtOnce of them are read and parsed at once. */
  largeBodyBytes: byteSize().default(64 * 1024),
  /** Large bodies read and parsed at once per process; one more is answered 503 with Retry-After. */
  largeBodiesAtOnce: z.number().int().min(1).max(1000).default(4),
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

export const serverSchema = z.strictObject({
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
  /**
   * How far the JavaScript heap may grow past its live data before a full collection, in percent
   * (V8's heap growing factor); 0 leaves V8's own, up to 300 % on a machine with much memory.
   * Lower keeps RSS flat under sustained load for slightly more GC work (src/ops/heapGrowth.ts).
   */
  heapGrowthPercent: z.number().int().min(0).max(400).default(25),
  /**
   * With one process on the local log: deliver (log reader, sinks, store, alerts, API) on a
   * worker thread of its own, so intake and delivery can use two cores without IPC per event.
   * `auto` (the default) is on with two or more cores: on an idle 2-core machine batches went
   * ~30 % faster and the pixel's p99 fell by ~40 % at the same CPU per event
   * (docs/performance.md, "The delivery thread as the default", 2026-12-07).
   */
  deliveryThread: z.enum(['auto', 'on', 'off']).default('auto'),
  keepAliveTimeoutMs: z.number().int().min(0).default(65_000),
  /** A client must send its whole request within this time (slow-trickle protection). */
  requestTimeoutMs: z.number().int().min(1000).default(30_000),
  headersTimeoutMs: z.number().int().min(1000).default(10_000),
  /** Serve HTTPS instead of HTTP on `port` (every endpoint); absent: plain HTTP. */
  tls: tlsSchema.optional(),
  cors: corsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
});

export type ServerConfig = z.output<typeof serverSchema>;
export type LimitsConfig = ServerConfig['limits'];
