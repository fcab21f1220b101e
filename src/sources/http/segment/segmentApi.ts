import type { IncomingMessage, ServerResponse } from 'node:http';
import { BeaconError } from '../../../errors/beaconError.js';
import { bodyLimitsFrom, compatibleBodyLimits, readBody } from '../body.js';
import { createLargeBodyGate, type LargeBodyGate } from '../largeBodies.js';
import { batchTooLarge, createIntakeCommit } from '../commit.js';
import { parseJsonBody, type ProtocolDeps } from '../protocolIntake.js';
import type { CorsPolicy, HeaderMap } from '../cors.js';
import { compatibleTypePatternProblem } from '../../../event/compatibleType.js';
import { compatibleRules } from '../../../event/rules.js';
import { isRejection } from '../../../event/rejection.js';
import { requestFacts } from '../requestFacts.js';
import { sendJson, sendNoContent } from '../responses.js';
import { segmentEvent, type SegmentCall } from './mapping.js';
import type { SegmentConfig } from './segmentConfig.js';
import { createWriteKeys, writeKeyFromHeader } from './writeKeys.js';

/**
 * The Segment-compatible API: `POST /v1/track|page|screen|identify|group|alias` (and
 * analytics.js's short forms `/v1/t|p|s|i|g|a`), `POST /v1/batch` (also `/v1/import` and
 * `/v1/b`). It keeps the collector's promises (src/sources/http/collector.ts, whose
 * emit-and-answer step, ../commit.ts, it shares): one `emit` per request, a 2xx only after it
 * resolved, every refusal a `{code, message}` counted in
 * `beacon_events_rejected_total{source="segment",code}`, and `received` counted once per
 * request (a refused request as 1, a batch as its number of messages).
 *
 * Answers are what Segment SDKs expect: `200 {"success":true}`; a batch adds `accepted` and the
 * per-message `rejected` list that /batch gives. analytics-node treats any 2xx as delivered,
 * retries 5xx (so a full log's 503 is retried) and drops a batch on 400 or 401.
 *
 * Nothing Segment's own API takes is refused here (docs/segment.md, "Limits"): the body is
 * read as JSON whatever its Content-Type says (SDKs send application/json, text/plain, or
 * other types, and Segment reads them all); any event name becomes a valid type; the limits
 * are at least Segment's (32 KB per message, 500 KB per batch, any depth up to
 * COMPATIBLE_PROPS_DEPTH), whatever lower `server.limits` say.
 */

/** Segment's documented size of one call (32 KB). */
export const SEGMENT_MESSAGE_BYTES = 32 * 1024;
/** Segment's documented size of one batch (500 KB). */
export const SEGMENT_BATCH_BYTES = 500 * 1024;
/**
 * The most messages a Segment batch can hold within SEGMENT_BATCH_BYTES: the smallest valid
 * message, `{"type":"page","userId":"u"},`, is 29 bytes. Segment counts no messages, only
 * bytes, so a batch of that many is taken whatever `server.limits.batchEvents` says.
 */
export const SEGMENT_BATCH_MESSAGES = Math.ceil(SEGMENT_BATCH_BYTES / 29);

export const SEGMENT_PREFIX = '/v1/';

const SINGLE_PATHS: Readonly<Record<string, SegmentCall>> = {
  '/v1/track': 'track',
  '/v1/t': 'track',
  '/v1/page': 'page',
  '/v1/p': 'page',
  '/v1/screen': 'screen',
  '/v1/s': 'screen',
  '/v1/identify': 'identify',
  '/v1/i': 'identify',
  '/v1/group': 'group',
  '/v1/g': 'group',
  '/v1/alias': 'alias',
  '/v1/a': 'alias',
};
const BATCH_PATHS: ReadonlySet<string> = new Set(['/v1/batch', '/v1/import', '/v1/b']);
const METHODS = 'POST, OPTIONS';
const SOURCE = 'segment';

/** A compatible protocol's deps, with the collector's CORS policy and large-body gate. */
export interface SegmentApiDeps extends ProtocolDeps {
  config: SegmentConfig;
  cors: CorsPolicy;
  /** The collector's gate on large bodies read at once (../largeBodies.ts); absent: one of its own. */
  largeBodies?: LargeBodyGate;
}

export interface SegmentApi {
  /** The wire cap of a body here: at least Segment's 500 KB (the collector's `Expect: 100-continue` check uses it). */
  readonly bodyBytes: number;
  /** Handles any path under /v1/ (unknown ones with 404). */
  handle(req: IncomingMessage, res: ServerResponse, path: string, started: number, now: number): Promise<void>;
}

type Authorised = { ok: true; viaHeader: boolean } | { ok: false };

