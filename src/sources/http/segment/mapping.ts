import { isIP } from 'node:net';
import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { type Rejection } from '../../../event/rejection.js';
import { type RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * One Segment message (a track, page, screen, identify, group or alias call, as the Segment
 * HTTP API and its SDKs send it) turned into a TrackedEvent. docs/segment.md has the mapping
 * table; in short:
 *
 * - type: a track call's `event`, made a valid type by `compatibleType` (any name Segment
 *   takes becomes a distinct valid type; the original is kept in `meta.segment.event`); the
 *   other calls their own name (`page`, `screen`, `identify`, `group`, `alias`).
 * - props: `properties` (track, page, screen) or `traits` (identify, group), plus `name` and
 *   `category` (page, screen), `groupId` (group), `previousId` (alias) when given.
 * - id: `messageId`, kept as a client-given id, so an SDK's retry is caught by the duplicate
 *   id memory; a server-made UUIDv7 when absent.
 * - partyId: `anonymousId`, else `userId`; `meta.userId`: `userId`.
 * - clientTs: `timestamp` (or `originalTimestamp`); one that is not a date is kept as sent in
 *   `meta.segment.timestamp` instead (Segment takes the message all the same).
 * - ip: `context.ip`, else the request's address; ua: `context.userAgent` (the request's own
 *   User-Agent is the SDK's, not the user's); url / referrer: `context.page.url` / `.referrer`.
 *   `ip` and `userAgent` are moved out of the context, so the raw IP is never written beside the
 *   anonymised one.
 * - meta: `{source: 'segment', segment: {call, event?}, userId?, context?}`; `integrations`,
 *   `_metadata`, `sentAt` and `writeKey` are not kept.
 *
 * The same checks as /batch apply, with the limits Segment itself has at least (`rules` come
 * from `compatibleRules`: 32 KB per message, no depth limit short of 64 levels): type
 * pattern, props size and depth (the context is held to the props limits too), id lengths.
 * A message never throws out of here: it becomes an event or a Rejection.
 */

export const SEGMENT_CALLS = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type SegmentCall = (typeof SEGMENT_CALLS)[number];

export interface SegmentMappingOptions {
  normalizeEventNames: boolean;
}

/** What a `/v1/batch` body gives every message: its top-level `context` (a message's own keys win). */
export interface BatchDefaults {
  context?: Record<string, unknown>;
}

const CALLS: ReadonlySet<string> = new Set(SEGMENT_CALLS);

/**
 * A track call's name as a Beacon type that `pattern` accepts, distinct for distinct names:
 * kept when valid as it is, otherwise `compatibleType`'s form ("Order Completed" ->
 * "Order_Completed.<10 hex>", "$pageleave" -> "pageleave.<10 hex>").
 */
export function normalizeEventName(name: string, pattern?: RegExp): string {
  return compatibleType(name, pattern);
}

export function isSegmentCall(value: unknown): value is SegmentCall {
  return typeof value === 'string' && CALLS.has(value);
}

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Segment id: a string, or a number the SDKs allow for userId; absent when null, undefined or empty. */
function segmentId(value: unknown, field: string): string | undefined | Rejection {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text.length > MAX_ID_CHARS)
    return bad(`"${field}" must be a string of at most ${MAX_ID_CHARS} characters`);
  return text;
}

function isRejected(value: unknown): value is Rejection {
  return isObject(value) && typeof value.code === 'string' && typeof value.message === 'string';
}

/** Milliseconds, undefined when absent, NaN when it is not a date (Segment still takes such a message). */
function timestamp(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number'
    ? Number.isFinite(value) && value >= 0
      ? Math.round(value)
      : NaN
    : typeof value === 'string'
      ? Date.parse(value)
      : NaN;
}

function urlField(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_URL_CHARS ? value : undefined;
}

/**
 * Maps one message. `call` is fixed by the endpoint (`/v1/track`...) or, for a batch element,
 * read from its `type`. `rawBound` bounds the message's JSON size (see checkProps).
 */
