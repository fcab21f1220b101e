import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/schema.js';
import type { ResendMarks } from '../../event/resendMarks.js';
import { compileRules } from '../../event/rules.js';
import type { Metrics } from '../../ops/metrics.js';
import type { StrictSchemaCheck } from '../../schemas/schemaGate.js';
import type { Emit } from '../source.js';
import type { BrowserIntake } from './browserIntake.js';
import { createCorsPolicy } from './cors.js';
import { createLargeBodyGate } from './largeBodies.js';
import { createBatchEndpoint } from './native/batchEndpoint.js';
import { createNativeIntake } from './native/nativeIntake.js';
import { createPixelEndpoint } from './native/pixelEndpoint.js';
import { createSingleEventPost } from './native/singleEventPost.js';
import { createProtocolEndpoints, type ProtocolConfigs } from './protocols.js';
import type { ProtocolDeps } from './protocolIntake.js';
import { createRouter, type RequestHandlers } from './router.js';
import { createSegmentApi } from './segment/index.js';
import type { SegmentConfig } from './segment/segmentConfig.js';
import { createSnowplowApi, type SnowplowSettings } from './snowplow/index.js';

/**
 * The collector's request handler. Promises it keeps:
 * - A 2xx is written only after `emit` resolved for the request's events; each request makes
 *   at most one `emit` call (so the log's group commit sees them together).
 * - Every refusal is a `{code, message}` JSON answer with the code's status, and is counted in
 *   `beacon_events_rejected_total{source="http",code}`; malformed input never throws out of here.
 * - Accounting: each request adds to `received` exactly once, when the collector decides on it
 *   (a refused request counts as 1, a batch as its number of events), and every received unit
 *   ends as emitted or rejected. A client that goes away mid-body is not counted at all.
 */
export interface HttpServerDeps {
  config: ServerConfig;
  /** Resolves when the events are durable; rejects with a BeaconError (BEACON_E_LOG_FULL, BEACON_E_LOG_CLOSED...). */
  emit: Emit;
  metrics: Metrics;
  logger: Logger;
  /**
   * Handles every path the collector does not own (/metrics, /healthz, /api/..., /); resolves
   * false when it did not handle it, which answers 404 BEACON_E_NOT_FOUND.
   */
  fallback?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** Takes HTTP upgrades (the `/live` WebSocket); returns false for a path it does not own (answered 404). */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
  /** The `segment` config: when enabled, /v1/... is the Segment-compatible API (./segment/). */
  segment?: SegmentConfig;
  /** The `snowplow` config and `enrich.identity`: when enabled, the Snowplow tracker protocol paths (./snowplow/). */
  snowplow?: SnowplowSettings;
  /** The compatible protocols' config blocks (PostHog, Plausible, Umami, GA4: ./protocols.ts); unset: none served. */
  protocols?: ProtocolConfigs;
  /** Present with `schemas.mode: strict`: events failing their schema are refused here, where the answer is built. */
  schemaCheck?: StrictSchemaCheck;
  /** Identity cookies, the checksum check and /beacon.js (./browserIntake.ts); unset: none of them. */
  browser?: BrowserIntake;
  /**
   * Where events whose id the client gave, and events of a blind resend (`POST /batch?resend=1`),
   * are marked for the enrichment chain's id memory (`EnrichChain.marks`); unset: not marked.
   */
  marks?: ResendMarks;
}

/** Shared with the server: set when every answer should close its connection (draining, or keep-alive off). */
export interface ConnectionPolicy {
  closeConnections: boolean;
}

export type { RequestHandlers } from './router.js';

/**
 * Builds the collector from its parts, read top to bottom: the rules and gates every endpoint
 * shares, Beacon's own endpoints (./native/: pixel, single event, batch), the compatible APIs
 * that are on (./segment/, ./snowplow/, ./protocols.ts), and the router (./router.ts) that
 * sends each request to one of them.
 */
export function createRequestHandlers(deps: HttpServerDeps, policy: ConnectionPolicy): RequestHandlers {
  const { config, emit, metrics, schemaCheck, marks } = deps;
  const rules = compileRules(config.limits);
  // One gate for every endpoint of this server: the bound is on the process's memory.
  const largeBodies = createLargeBodyGate(config.limits.largeBodiesAtOnce);
  const cors = createCorsPolicy(config.cors);

  const intake = createNativeIntake({
    config,
    rules,
    cors,
    largeBodies,
    emit,
    metrics,
    logger: deps.logger.child({ component: 'http' }),
    policy,
    schemaCheck,
    marks,
    browser: deps.browser,
  });

  // What the Segment and Snowplow APIs and the compatible protocols are built from.
  const shared: ProtocolDeps = {
    server: config,
    rules,
    emit,
    metrics,
    logger: deps.logger,
    policy,
    schemaCheck,
    marks,
  };
  const segment = deps.segment?.enabled
    ? createSegmentApi({ ...shared, config: deps.segment, cors, largeBodies })
    : undefined;
  const snowplow = deps.snowplow?.config.enabled
    ? createSnowplowApi({ ...shared, ...deps.snowplow, issuer: deps.browser?.identity, cors })
    : undefined;
  const protocols = deps.protocols === undefined ? undefined : createProtocolEndpoints(deps.protocols, shared);

  return createRouter({
    intake,
    pixel: createPixelEndpoint(intake),
    single: createSingleEventPost(intake),
    batch: createBatchEndpoint(intake),
    trackerScript: deps.browser?.trackerScript,
    segment,
    snowplow,
    protocols,
    fallback: deps.fallback,
    policy,
  });
}
