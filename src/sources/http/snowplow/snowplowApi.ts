import type { IncomingMessage } from 'node:http';
import type { IdentityConfig, IdentityIssuer } from '../../../enrich/identity/identity.js';
import { BeaconError } from '../../../errors/beaconError.js';
import { bodyLimitsFrom, compatibleBodyLimits, readBody } from '../body.js';
import { createIntakeCommit } from '../commit.js';
import { bodyText, parseJsonText, type ProtocolDeps } from '../protocolIntake.js';
import type { CorsPolicy } from '../cors.js';
import { compatibleRules } from '../../../event/rules.js';
import { isRejection } from '../../../event/rejection.js';
import type { QueryHandler } from '../endpoint.js';
import type { ProtocolEndpoint } from '../protocols.js';
import { parseQuery } from '../query.js';
import { requestFacts } from '../requestFacts.js';
import { sendError, sendJson, sendNoContent, sendPixel } from '../responses.js';
import { paramsOf, paramsOfQuery, snowplowEvent, type SnowplowMappingOptions, type TrackerParams } from './mapping.js';
import { createNetworkUserIds } from './networkUserId.js';
import type { SnowplowConfig } from './snowplowConfig.js';

/**
 * The Snowplow collector endpoints (docs/protocols.md#snowplow), for the Snowplow trackers
 * unchanged (browser, Node, and the others that speak the tracker protocol):
 *
 * - `POST /com.snowplowanalytics.snowplow/tp2`: a `payload_data` self-describing JSON whose
 *   `data` is an array of events (each a map of tracker parameters). Any media type is read as
 *   JSON (the trackers send `application/json; charset=UTF-8`; the collector stores any body),
 *   gzip/deflate as everywhere. Parameters in the query string apply to every event. Answers
 *   `200 {"accepted": n, "rejected": [{index, code, message}]}` (the trackers only read the
 *   status); when every event is refused, the first refusal's status and `{code, message}`.
 * - `GET /i`, `GET /ice.png` (and GET on the tp2 path), HEAD too: one event in the query
 *   string; answers a 1x1 GIF with no-cache headers. An empty query stores nothing and still
 *   answers the GIF (Snowplow's enrichment makes no event of it either).
 * - `OPTIONS` on those paths: the preflight.
 *
 * It keeps the collector's promises through the shared ../commit.ts: one `emit` per request, a
 * 2xx only once it resolved, every refusal a `{code, message}` counted in
 * `beacon_events_rejected_total{source="snowplow",code}`, `received` counted once per request
 * (a refused request as 1, a POST as its number of events). The browser tracker sends every
 * request with `credentials: 'include'`, so every answer carries the exact origin and
 * `Access-Control-Allow-Credentials` for the origins server.cors allows (../cors.ts).
 *
 * Limits are at least Snowplow's: a POST body up to `server.limits.bodyBytes` (1 MiB by
 * default; the collector's Kinesis sink takes records up to 1 MB); per event the props limits of
 * every intake. `server.limits.batchEvents` does not apply (the collector has no count): a body
 * may hold one event per EVENT_BYTES_FLOOR bytes of `bodyBytes`, far more than a tracker's
 * smallest event (its `eid` alone is 45 bytes), so a body of empty objects cannot turn 1 MiB
 * into hundreds of thousands of events in memory.
 */

export const SNOWPLOW_POST_PATH = '/com.snowplowanalytics.snowplow/tp2';
const PIXEL_PATHS: ReadonlySet<string> = new Set(['/i', '/ice.png', SNOWPLOW_POST_PATH]);
const SOURCE = 'snowplow';
/** Bytes of body per event allowed at least (see above): 16,384 events in the default 1 MiB. */
const EVENT_BYTES_FLOOR = 64;

/** What the collector is given for this API: the `snowplow` section and `enrich.identity`. */
export interface SnowplowSettings {
  config: SnowplowConfig;
  /** `enrich.identity`: the network user id follows its mode and cookie attributes (./networkUserId.ts). */
  identity: IdentityConfig;
}

/** A compatible protocol's deps, with the collector's CORS policy (its credentialed answers) and identity issuer. */
export interface SnowplowApiDeps extends SnowplowSettings, ProtocolDeps {
  /** Beacon's identity issuer, for cookieless ids; undefined when identity is off. */
  issuer: IdentityIssuer | undefined;
  cors: CorsPolicy;
}

/** The Snowplow paths and their answers: a compatible protocol's endpoint, routed by the collector. */
export type SnowplowApi = Omit<ProtocolEndpoint, 'bodyBytes'>;

