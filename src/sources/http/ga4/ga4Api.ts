import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRejection } from '../../../event/rejection.js';
import { requestFacts } from '../requestFacts.js';
import { batchTooLarge } from '../commit.js';
import { createProtocolIntake, parseJsonBody, type ProtocolDeps } from '../protocolIntake.js';
import type { ProtocolEndpoint } from '../protocols.js';
import { sendJson, sendNoContent } from '../responses.js';
import { createWriteKeys, type WriteKeys } from '../segment/writeKeys.js';
import type { Ga4Config } from './ga4Config.js';
import { checkSharedMeta, ga4Event, requestShared } from './mapping.js';
import { validateRequest, type ValidationMessage } from './validation.js';

/**
 * The GA4 Measurement Protocol (docs/protocols.md#ga4):
 * - `POST /mp/collect?measurement_id=G-...&api_secret=...` (or `firebase_app_id=`): the
 *   request's events are stored, then answered 204 as Google answers. The stream and its
 *   secret must be in `ga4.streams` (401 BEACON_E_GA_UNAUTHORIZED otherwise; Google answers
 *   2xx and drops such data silently, Beacon says why). Beacon keeps events GA4 would drop for
 *   their names or sizes (names through compatibleType, GA4's 25-event cap not applied).
 * - `POST /debug/mp/collect`: stores nothing; answers 200 with GA4's
 *   `{"validationMessages": [...]}` (./validation.ts). Like Google's, it does not check the
 *   API secret.
 * JSON in any media type.
 */

const COLLECT = '/mp/collect';
const DEBUG = '/debug/mp/collect';
const METHODS = 'POST, OPTIONS';
/** GA4 takes requests of up to 130 kB. */
const GA4_LIMITS = { bodyBytes: 130 * 1024 };

interface Stream {
  id: string;
  app: boolean;
  secrets: WriteKeys;
}

