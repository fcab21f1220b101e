import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { unescape } from 'node:querystring';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/schema.js';
import { BeaconError, isBeaconError } from '../../errors/beaconError.js';
import type { ErrorCode } from '../../errors/codes.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Metrics } from '../../ops/metrics.js';
import type { Emit } from '../source.js';
import { ClientGoneError, declaresTooLarge, readBody } from './body.js';
import { createIntakeCommit } from './commit.js';
import { createCorsPolicy, type HeaderMap } from './cors.js';
import {
  batchEvent,
  checkProps,
  checkType,
  compileRules,
  isRejection,
  markResent,
  pageEvent,
  parseQuery,
  requestFacts,
  type Rejection,
} from './events.js';
import { sendError, sendJson, sendNoContent, sendPixel } from './responses.js';
import { markCorrupt } from '../../enrich/corruption.js';
import type { BrowserIntake } from './browserIntake.js';
import { createSegmentApi, SEGMENT_PREFIX } from './segment/index.js';
import type { SegmentConfig } from './segment/segmentConfig.js';
import type { StrictSchemaCheck } from '../../schemas/schemaGate.js';

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
  /** Present with `schemas.mode: strict`: events failing their schema are refused here, where the answer is built. */
  schemaCheck?: StrictSchemaCheck;
  /** Identity cookies, the checksum check and /beacon.js (./browserIntake.ts); unset: none of them. */
  browser?: BrowserIntake;
}

/** Shared with the server: set when every answer should close its connection (draining, or keep-alive off). */
export interface ConnectionPolicy {
  closeConnections: boolean;
}

type MediaKind = 'json' | 'ndjson' | 'unsupported';

const TRACK_PREFIX = '/t/';
const BATCH_PATH = '/batch';
const TRACK_METHODS = 'GET, POST, OPTIONS';
const BATCH_METHODS = 'POST, OPTIONS';
const TRACKER_PATH = '/beacon.js';
/** `POST /batch?forget=1`: the tracker's consent withdrawal; the answer deletes the identity cookies. */
const FORGET = /(?:^|&)forget=1(?:&|$)/;
/** `POST /batch?resend=1`: a blind resend (beacon.js after sendBeacon); events whose id the id memory holds are dropped. */
const RESEND = /(?:^|&)resend=1(?:&|$)/;
/** Hosts usable as the base of the URL handed to `fallback`; anything else becomes `localhost`. */
const PLAIN_HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/;

export interface RequestHandlers {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** `Expect: 100-continue`: a body declared too large is refused before the client sends it. */
  onCheckContinue(req: IncomingMessage, res: ServerResponse): void;
}