export function segmentEvent(
  call: SegmentCall | undefined,
  message: unknown,
  facts: RequestFacts,
  rules: EventRules,
  options: SegmentMappingOptions,
  rawBound: number,
  defaults: BatchDefaults = {},
): TrackedEvent | Rejection {
  if (!isObject(message)) return bad('a Segment message must be a JSON object');
  const kind = call ?? message.type;
  if (!isSegmentCall(kind)) return bad(`"type" must be one of ${SEGMENT_CALLS.join(', ')}`);

  const userId = segmentId(message.userId, 'userId');
  if (isRejected(userId)) return userId;
  const anonymousId = segmentId(message.anonymousId, 'anonymousId');
  if (isRejected(anonymousId)) return anonymousId;
  if (userId === undefined && anonymousId === undefined)
    return bad('a Segment message needs a "userId" or an "anonymousId"');

  let id: string;
  const clientId = message.messageId !== undefined && message.messageId !== null;
  if (!clientId) id = uuidv7(facts.ts);
  else if (
    typeof message.messageId === 'string' &&
    message.messageId.length > 0 &&
    message.messageId.length <= MAX_ID_CHARS
  )
    id = message.messageId;
  else return bad(`"messageId" must be a string of 1 to ${MAX_ID_CHARS} characters`);

  let type: string = kind;
  let originalName: string | undefined;
  if (kind === 'track') {
    if (typeof message.event !== 'string' || message.event.length === 0)
      return bad('a track call needs its "event" name');
    type = options.normalizeEventNames ? normalizeEventName(message.event, rules.typePattern) : message.event;
    if (type !== message.event) originalName = message.event;
  }
  const badType = checkType(type, rules);
  if (badType) return badType;

  const payloadField = kind === 'identify' || kind === 'group' ? 'traits' : kind === 'alias' ? undefined : 'properties';
  const payload = payloadField === undefined ? undefined : message[payloadField];
  let props: Record<string, unknown>;
  if (payload === undefined || payload === null) props = {};
  else if (isObject(payload)) props = payload;
  else return bad(`"${payloadField}" must be a JSON object`);

  if (kind === 'page' || kind === 'screen') {
    for (const field of ['name', 'category'] as const) {
      const value = message[field];
      if (typeof value === 'string' && value.length > 0 && !Object.hasOwn(props, field)) props[field] = value;
    }
  } else if (kind === 'group') {
    const groupId = segmentId(message.groupId, 'groupId');
    if (isRejected(groupId)) return groupId;
    if (groupId === undefined) return bad('a group call needs its "groupId"');
    props.groupId = groupId;
  } else if (kind === 'alias') {
    const previousId = segmentId(message.previousId, 'previousId');
    if (isRejected(previousId)) return previousId;
    if (previousId === undefined) return bad('an alias call needs its "previousId"');
    props.previousId = previousId;
  }
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  const ownContext = message.context;
  if (ownContext !== undefined && ownContext !== null && !isObject(ownContext))
    return bad('"context" must be a JSON object');
  const context: Record<string, unknown> = { ...defaults.context, ...(ownContext ?? {}) };
  const contextIp = context.ip;
  const contextUa = context.userAgent;
  delete context.ip;
  delete context.userAgent;
  const badContext = checkProps(context, rules, rawBound);
  if (badContext) return { code: badContext.code, message: badContext.message.replace(/^props/, 'context') };

  // Segment refuses no message for its timestamp: one that is not a date is kept in meta, without clientTs.
  const sentTimestamp = message.timestamp ?? message.originalTimestamp;
  const clientTs = timestamp(sentTimestamp);

  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id, type, ts: facts.ts, props } as TrackedEvent;
  if (clientTs !== undefined && !Number.isNaN(clientTs)) event.clientTs = clientTs;
  event.partyId = anonymousId ?? userId;
  const ip = typeof contextIp === 'string' && isIP(contextIp) !== 0 ? contextIp : facts.ip;
  if (ip !== undefined) event.ip = ip;
  if (typeof contextUa === 'string' && contextUa.length > 0 && contextUa.length <= MAX_URL_CHARS) event.ua = contextUa;
  const page = isObject(context.page) ? context.page : undefined;
  const fromProps = kind === 'page' ? props : undefined;
  const url = urlField(page?.url) ?? urlField(fromProps?.url);
  if (url !== undefined) event.url = url;
  const referrer = urlField(page?.referrer) ?? urlField(fromProps?.referrer);
  if (referrer !== undefined) event.referrer = referrer;

  const segment: Record<string, unknown> = { call: kind };
  if (originalName !== undefined) segment.event = originalName;
  if (Number.isNaN(clientTs)) segment.timestamp = sentTimestamp;
  event.meta = { source: 'segment', segment };
  if (userId !== undefined) event.meta.userId = userId;
  if (Object.keys(context).length > 0) event.meta.context = context;
  if (clientId) facts.marks?.markClientId(event);
  return event;
}
