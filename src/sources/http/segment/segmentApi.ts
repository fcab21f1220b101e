import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../../config/schema.js';
import { BeaconError, isBeaconError } from '../../../errors/beaconError.js';
import type { ErrorCode } from '../../../errors/codes.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import type { Metrics } from '../../../ops/metrics.js';
import type { StrictSchemaCheck } from '../../../schemas/schemaGate.js';
import type { Emit } from '../../source.js';
import { ClientGoneError, readBody } from '../body.js';
import { createIntakeCommit } from '../commit.js';
import type { CorsPolicy, HeaderMap } from '../cors.js';
import { isRejection, requestFacts, type EventRules, type Rejection } from '../events.js';
import { sendError, sendJson, sendNoContent } from '../responses.js';
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
 */

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

export interface SegmentApiDeps {
  config: SegmentConfig;
  server: ServerConfig;
  rules: EventRules;
  cors: CorsPolicy;
  emit: Emit;
  metrics: Metrics;
  logger: Logger;
  /** Set while draining: every answer then closes its connection. */
  policy: { closeConnections: boolean };
  /** Present in `schemas.mode: strict`: refuses events whose props fail their schema. */
  schemaCheck?: StrictSchemaCheck | undefined;
}

export interface SegmentApi {
  /** Handles any path under /v1/ (unknown ones with 404). */
  handle(req: IncomingMessage, res: ServerResponse, path: string, started: number, now: number): Promise<void>;
}

type Authorised = { ok: true; viaHeader: boolean } | { ok: false };