export function createRequestHandlers(deps: HttpServerDeps, policy: ConnectionPolicy): RequestHandlers {
  const { config, emit, metrics, fallback } = deps;
  const logger = deps.logger.child({ component: 'http' });
  const rules = compileRules(config.limits);
  const bodyLimits = { bodyBytes: config.limits.bodyBytes, decompressedBytes: config.limits.decompressedBytes };
  const batchEvents = config.limits.batchEvents;
  const trustProxy = config.trustProxy;
  const cors = createCorsPolicy(config.cors);
  const schemaCheck = deps.schemaCheck;
  const segment = deps.segment?.enabled
    ? createSegmentApi({ config: deps.segment, server: config, rules, cors, emit, metrics, logger: deps.logger, policy, schemaCheck })
    : undefined;
  const received = metrics.eventsReceived.labels({ source: 'http' });
  const { countRejected, closeIfDraining, commit } = createIntakeCommit({ source: 'http', emit, metrics, logger, policy });
  const { identity, verifyChecksum, trackerScript } = deps.browser ?? {};

  /** The request's facts with the ids `enrich.identity` assigns; their cookies go on `res`. */
  function factsOf(req: IncomingMessage, res: ServerResponse, now: number, query?: string) {
    const facts = requestFacts(req, trustProxy, now);
    if (identity === undefined) return facts;
    if (query !== undefined && FORGET.test(query)) identity.forget(req, res);
    else identity.identify(req, res, facts);
    return facts;
  }

  /** Refuses the whole request: counts it as one received and one rejected unit. */
  function refuse(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, corsHeaders: HeaderMap | undefined): void {
    received.inc();
    countRejected(code);
    sendError(req, res, new BeaconError(code, message), corsHeaders);
  }

  function refuseMethod(req: IncomingMessage, res: ServerResponse, allow: string, corsHeaders: HeaderMap | undefined): void {
    res.setHeader('Allow', allow);
    refuse(req, res, 'BEACON_E_METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed here; use ${allow}`, corsHeaders);
  }

  /** Reads the body, or answers why it could not be read and resolves undefined. */
  async function body(req: IncomingMessage, res: ServerResponse, corsHeaders: HeaderMap | undefined): Promise<Buffer | undefined> {
    try {
      const buffer = await readBody(req, bodyLimits);
      closeIfDraining(res);
      return buffer;
    } catch (err) {
      // Nobody to answer (or the request timeout already did); the request was never received.
      if (err instanceof ClientGoneError) return undefined;
      closeIfDraining(res);
      if (isBeaconError(err)) refuse(req, res, err.code, err.message, corsHeaders);
      else throw err;
      return undefined;
    }
  }

  async function pixel(req: IncomingMessage, res: ServerResponse, path: string, query: string, started: number, now: number): Promise<void> {
    const corsHeaders = cors.headersFor(req.headers.origin);
    let type = path.slice(TRACK_PREFIX.length);
    const gif = type.endsWith('.gif');
    if (gif) type = type.slice(0, -4);
    if (type.includes('%')) type = unescape(type);
    const badType = checkType(type, rules);
    if (badType) return refuse(req, res, badType.code, badType.message, corsHeaders);
    const props = parseQuery(query);
    // A query yields flat props (depth 1, or 2 with repeated keys) no bigger than 6x the query.
    const sizeBound = query.length * 6 + 2;
    if (rules.propsDepth < 2 || sizeBound > rules.propsBytes) {
      const badProps = checkProps(props, rules, sizeBound);
      if (badProps) return refuse(req, res, badProps.code, badProps.message, corsHeaders);
    }
    const event = pageEvent(type, props, factsOf(req, res, now));
    const invalid = schemaCheck?.(event);
    if (invalid) return refuse(req, res, invalid.code, invalid.message, corsHeaders);
    received.inc();
    if (await commit([event], req, res, corsHeaders, started)) sendPixel(res, gif, corsHeaders);
  }

  async function single(req: IncomingMessage, res: ServerResponse, path: string, query: string, started: number, now: number): Promise<void> {
    const corsHeaders = cors.headersFor(req.headers.origin);
    let type = path.slice(TRACK_PREFIX.length);
    if (type.includes('%')) type = unescape(type);
    const badType = checkType(type, rules);
    if (badType) return refuse(req, res, badType.code, badType.message, corsHeaders);
    if (mediaKind(req.headers['content-type']) !== 'json') {
      return refuse(req, res, 'BEACON_E_UNSUPPORTED_MEDIA_TYPE', 'POST /t/<type> takes application/json or text/plain (JSON text)', corsHeaders);
    }
    const buffer = await body(req, res, corsHeaders);
    if (buffer === undefined) return;
    let props: unknown = {};
    if (buffer.length > 0) {
      const parsed = parseJson(buffer.toString('utf8'));
      if (isRejection(parsed)) return refuse(req, res, parsed.code, parsed.message, corsHeaders);
      props = parsed.value;
    }
    if (typeof props !== 'object' || props === null || Array.isArray(props)) {
      return refuse(req, res, 'BEACON_E_BAD_EVENT', 'the body must be a JSON object (the event props)', corsHeaders);
    }
    const badProps = checkProps(props as Record<string, unknown>, rules, buffer.length * 6 + 2);
    if (badProps) return refuse(req, res, badProps.code, badProps.message, corsHeaders);
    const event = pageEvent(type, props as Record<string, unknown>, factsOf(req, res, now));
    const corrupt = verifyChecksum?.(query, buffer);
    if (corrupt !== undefined) markCorrupt(event, corrupt);
    const invalid = schemaCheck?.(event);
    if (invalid) return refuse(req, res, invalid.code, invalid.message, corsHeaders);
    received.inc();
    if (await commit([event], req, res, corsHeaders, started)) sendNoContent(res, corsHeaders);
  }

  async function batch(req: IncomingMessage, res: ServerResponse, query: string, started: number, now: number): Promise<void> {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const kind = mediaKind(req.headers['content-type']);
    if (kind === 'unsupported') {
      return refuse(req, res, 'BEACON_E_UNSUPPORTED_MEDIA_TYPE', 'POST /batch takes application/json, text/plain or application/x-ndjson', corsHeaders);
    }
    const buffer = await body(req, res, corsHeaders);
    if (buffer === undefined) return;
    const items = splitBatch(stripBom(buffer.toString('utf8')), kind === 'ndjson');
    if (isRejection(items)) return refuse(req, res, items.code, items.message, corsHeaders);
    if (items.length > batchEvents) {
      return refuse(req, res, 'BEACON_E_BATCH_TOO_LARGE', `the batch holds ${items.length} events; at most ${batchEvents} are accepted`, corsHeaders);
    }

    received.inc(items.length);
    const facts = factsOf(req, res, now, query);
    const events: TrackedEvent[] = [];
    const rejected: Array<{ index: number; code: ErrorCode; message: string }> = [];
    const resend = RESEND.test(query);
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      let result: TrackedEvent | Rejection;
      if (item.line === undefined) {
        result = batchEvent(item.value, facts, rules, item.bound);
      } else {
        const parsed = parseJson(item.line);
        result = isRejection(parsed) ? parsed : batchEvent(parsed.value, facts, rules, item.bound);
      }
      if (schemaCheck !== undefined && !isRejection(result)) result = schemaCheck(result) ?? result;
      if (isRejection(result)) {
        rejected.push({ index, code: result.code, message: result.message });
        countRejected(result.code);
      } else {
        if (resend) markResent(result);
        events.push(result);
      }
    }
    const corrupt = verifyChecksum?.(query, buffer);
    if (corrupt !== undefined) for (const event of events) markCorrupt(event, corrupt);
    if (events.length > 0 && !(await commit(events, req, res, corsHeaders, started))) return;
    sendJson(res, 200, JSON.stringify({ accepted: events.length, rejected }), corsHeaders);
  }

  async function other(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    if (fallback !== undefined && (await fallback(req, res, requestUrl(rawUrl, req.headers.host)))) return;
    if (res.headersSent || res.destroyed) return;
    closeIfDraining(res);
    sendError(req, res, new BeaconError('BEACON_E_NOT_FOUND', `nothing is served at ${rawUrl.slice(0, 200)}`), undefined);
  }

  function failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    logger.error({ err, method: req.method, url: req.url?.slice(0, 200) }, 'request handler failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(req, res, new BeaconError('BEACON_E_INTERNAL', 'the request could not be handled'), undefined);
  }

  function onCheckContinue(req: IncomingMessage, res: ServerResponse): void {
    if (!declaresTooLarge(req, bodyLimits.bodyBytes)) {
      res.writeContinue();
      onRequest(req, res);
      return;
    }
    // The client holds the body back until told to continue, so closing now loses nothing.
    res.setHeader('Connection', 'close');
    refuse(req, res, 'BEACON_E_BODY_TOO_LARGE', `request body is larger than ${bodyLimits.bodyBytes} bytes`, cors.headersFor(req.headers.origin));
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const now = Date.now();
    if (policy.closeConnections) res.setHeader('Connection', 'close');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const method = req.method;
    let work: Promise<void> | undefined;
    try {
      if (path.startsWith(TRACK_PREFIX)) {
        if (method === 'GET') work = pixel(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'POST') work = single(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'OPTIONS') sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        else refuseMethod(req, res, TRACK_METHODS, cors.headersFor(req.headers.origin));
      } else if (path === BATCH_PATH) {
        if (method === 'POST') work = batch(req, res, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'OPTIONS') sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        else refuseMethod(req, res, BATCH_METHODS, cors.headersFor(req.headers.origin));
      } else if (path === TRACKER_PATH && trackerScript !== undefined) {
        trackerScript.serve(req, res);
      } else if (segment !== undefined && path.startsWith(SEGMENT_PREFIX)) {
        work = segment.handle(req, res, path, started, now);
      } else {
        work = other(req, res, rawUrl);
      }
    } catch (err) {
      failed(req, res, err);
    }
    work?.catch((err: unknown) => failed(req, res, err));
  }

  return { onRequest, onCheckContinue };
}