export function createGa4Api(config: Ga4Config, deps: ProtocolDeps): ProtocolEndpoint {
  const intake = createProtocolIntake('ga4', deps, GA4_LIMITS);
  const trustProxy = deps.server.trustProxy;
  const streams = new Map<string, Stream>();
  for (const s of config.streams) {
    const id = (s.measurementId ?? s.firebaseAppId)!;
    streams.set(id, { id, app: s.firebaseAppId !== undefined, secrets: createWriteKeys([s.apiSecret]) });
  }

  /** The stream a query names, as `measurement_id` or `firebase_app_id`. */
  function named(query: URLSearchParams): { id: string; app: boolean } | undefined {
    const measurementId = query.get('measurement_id');
    if (measurementId !== null && measurementId.length > 0) return { id: measurementId, app: false };
    const appId = query.get('firebase_app_id');
    if (appId !== null && appId.length > 0) return { id: appId, app: true };
    return undefined;
  }

  async function collect(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    started: number,
    now: number,
  ): Promise<void> {
    const which = named(query);
    const stream = which === undefined ? undefined : streams.get(which.id);
    const secret = query.get('api_secret');
    if (which === undefined)
      return intake.refuse(
        req,
        res,
        'BEACON_E_GA_UNAUTHORIZED',
        'name the stream with measurement_id (or firebase_app_id) in the query string',
      );
    if (stream === undefined)
      return intake.refuse(
        req,
        res,
        'BEACON_E_GA_UNAUTHORIZED',
        'this measurement_id / firebase_app_id is not listed in ga4.streams',
      );
    if (secret === null || !stream.secrets.accepts(secret))
      return intake.refuse(
        req,
        res,
        'BEACON_E_GA_UNAUTHORIZED',
        'api_secret is missing or not the secret of this stream in ga4.streams',
      );
    const body = await intake.body(req, res);
    if (body === undefined) return;
    const parsed = parseJsonBody(body);
    if (isRejection(parsed)) return intake.refuse(req, res, parsed.code, parsed.message);
    const value = parsed.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return intake.refuse(req, res, 'BEACON_E_BAD_EVENT', 'the body must be a JSON object {client_id, events: [...]}');
    const record = value as Record<string, unknown>;
    if (!Array.isArray(record.events))
      return intake.refuse(req, res, 'BEACON_E_BAD_EVENT', '"events" must be an array of {name, params}');
    const items = record.events as unknown[];
    if (items.length > intake.batchEvents) {
      const tooLarge = batchTooLarge('the request', items.length, 'events', intake.batchEvents);
      return intake.refuse(req, res, tooLarge.code, tooLarge.message);
    }
    const facts = requestFacts(req, trustProxy, now);
    const shared = requestShared(record, { stream: stream.id, app: stream.app });
    const badShared = checkSharedMeta(shared, intake.rules, parsed.bound);
    if (badShared) return intake.refuse(req, res, badShared.code, badShared.message);
    intake.received(items.length);
    const { events, rejected } = intake.checkEach(items, (item) =>
      ga4Event(item, shared, facts, intake.rules, parsed.bound),
    );
    if (events.length > 0 && !(await intake.commit(events, req, res, started))) return;
    intake.closeIfDraining(res);
    // Google answers 204 whatever happened; a refused event is still named, for the sender's logs.
    if (rejected.length === 0) sendNoContent(res, intake.corsFor(req));
    else sendJson(res, 200, JSON.stringify({ accepted: events.length, rejected }), intake.corsFor(req));
  }

  async function debug(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, now: number): Promise<void> {
    const body = await intake.body(req, res);
    if (body === undefined) return;
    const which = named(query);
    const messages: ValidationMessage[] = [];
    if (which === undefined)
      messages.push({
        fieldPath: 'measurement_id',
        description: 'The request names no stream: send measurement_id (or firebase_app_id) in the query string.',
        validationCode: 'VALUE_REQUIRED',
      });
    else if (!streams.has(which.id))
      messages.push({
        fieldPath: which.app ? 'firebase_app_id' : 'measurement_id',
        description: `Stream [${which.id}] is not listed in ga4.streams, so Beacon would refuse its events.`,
        validationCode: 'VALUE_INVALID',
      });
    const parsed = parseJsonBody(body);
    if (isRejection(parsed)) {
      messages.push({
        fieldPath: '',
        description: `Unable to parse Measurement Protocol JSON payload. ${parsed.message}`,
        validationCode: 'VALUE_INVALID',
      });
    } else {
      messages.push(...validateRequest(parsed.value, which?.app ?? false));
      const record = parsed.value;
      if (
        typeof record === 'object' &&
        record !== null &&
        !Array.isArray(record) &&
        Array.isArray((record as { events?: unknown }).events)
      ) {
        // What Beacon's own intake would refuse (GA4's checks above do not cover it).
        const facts = requestFacts(req, trustProxy, now);
        const shared = requestShared(record as Record<string, unknown>, {
          stream: which?.id ?? '',
          app: which?.app ?? false,
        });
        const items = (record as { events: unknown[] }).events;
        const badShared = checkSharedMeta(shared, intake.rules, parsed.bound);
        if (badShared) {
          messages.push({
            fieldPath: '',
            description: `Beacon would refuse this request: ${badShared.code}: ${badShared.message}`,
            validationCode: 'VALUE_INVALID',
          });
        } else if (items.length > intake.batchEvents) {
          // The collect endpoint refuses such a request before mapping any event: so does this check, to cost no more than it.
          messages.push({
            fieldPath: 'events',
            description: `Beacon would refuse this request: BEACON_E_BATCH_TOO_LARGE: it holds ${items.length} events; at most ${intake.batchEvents} are accepted`,
            validationCode: 'VALUE_INVALID',
          });
        } else {
          items.forEach((item, index) => {
            const result = intake.checked(ga4Event(item, shared, facts, intake.rules, parsed.bound));
            if (isRejection(result) && result.code !== 'BEACON_E_BAD_EVENT') {
              messages.push({
                fieldPath: `events[${index}]`,
                description: `Beacon would refuse this event: ${result.code}: ${result.message}`,
                validationCode: 'VALUE_INVALID',
              });
            }
          });
        }
      }
    }
    intake.closeIfDraining(res);
    sendJson(res, 200, JSON.stringify({ validationMessages: messages }), intake.corsFor(req));
  }

  return {
    bodyBytes: intake.bodyLimits.bodyBytes,
    owns: (path) => path === COLLECT || path === DEBUG,
    async handle(req, res, path, rawQuery, started, now) {
      if (req.method === 'OPTIONS') return intake.preflight(req, res);
      if (req.method !== 'POST') return intake.refuseMethod(req, res, METHODS);
      const query = new URLSearchParams(rawQuery);
      if (path === DEBUG) return debug(req, res, query, now);
      return collect(req, res, query, started, now);
    },
  };
}
