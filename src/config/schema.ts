import { z } from 'zod';
import { alertsSchema, checkAlertSinks } from '../alerts/schema.js';
import { apiSchema } from '../api/apiConfig.js';
import { dispatchSchema } from '../dispatch/dispatchConfig.js';
import { enrichSchema } from '../enrich/enrichConfig.js';
import { liveSchema } from '../live/liveConfig.js';
import { LOG_DEFAULT, logSchema } from '../log/logConfig.js';
import { loggingSchema } from '../ops/loggingConfig.js';
import { checkBadStreamSink } from '../schemas/badStreamCheck.js';
import { schemasSchema } from '../schemas/schemasConfig.js';
import { SINK_DEFINITIONS } from '../sinks/registry.js';
import { ga4Schema } from '../sources/http/ga4/ga4Config.js';
import { plausibleSchema } from '../sources/http/plausible/plausibleConfig.js';
import { posthogSchema } from '../sources/http/posthog/posthogConfig.js';
import { segmentSchema } from '../sources/http/segment/segmentConfig.js';
import { serverSchema } from '../sources/http/serverConfig.js';
import { snowplowSchema } from '../sources/http/snowplow/snowplowConfig.js';
import { umamiSchema } from '../sources/http/umami/umamiConfig.js';
import { SOURCE_DEFINITIONS } from '../sources/registry.js';
import { storeSchema } from '../store/storeConfig.js';
import { refineSqlStore } from '../store/sql/index.js';
import { namedPartsSchema, registryUnion } from './partsSchema.js';

/**
 * The one source of truth for Beacon's configuration: types, defaults, `check-config` and the
 * docs all come from here. This file only assembles: each section's schema lives beside the
 * part it configures, and `sinks`/`sources` are built from their registries. Every object is
 * strict so a misspelt key is an error, not a no-op.
 */

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    dataDir: z.string().default('./data'),
    log: logSchema.default(LOG_DEFAULT),
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
    /** The Snowplow tracker protocol: POST /com.snowplowanalytics.snowplow/tp2, GET /i (docs/protocols.md#snowplow). */
    snowplow: snowplowSchema.prefault({}),
    /** The PostHog capture API, Plausible's, Umami's and the GA4 Measurement Protocol (docs/protocols.md). */
    posthog: posthogSchema.prefault({}),
    plausible: plausibleSchema.prefault({}),
    umami: umamiSchema.prefault({}),
    ga4: ga4Schema.prefault({}),
    /** Per-type JSON Schemas for event props, and what happens to invalid events (docs/schemas.md). */
    schemas: schemasSchema.prefault({}),
    /** Queue sources (RabbitMQ, NATS, ...); the HTTP collector is always on. */
    sources: namedPartsSchema('source', registryUnion(SOURCE_DEFINITIONS)).default([]),
    sinks: namedPartsSchema('sink', registryUnion(SINK_DEFINITIONS)).default([]),
  })
  .superRefine(checkAlertSinks)
  // A SQL store reads the table of the sink it names: that sink must exist, be of its type and map id, type, ts and props.
  .superRefine(refineSqlStore)
  // Invalid events must have somewhere to go: see checkBadStreamSink.
  .superRefine(checkBadStreamSink);

export type BeaconConfig = z.output<typeof configSchema>;
export type { ServerConfig, LimitsConfig } from '../sources/http/serverConfig.js';
export type { LogConfig } from '../log/logConfig.js';
export type { DispatchConfig } from '../dispatch/dispatchConfig.js';
export type { EnrichConfig } from '../enrich/enrichConfig.js';
export type { LiveConfig } from '../live/liveConfig.js';
export type { SinkConfig } from '../sinks/registry.js';
export type { SourceConfig } from '../sources/registry.js';
export type { SegmentConfig } from '../sources/http/segment/segmentConfig.js';
export type { SnowplowConfig } from '../sources/http/snowplow/snowplowConfig.js';
export type { SchemasConfig } from '../schemas/schemasConfig.js';
export type { ApiConfig } from '../api/apiConfig.js';

/** What `beacon start` runs with no --config: one process, local log, a file sink. */
export const EMBEDDED_DEFAULTS = {
  sinks: [{ name: 'archive', type: 'file', path: './data/out/events.ndjson', codec: 'json' }],
} as const;