function mediaKind(header: string | undefined): MediaKind {
  // No Content-Type: curl -d sends form encoding, but a body-less beacon sends nothing; read it as JSON.
  if (header === undefined) return 'json';
  const semicolon = header.indexOf(';');
  const type = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  switch (type) {
    case 'application/json':
    case 'text/plain':
    case '':
      return 'json';
    case 'application/x-ndjson':
    case 'application/ndjson':
    case 'application/jsonl':
    case 'application/x-jsonlines':
    case 'application/jsonlines':
      return 'ndjson';
    default:
      return type.endsWith('+json') ? 'json' : 'unsupported';
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseJson(text: string): { value: unknown } | Rejection {
  try {
    return { value: JSON.parse(stripBom(text)) as unknown };
  } catch (err) {
    return { code: 'BEACON_E_BAD_JSON', message: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}

/**
 * One batch element: an already parsed value (from a JSON array) or an NDJSON line still to
 * parse (so one bad line rejects that line only). `bound` bounds its props' JSON size.
 */
type BatchItem = { value: unknown; line: undefined; bound: number } | { value: undefined; line: string; bound: number };

/**
 * A JSON array is the batch; a single JSON object is a batch of one; anything else starting
 * with `{` (or any body sent as NDJSON) is read line by line, blank lines skipped.
 */
function splitBatch(text: string, ndjson: boolean): BatchItem[] | Rejection {
  const first = firstSignificantChar(text);
  if (first === undefined) return { code: 'BEACON_E_BAD_JSON', message: 'the body is empty; send a JSON array or NDJSON of events' };
  const bound = text.length * 6 + 2;
  if (!ndjson) {
    if (first === '[') {
      const parsed = parseJson(text);
      if (isRejection(parsed)) return parsed;
      return (parsed.value as unknown[]).map((value) => ({ value, line: undefined, bound }));
    }
    if (first !== '{') return { code: 'BEACON_E_BAD_JSON', message: 'the body must be a JSON array of events or NDJSON (one event object per line)' };
    if (!text.includes('\n')) {
      const parsed = parseJson(text);
      if (isRejection(parsed)) return parsed;
      return [{ value: parsed.value, line: undefined, bound }];
    }
    try {
      // A pretty-printed single object spans lines; take it whole when it parses.
      return [{ value: JSON.parse(text) as unknown, line: undefined, bound }];
    } catch {
      // not one document: NDJSON
    }
  }
  const items: BatchItem[] = [];
  for (const line of text.split('\n')) {
    if (firstSignificantChar(line) === undefined) continue;
    items.push({ value: undefined, line, bound: line.length * 6 + 2 });
  }
  return items;
}

function firstSignificantChar(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return text[i];
  }
  return undefined;
}

/** The URL handed to `fallback`: always parseable, `//x` stays a path, never a host. */
function requestUrl(rawUrl: string, host: string | undefined): URL {
  const base = host !== undefined && PLAIN_HOST.test(host) ? `http://${host}` : 'http://localhost';
  try {
    return new URL(rawUrl.startsWith('/') ? base + rawUrl : rawUrl);
  } catch {
    return new URL(base + '/');
  }
}
