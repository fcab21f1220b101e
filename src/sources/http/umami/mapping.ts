import { isIP } from 'node:net';
import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { type Rejection } from '../../../event/rejection.js';
import { type RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * One Umami call (`POST /api/send` with `{type, payload}`, as Umami's script and @umami/node
 * send it) turned into a TrackedEvent. docs/protocols.md#umami has the table; in short:
 *
 * - type: `event` with a `payload.name` -> that name through compatibleType; `event` without
 *   one -> `pageview` (Umami's page view); `identify` -> `identify`. The name as sent is in
 *   `meta.umami.event`.
 * - props: `payload.data`.
 * - url / referrer: `payload.url`, `payload.referrer` (as sent: Umami's script sends a path).
 * - ua: `payload.userAgent`, else the request's User-Agent; ip: `payload.ip`, else the
 *   request's client address (clientIp: `X-Forwarded-For` only behind `server.trustProxy`): what Umami reads, in that order.
 * - clientTs: `payload.timestamp` (Unix seconds, as Umami takes it).
 * - partyId: `payload.id` (Umami's distinct id), when given.
 * - meta: `{source: 'umami', umami: {type, website, event?, hostname?, title?, language?, screen?, tag?}}`.
 * - id: server-made (Umami events carry none).
 */

export const UMAMI_TYPES = ['event', 'identify'] as const;

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

export function umamiEvent(
  body: unknown,
  facts: RequestFacts,
  rules: EventRules,
  rawBound: number,
): TrackedEvent | Rejection {
  if (!isObject(body)) return bad('an Umami call must be a JSON object {type, payload}');
  const kind = body.type ?? 'event';
  if (kind !== 'event' && kind !== 'identify') return bad(`"type" must be one of ${UMAMI_TYPES.join(', ')}`);
  const payload = body.payload;
  if (!isObject(payload)) return bad('an Umami call needs its "payload" object');
  if (typeof payload.website !== 'string' || payload.website.length === 0)
    return bad('an Umami payload needs its "website" id');

  const name = kind === 'identify' ? undefined : text(payload.name, Number.MAX_SAFE_INTEGER);
  const type =
    kind === 'identify' ? 'identify' : name === undefined ? 'pageview' : compatibleType(name, rules.typePattern);
  const badType = checkType(type, rules);
  if (badType) return badType;

  const data = payload.data;
  if (data !== undefined && data !== null && !isObject(data)) return bad('"payload.data" must be a JSON object');
  const props: Record<string, unknown> = isObject(data) ? { ...data } : {};
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  const event = { id: uuidv7(facts.ts), type, ts: facts.ts, props } as TrackedEvent;
  const seconds =
    typeof payload.timestamp === 'number'
      ? payload.timestamp
      : typeof payload.timestamp === 'string'
        ? Number(payload.timestamp)
        : NaN;
  if (Number.isFinite(seconds) && seconds > 0) event.clientTs = Math.round(seconds * 1000);
  const distinctId = text(payload.id, MAX_ID_CHARS);
  if (distinctId !== undefined) event.partyId = distinctId;
  const ip = typeof payload.ip === 'string' && isIP(payload.ip) !== 0 ? payload.ip : facts.ip;
  if (ip !== undefined) event.ip = ip;
  const ua = text(payload.userAgent, MAX_URL_CHARS) ?? facts.ua;
  if (ua !== undefined) event.ua = ua;
  const url = text(payload.url, MAX_URL_CHARS);
  if (url !== undefined) event.url = url;
  const referrer = text(payload.referrer, MAX_URL_CHARS);
  if (referrer !== undefined) event.referrer = referrer;

  const umami: Record<string, unknown> = { type: kind, website: payload.website };
  if (name !== undefined) umami.event = name;
  for (const key of ['hostname', 'title', 'language', 'screen', 'tag'] as const) {
    const value = payload[key];
    if (typeof value === 'string' && value.length > 0) umami[key] = value.slice(0, MAX_URL_CHARS);
  }
  event.meta = { source: 'umami', umami };
  return event;
}
