import { uuidv7 } from './ids.js';
import type { ResendMarks } from './resendMarks.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from './rules.js';
import type { Rejection } from './rejection.js';
import type { TrackedEvent } from './trackedEvent.js';

/** Building a `TrackedEvent` from what a client submitted: a type and props, or a whole event object. */

/** Facts about the request every event from it shares. */
export interface RequestFacts {
  /** Server receive time, ms. */
  ts: number;
  ip: string | undefined;
  ua: string | undefined;
  /** The Referer header: the page the request came from. */
  referer: string | undefined;
  /** Ids the collector assigned (cookies or cookieless, src/enrich/identity/); an event's own win. */
  partyId?: string;
  sessionId?: string;
  /** Where the intake marks events whose id the client gave (the id memory reads them); unset: not marked. */
  marks?: ResendMarks | undefined;
}

/** An event for GET /t/<type> and POST /t/<type>: the page sending it is the Referer. */
export function pageEvent(type: string, props: Record<string, unknown>, facts: RequestFacts): TrackedEvent {
  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id: uuidv7(facts.ts), type, ts: facts.ts, props } as TrackedEvent;
  if (facts.partyId !== undefined) event.partyId = facts.partyId;
  if (facts.sessionId !== undefined) event.sessionId = facts.sessionId;
  if (facts.ip !== undefined) event.ip = facts.ip;
  if (facts.ua !== undefined) event.ua = facts.ua;
  if (facts.referer !== undefined) event.url = facts.referer;
  event.meta = { source: 'http' };
  return event;
}

/**
 * One element of a POST /batch body:
 * `{type, id?, ts?, props?, partyId?, sessionId?, pageViewId?, url?, referrer?}`.
 * `null` counts as absent; unknown fields are ignored. `rawBound` bounds the element's JSON size.
 */
export function batchEvent(
  item: unknown,
  facts: RequestFacts,
  rules: EventRules,
  rawBound: number,
): TrackedEvent | Rejection {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { code: 'BEACON_E_BAD_EVENT', message: 'an event must be a JSON object' };
  }
  const input = item as Record<string, unknown>;
  const type = input.type;
  if (typeof type !== 'string') return { code: 'BEACON_E_BAD_EVENT', message: '"type" must be a string' };
  const badType = checkType(type, rules);
  if (badType) return badType;

  let id: string;
  const clientId = input.id !== undefined && input.id !== null;
  if (!clientId) id = uuidv7(facts.ts);
  else if (typeof input.id === 'string' && input.id.length > 0 && input.id.length <= MAX_ID_CHARS) id = input.id;
  else return { code: 'BEACON_E_BAD_EVENT', message: `"id" must be a string of 1 to ${MAX_ID_CHARS} characters` };

  let props: Record<string, unknown>;
  if (input.props === undefined || input.props === null) props = {};
  else if (typeof input.props === 'object' && !Array.isArray(input.props))
    props = input.props as Record<string, unknown>;
  else return { code: 'BEACON_E_BAD_EVENT', message: '"props" must be a JSON object' };
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id, type, ts: facts.ts, props } as TrackedEvent;

  if (input.ts !== undefined && input.ts !== null) {
    const clientTs = clientTimestamp(input.ts);
    if (clientTs === undefined)
      return { code: 'BEACON_E_BAD_EVENT', message: '"ts" must be milliseconds since the epoch or an ISO 8601 date' };
    event.clientTs = clientTs;
  }
  for (const field of ID_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) {
      const assigned = field === 'pageViewId' ? undefined : facts[field];
      if (assigned !== undefined) event[field] = assigned;
      continue;
    }
    if (typeof value !== 'string' || value.length > MAX_ID_CHARS) {
      return {
        code: 'BEACON_E_BAD_EVENT',
        message: `"${field}" must be a string of at most ${MAX_ID_CHARS} characters`,
      };
    }
    event[field] = value;
  }
  if (facts.ip !== undefined) event.ip = facts.ip;
  if (facts.ua !== undefined) event.ua = facts.ua;
  for (const field of URL_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.length > MAX_URL_CHARS) {
      return {
        code: 'BEACON_E_BAD_EVENT',
        message: `"${field}" must be a string of at most ${MAX_URL_CHARS} characters`,
      };
    }
    event[field] = value;
  }
  if (event.referrer === undefined && facts.referer !== undefined) event.referrer = facts.referer;
  event.meta = { source: 'http' };
  if (clientId) facts.marks?.markClientId(event);
  return event;
}

const ID_FIELDS = ['partyId', 'sessionId', 'pageViewId'] as const;
const URL_FIELDS = ['url', 'referrer'] as const;

/** A client's timestamp: epoch milliseconds (a finite number, rounded, not negative) or a date string; else undefined. */
export function clientTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
