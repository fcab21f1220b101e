import { isIP } from 'node:net';
import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { type Rejection } from '../../../event/rejection.js';
import { type RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * The events of one GA4 Measurement Protocol request (`{client_id, events: [{name, params}],
 * ...}`) turned into TrackedEvents. docs/protocols.md#ga4 has the table; in short:
 *
 * - type: an event's `name` through compatibleType; the name as sent in `meta.ga4.event`.
 * - props: its `params`.
 * - partyId: `client_id` (web) or `app_instance_id` (app); `meta.userId`: `user_id`.
 * - sessionId: the `session_id` param; url / referrer: the `page_location` / `page_referrer` params.
 * - clientTs: the event's `timestamp_micros`, else the request's, in ms.
 * - ip: `ip_override`, else the request's address; ua: `user_agent` (the request's own
 *   User-Agent is the sending server's, so it is not used), as GA4 takes them.
 * - meta: `{source: 'ga4', ga4: {event, stream, userProperties?, consent?, device?, userLocation?}}`;
 *   `user_data` (hashed emails and phone numbers for Google's ad matching) is not kept.
 * - id: server-made (GA4 events carry none).
 */

export interface Ga4Request {
  /** The stream the request named: its measurement id or Firebase app id. */
  stream: string;
  /** True for an app stream (`firebase_app_id`): the instance id is `app_instance_id`. */
  app: boolean;
}

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_CHARS) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function micros(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.round(n / 1000) : undefined;
}

/** The request's own fields every event of it shares. */
export function requestShared(
  body: Record<string, unknown>,
  request: Ga4Request,
): { partyId?: string; userId?: string; meta: Record<string, unknown>; ip?: string; ua?: string; clientTs?: number } {
  const shared: {
    partyId?: string;
    userId?: string;
    meta: Record<string, unknown>;
    ip?: string;
    ua?: string;
    clientTs?: number;
  } = { meta: { stream: request.stream } };
  const partyId =
    idText(request.app ? body.app_instance_id : body.client_id) ??
    idText(body.client_id) ??
    idText(body.app_instance_id);
  if (partyId !== undefined) shared.partyId = partyId;
  const userId = idText(body.user_id);
  if (userId !== undefined) shared.userId = userId;
  if (typeof body.ip_override === 'string' && isIP(body.ip_override) !== 0) shared.ip = body.ip_override;
  if (typeof body.user_agent === 'string' && body.user_agent.length > 0 && body.user_agent.length <= MAX_URL_CHARS)
    shared.ua = body.user_agent;
  const clientTs = micros(body.timestamp_micros);
  if (clientTs !== undefined) shared.clientTs = clientTs;
  for (const [from, to] of [
    ['user_properties', 'userProperties'],
    ['consent', 'consent'],
    ['device', 'device'],
    ['user_location', 'userLocation'],
    ['non_personalized_ads', 'nonPersonalizedAds'],
  ] as const) {
    if (body[from] !== undefined && body[from] !== null) shared.meta[to] = body[from];
  }
  return shared;
}

/**
 * The request's own objects (`user_properties`, `consent`, `device`, `user_location`) go to
 * every event's `meta.ga4` unread: they are held to the props' depth and size, or one deep
 * value would cost the log's JSON.stringify its stack (and every sink after it).
 */
export function checkSharedMeta(
  shared: ReturnType<typeof requestShared>,
  rules: EventRules,
  rawBound: number,
): Rejection | undefined {
  const bad = checkProps(shared.meta, rules, rawBound);
  return bad === undefined
    ? undefined
    : {
        code: bad.code,
        message: bad.message.replace(/^props/, 'user_properties, consent, device and user_location (meta.ga4)'),
      };
}

export function ga4Event(
  item: unknown,
  shared: ReturnType<typeof requestShared>,
  facts: RequestFacts,
  rules: EventRules,
  rawBound: number,
): TrackedEvent | Rejection {
  if (!isObject(item)) return bad('a GA4 event must be a JSON object {name, params}');
  const name = item.name;
  if (typeof name !== 'string' || name.length === 0) return bad('a GA4 event needs its "name"');
  const type = compatibleType(name, rules.typePattern);
  const badType = checkType(type, rules);
  if (badType) return badType;
  const params = item.params;
  if (params !== undefined && params !== null && !isObject(params)) return bad('"params" must be a JSON object');
  const props: Record<string, unknown> = isObject(params) ? { ...params } : {};
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  const event = { id: uuidv7(facts.ts), type, ts: facts.ts, props } as TrackedEvent;
  const clientTs = micros(item.timestamp_micros) ?? shared.clientTs;
  if (clientTs !== undefined) event.clientTs = clientTs;
  if (shared.partyId !== undefined) event.partyId = shared.partyId;
  const sessionId = idText(props.session_id);
  if (sessionId !== undefined) event.sessionId = sessionId;
  const ip = shared.ip ?? facts.ip;
  if (ip !== undefined) event.ip = ip;
  if (shared.ua !== undefined) event.ua = shared.ua;
  if (
    typeof props.page_location === 'string' &&
    props.page_location.length > 0 &&
    props.page_location.length <= MAX_URL_CHARS
  )
    event.url = props.page_location;
  if (
    typeof props.page_referrer === 'string' &&
    props.page_referrer.length > 0 &&
    props.page_referrer.length <= MAX_URL_CHARS
  )
    event.referrer = props.page_referrer;
  event.meta = { source: 'ga4', ga4: { event: name, ...shared.meta } };
  if (shared.userId !== undefined) event.meta.userId = shared.userId;
  return event;
}