export function createSegmentApi(deps: SegmentApiDeps): SegmentApi {
  const { config, server, cors, emit, metrics, policy, schemaCheck } = deps;
  const logger = deps.logger.child({ component: 'segment' });
  const writeKeys = createWriteKeys(config.writeKeys);
  const largeBodies = deps.largeBodies ?? createLargeBodyGate(server.limits.largeBodiesAtOnce);
  const rules = compatibleRules(deps.rules, SEGMENT_MESSAGE_BYTES);
  const patternProblem = config.normalizeEventNames ? compatibleTypePatternProblem(rules.typePattern) : undefined;
  if (patternProblem !== undefined) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `server.limits.typePattern cannot hold Segment event names: ${patternProblem}`,
      { field: 'server.limits.typePattern' },
    );
  }
  // At least Segment's limits whatever server.limits says. A Segment batch is {"batch": [...]}: its
  // messages are not top-level, so the element bound (not batchEvents) holds it before the parse.
  const bodyLimits = compatibleBodyLimits(bodyLimitsFrom(server.limits, largeBodies), SEGMENT_BATCH_BYTES);
  const batchEvents = Math.max(server.limits.batchEvents, SEGMENT_BATCH_MESSAGES);
  const mapping = { normalizeEventNames: config.normalizeEventNames };
  const { received, refuse, refuseMethod, readOrRefuse, checked, checkEach, closeIfDraining, commit } =
    createIntakeCommit({ source: SOURCE, emit, metrics, logger, policy, schemaCheck });

  function unauthorised(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    why: string,
  ): void {
    refuse(
      req,
      res,
      'BEACON_E_SEGMENT_UNAUTHORIZED',
      `${why}; send a write key from segment.writeKeys as the HTTP Basic user name`,
      corsHeaders,
    );
  }

  /** Checks the Authorization header; a body `writeKey` is checked after the body is read. */
  function authorise(req: IncomingMessage): Authorised | 'missing' {
    const key = writeKeyFromHeader(req.headers.authorization);
    if (key === undefined) return 'missing';
    if (key === null || !writeKeys.accepts(key)) return { ok: false };
    return { ok: true, viaHeader: true };
  }

  /** Reads and parses the body as one JSON object, or answers why not and resolves undefined. */
  async function readMessage(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
  ): Promise<{ value: Record<string, unknown>; bound: number } | undefined> {
    const buffer = await readOrRefuse(req, res, corsHeaders, () => readBody(req, bodyLimits));
    if (buffer === undefined) return undefined;
    const parsed = parseJsonBody(buffer);
    if (isRejection(parsed)) {
      refuse(req, res, parsed.code, parsed.message, corsHeaders);
      return undefined;
    }
    const value = parsed.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      refuse(
        req,
        res,
        'BEACON_E_BAD_EVENT',
        'the body must be a JSON object (a Segment message, or {"batch": [...]} for /v1/batch)',
        corsHeaders,
      );
      return undefined;
    }
    return { value: value as Record<string, unknown>, bound: parsed.bound };
  }

  async function post(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    started: number,
    now: number,
  ): Promise<void> {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const call = SINGLE_PATHS[path];
    const isBatch = call === undefined;
    const auth = authorise(req);
    if (auth !== 'missing' && !auth.ok)
      return unauthorised(req, res, corsHeaders, 'the write key in the Authorization header is not accepted');
    const body = await readMessage(req, res, corsHeaders);
    if (body === undefined) return;
    if (auth === 'missing') {
      const key = body.value.writeKey;
      if (typeof key !== 'string') return unauthorised(req, res, corsHeaders, 'no write key was sent');
      if (!writeKeys.accepts(key))
        return unauthorised(req, res, corsHeaders, 'the "writeKey" in the body is not accepted');
    }
    const facts = requestFacts(req, server.trustProxy, now, deps.marks);

    if (!isBatch) {
      const result = checked(segmentEvent(call, body.value, facts, rules, mapping, body.bound));
      if (isRejection(result)) return refuse(req, res, result.code, result.message, corsHeaders);
      received();
      if (await commit([result], req, res, corsHeaders, started)) sendJson(res, 200, '{"success":true}', corsHeaders);
      return;
    }

    const messages = body.value.batch;
    if (!Array.isArray(messages))
      return refuse(req, res, 'BEACON_E_BAD_EVENT', '"batch" must be an array of Segment messages', corsHeaders);
    if (messages.length > batchEvents) {
      const tooLarge = batchTooLarge('the batch', messages.length, 'messages', batchEvents);
      return refuse(req, res, tooLarge.code, tooLarge.message, corsHeaders);
    }
    const topContext = body.value.context;
    const defaults =
      typeof topContext === 'object' && topContext !== null && !Array.isArray(topContext)
        ? { context: topContext as Record<string, unknown> }
        : {};
    received(messages.length);
    const { events, rejected } = checkEach(messages, (message) =>
      segmentEvent(undefined, message, facts, rules, mapping, body.bound, defaults),
    );
    if (events.length > 0 && !(await commit(events, req, res, corsHeaders, started))) return;
    closeIfDraining(res);
    sendJson(
      res,
      200,
      JSON.stringify({ success: rejected.length === 0, accepted: events.length, rejected }),
      corsHeaders,
    );
  }

  return {
    bodyBytes: bodyLimits.bodyBytes,
    async handle(req, res, path, started, now) {
      const known = SINGLE_PATHS[path] !== undefined || BATCH_PATHS.has(path);
      if (!known) {
        return refuse(
          req,
          res,
          'BEACON_E_NOT_FOUND',
          `no Segment endpoint at ${path.slice(0, 100)}; use /v1/track, /v1/page, /v1/screen, /v1/identify, /v1/group, /v1/alias or /v1/batch`,
          cors.headersFor(req.headers.origin),
        );
      }
      if (req.method === 'POST') return post(req, res, path, started, now);
      if (req.method === 'OPTIONS') {
        // analytics.js sends its write key in an Authorization header, so browsers preflight its calls.
        sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        return;
      }
      refuseMethod(req, res, METHODS, cors.headersFor(req.headers.origin));
    },
  };
}