export function createSnowplowApi(deps: SnowplowApiDeps): SnowplowApi {
  const { config, server, cors, emit, metrics, policy, schemaCheck } = deps;
  // Snowplow's collector refuses no nesting depth: contexts and self-describing data nest as their schemas say.
  const rules = compatibleRules(deps.rules);
  const logger = deps.logger.child({ component: 'snowplow' });
  // The element count is held by maxEvents below; the JSON bounds only keep the scan from refusing what fits.
  const bodyLimits = compatibleBodyLimits(bodyLimitsFrom(server.limits), server.limits.bodyBytes);
  const appIds = config.appIds.length > 0 ? new Set(config.appIds) : undefined;
  const maxEvents = Math.max(server.limits.batchEvents, Math.floor(server.limits.bodyBytes / EVENT_BYTES_FLOOR));
  const { received, refuse, refuseMethod, readOrRefuse, checked, checkEach, closeIfDraining, commit } =
    createIntakeCommit({ source: SOURCE, emit, metrics, logger, policy, schemaCheck });
  const networkUserIds = createNetworkUserIds({
    identity: deps.identity,
    issuer: deps.issuer,
    server,
    allowsOrigin: (origin) => cors.credentialedHeadersFor(origin) !== undefined,
    metrics,
  });

  function mappingOptions(req: IncomingMessage): SnowplowMappingOptions {
    return { appIds, anonymous: req.headers['sp-anonymous'] !== undefined };
  }

  const pixel: QueryHandler = async (req, res, query, started, now) => {
    const corsHeaders = cors.credentialedHeadersFor(req.headers.origin);
    const params = paramsOfQuery(parseQuery(query));
    const options = mappingOptions(req);
    const facts = requestFacts(req, server.trustProxy, now, deps.marks);
    networkUserIds.assign(req, res, facts, params.nuid, options.anonymous);
    if (Object.keys(params).length === 0) return sendPixel(res, true, corsHeaders);
    const result = checked(snowplowEvent(params, facts, rules, options, query.length * 6 + 2));
    if (isRejection(result)) return refuse(req, res, result.code, result.message, corsHeaders);
    received();
    if (await commit([result], req, res, corsHeaders, started)) sendPixel(res, true, corsHeaders);
  };

  /** The events of a tp2 body: the payload_data envelope's `data`, a bare array, or one event object. */
  function bodyItems(value: unknown): unknown[] | undefined {
    if (Array.isArray(value)) return value;
    if (typeof value !== 'object' || value === null) return undefined;
    const data = (value as Record<string, unknown>).data;
    if (Array.isArray(data)) return data;
    return typeof (value as Record<string, unknown>).e === 'string' ? [value] : undefined;
  }

  const post: QueryHandler = async (req, res, query, started, now) => {
    const corsHeaders = cors.credentialedHeadersFor(req.headers.origin);
    const buffer = await readOrRefuse(req, res, corsHeaders, () => readBody(req, bodyLimits));
    if (buffer === undefined) return;
    const text = bodyText(buffer);
    const queryParams = query.length > 0 ? paramsOfQuery(parseQuery(query)) : {};
    let items: unknown[];
    if (text.trim().length === 0) {
      // Snowplow's tp2 adapter makes one event of the query string when the body is empty.
      items = Object.keys(queryParams).length > 0 ? [{}] : [];
    } else {
      const parsed = parseJsonText(text);
      if (isRejection(parsed)) return refuse(req, res, parsed.code, parsed.message, corsHeaders);
      const found = bodyItems(parsed.value);
      if (found === undefined) {
        return refuse(
          req,
          res,
          'BEACON_E_BAD_EVENT',
          'the body must be a payload_data JSON: {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [events]}',
          corsHeaders,
        );
      }
      items = found;
    }
    if (items.length > maxEvents) {
      return refuse(
        req,
        res,
        'BEACON_E_BATCH_TOO_LARGE',
        `the body holds ${items.length} events; at most ${maxEvents} (one per ${EVENT_BYTES_FLOOR} bytes of server.limits.bodyBytes) are accepted`,
        corsHeaders,
      );
    }

    const options = mappingOptions(req);
    const facts = requestFacts(req, server.trustProxy, now, deps.marks);
    networkUserIds.assign(req, res, facts, queryParams.nuid, options.anonymous);
    const bound = text.length * 6 + 2 + query.length * 6;
    received(items.length);
    const { events, rejected } = checkEach(items, (item) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        return {
          code: 'BEACON_E_BAD_EVENT',
          message: 'an event in "data" must be a JSON object of tracker parameters',
        };
      }
      const params: TrackerParams = { ...queryParams, ...paramsOf(item as Record<string, unknown>) };
      return snowplowEvent(params, facts, rules, options, bound);
    });
    if (events.length === 0 && rejected.length > 0) {
      // Nothing stored: the first refusal's status, which the trackers do not retry (400, 403).
      const first = rejected[0]!;
      const message =
        rejected.length === 1
          ? first.message
          : `all ${rejected.length} events were refused; the first: ${first.message}`;
      closeIfDraining(res);
      return sendError(req, res, new BeaconError(first.code, message), corsHeaders);
    }
    if (events.length > 0 && !(await commit(events, req, res, corsHeaders, started))) return;
    closeIfDraining(res);
    sendJson(res, 200, JSON.stringify({ accepted: events.length, rejected }), corsHeaders);
  };

  return {
    owns: (path) => PIXEL_PATHS.has(path),
    async handle(req, res, path, query, started, now) {
      const method = req.method;
      if (method === 'GET' || method === 'HEAD') return pixel(req, res, query, started, now);
      if (method === 'POST' && path === SNOWPLOW_POST_PATH) return post(req, res, query, started, now);
      if (method === 'OPTIONS') {
        sendNoContent(
          res,
          cors.credentialedPreflight(req.headers.origin, req.headers['access-control-request-headers']),
        );
        return;
      }
      const allow = path === SNOWPLOW_POST_PATH ? 'GET, HEAD, POST, OPTIONS' : 'GET, HEAD, OPTIONS';
      refuseMethod(req, res, allow, cors.credentialedHeadersFor(req.headers.origin));
    },
  };
}