export function createSegmentApi(deps: SegmentApiDeps): SegmentApi {
  const { config, server, rules, cors, emit, metrics, policy, schemaCheck } = deps;
  const logger = deps.logger.child({ component: 'segment' });
  const writeKeys = createWriteKeys(config.writeKeys);
  const bodyLimits = { bodyBytes: server.limits.bodyBytes, decompressedBytes: server.limits.decompressedBytes };
  const batchEvents = server.limits.batchEvents;
  const mapping = { normalizeEventNames: config.normalizeEventNames };
  const received = metrics.eventsReceived.labels({ source: SOURCE });
  const { countRejected, closeIfDraining, commit } = createIntakeCommit({ source: SOURCE, emit, metrics, logger, policy });

  function refuse(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, corsHeaders: HeaderMap | undefined): void {
    received.inc();
    countRejected(code);
    closeIfDraining(res);
    sendError(req, res, new BeaconError(code, message), corsHeaders);
  }

  function unauthorised(req: IncomingMessage, res: ServerResponse, corsHeaders: HeaderMap | undefined, why: string): void {
    refuse(req, res, 'BEACON_E_SEGMENT_UNAUTHORIZED', `${why}; send a write key from segment.writeKeys as the HTTP Basic user name`, corsHeaders);
  }

  /** Checks the Authorization header; a body `writeKey` is checked after the body is read. */
  function authorise(req: IncomingMessage): Authorised | 'missing' {
    const key = writeKeyFromHeader(req.headers.authorization);
    if (key === undefined) return 'missing';
    if (key === null || !writeKeys.accepts(key)) return { ok: false };
    return { ok: true, viaHeader: true };
  }

  /** Reads and parses the body as one JSON object, or answers why not and resolves undefined. */
  async function readMessage(req: IncomingMessage, res: ServerResponse, corsHeaders: HeaderMap | undefined): Promise<{ value: Record<string, unknown>; bound: number } | undefined> {
    let buffer: Buffer;
    try {
      buffer = await readBody(req, bodyLimits);
    } catch (err) {
      if (err instanceof ClientGoneError) return undefined;
      if (isBeaconError(err)) refuse(req, res, err.code, err.message, corsHeaders);
      else throw err;
      return undefined;
    }
    let text = buffer.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      refuse(req, res, 'BEACON_E_BAD_JSON', `invalid JSON: ${(err as Error).message.slice(0, 200)}`, corsHeaders);
      return undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      refuse(req, res, 'BEACON_E_BAD_EVENT', 'the body must be a JSON object (a Segment message, or {"batch": [...]} for /v1/batch)', corsHeaders);
      return undefined;
    }
    return { value: value as Record<string, unknown>, bound: text.length * 6 + 2 };
  }

  /** A strict schema check may turn an event into a rejection. */
  function checked(result: TrackedEvent | Rejection): TrackedEvent | Rejection {
    if (isRejection(result) || schemaCheck === undefined) return result;
    return schemaCheck(result) ?? result;
  }

  async function post(req: IncomingMessage, res: ServerResponse, path: string, started: number, now: number): Promise<void> {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const call = SINGLE_PATHS[path];
    const isBatch = call === undefined;
    if (!isJsonMedia(req.headers['content-type'])) {
      return refuse(req, res, 'BEACON_E_UNSUPPORTED_MEDIA_TYPE', 'the Segment API takes application/json or text/plain (JSON text)', corsHeaders);
    }
    const auth = authorise(req);
    if (auth !== 'missing' && !auth.ok) return unauthorised(req, res, corsHeaders, 'the write key in the Authorization header is not accepted');
    const body = await readMessage(req, res, corsHeaders);
    if (body === undefined) return;
    if (auth === 'missing') {
      const key = body.value.writeKey;
      if (typeof key !== 'string') return unauthorised(req, res, corsHeaders, 'no write key was sent');
      if (!writeKeys.accepts(key)) return unauthorised(req, res, corsHeaders, 'the "writeKey" in the body is not accepted');
    }
    const facts = requestFacts(req, server.trustProxy, now);

    if (!isBatch) {
      const result = checked(segmentEvent(call, body.value, facts, rules, mapping, body.bound));
      if (isRejection(result)) return refuse(req, res, result.code, result.message, corsHeaders);
      received.inc();
      if (await commit([result], req, res, corsHeaders, started)) sendJson(res, 200, '{"success":true}', corsHeaders);
      return;
    }

    const messages = body.value.batch;
    if (!Array.isArray(messages)) return refuse(req, res, 'BEACON_E_BAD_EVENT', '"batch" must be an array of Segment messages', corsHeaders);
    if (messages.length > batchEvents) {
      return refuse(req, res, 'BEACON_E_BATCH_TOO_LARGE', `the batch holds ${messages.length} messages; at most ${batchEvents} are accepted`, corsHeaders);
    }
    const topContext = body.value.context;
    const defaults = typeof topContext === 'object' && topContext !== null && !Array.isArray(topContext) ? { context: topContext as Record<string, unknown> } : {};
    received.inc(messages.length);
    const events: TrackedEvent[] = [];
    const rejected: Array<{ index: number; code: ErrorCode; message: string }> = [];
    for (let index = 0; index < messages.length; index++) {
      const result = checked(segmentEvent(undefined, messages[index], facts, rules, mapping, body.bound, defaults));
      if (isRejection(result)) {
        rejected.push({ index, code: result.code, message: result.message });
        countRejected(result.code);
      } else {
        events.push(result);
      }
    }
    if (events.length > 0 && !(await commit(events, req, res, corsHeaders, started))) return;
    closeIfDraining(res);
    sendJson(res, 200, JSON.stringify({ success: rejected.length === 0, accepted: events.length, rejected }), corsHeaders);
  }

  return {
    async handle(req, res, path, started, now) {
      const known = SINGLE_PATHS[path] !== undefined || BATCH_PATHS.has(path);
      if (!known) {
        return refuse(req, res, 'BEACON_E_NOT_FOUND', `no Segment endpoint at ${path.slice(0, 100)}; use /v1/track, /v1/page, /v1/screen, /v1/identify, /v1/group, /v1/alias or /v1/batch`, cors.headersFor(req.headers.origin));
      }
      if (req.method === 'POST') return post(req, res, path, started, now);
      if (req.method === 'OPTIONS') {
        // analytics.js sends text/plain to skip the preflight; a client that sets Authorization needs one.
        sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        return;
      }
      res.setHeader('Allow', METHODS);
      refuse(req, res, 'BEACON_E_METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed here; use ${METHODS}`, cors.headersFor(req.headers.origin));
    },
  };
}

/** JSON as Segment SDKs send it: application/json (analytics-node), text/plain (analytics.js), or no type. */
function isJsonMedia(header: string | undefined): boolean {
  if (header === undefined) return true;
  const semicolon = header.indexOf(';');
  const type = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  return type === '' || type === 'application/json' || type === 'text/plain' || type.endsWith('+json');
}
