import { isIP } from 'node:net';
import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { type Rejection } from '../../../event/rejection.js';
import { clientTimestamp, type RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * One PostHog event (as posthog-js, posthog-node and the other PostHog SDKs send it to the
 * capture API) turned into a TrackedEvent. docs/protocols.md#posthog has the table; in short:
 *
 * - type: the `event` name through compatibleType (`$pageview` -> `pageview.<hash>`, `signed
 *   up` -> `signed_up.<hash>`); the name as sent is always kept in `meta.posthog.event`. An
 *   `/engage/` update (no `event`, a `$set`) is a `$identify`, as PostHog records it.
 * - id: `uuid` (a client id, so an SDK's retry is caught by the duplicate id memory); a
 *   server-made UUIDv7 when absent.
 * - partyId: `distinct_id` (top level, `$distinct_id`, or in `properties`); when it is longer
 *   than Beacon's ids allow it is kept whole in `meta.posthog.distinctId` only.
 * - clientTs: `timestamp`, else the receive time minus `offset` (ms) when the SDK sent one.
 * - sessionId / pageViewId / url / referrer: `$session_id`, `$pageview_id`, `$current_url`,
 *   `$referrer` (not `$direct`) from the properties, which keep them too.
 * - ip: the `$ip` property when it is an address (PostHog's override), else the request's;
 *   `$ip` is moved out of the props so the raw address is never written beside the anonymised
 *   one. ua: `$raw_user_agent`, else the request's User-Agent for posthog-js (`$lib: web`);
 *   server SDKs' own User-Agent is theirs, not the user's.
 * - props: `properties` without `token`, `distinct_id`, `$ip` and `$raw_user_agent`, plus the
 *   top-level `$set` / `$set_once` when given there.
 * - meta: `{source: 'posthog', posthog: {event, lib?, distinctId?}}`.
 */

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function shortString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

const MOVED_PROPS = ['token', 'distinct_id', '$distinct_id', '$ip', '$raw_user_agent'] as const;

/** `rawBound` bounds the message's JSON size (see checkProps). */
export function posthogEvent(
  message: unknown,
  facts: RequestFacts,
  rules: EventRules,
  rawBound: number,
): TrackedEvent | Rejection {
  if (!isObject(message)) return bad('a PostHog event must be a JSON object');
  const properties = message.properties ?? message.$properties;
  if (properties !== undefined && properties !== null && !isObject(properties))
    return bad('"properties" must be a JSON object');
  const given: Record<string, unknown> = isObject(properties) ? properties : {};

  let name = message.event;
  const engage =
    name === undefined && (isObject(message.$set) || isObject(message.$set_once) || message.$distinct_id !== undefined);
  if (engage) name = '$identify';
  if (typeof name !== 'string' || name.length === 0) return bad('a PostHog event needs its "event" name');

  const distinctId =
    idText(message.distinct_id) ??
    idText(message.$distinct_id) ??
    idText(given.distinct_id) ??
    idText(given.$distinct_id);
  if (distinctId === undefined) return bad('a PostHog event needs a "distinct_id"');

  let id: string;
  const clientId = typeof message.uuid === 'string' && message.uuid.length > 0 && message.uuid.length <= MAX_ID_CHARS;
  if (clientId) id = message.uuid as string;
  else if (message.uuid !== undefined && message.uuid !== null)
    return bad(`"uuid" must be a string of 1 to ${MAX_ID_CHARS} characters`);
  else id = uuidv7(facts.ts);

  const type = compatibleType(name, rules.typePattern);
  const badType = checkType(type, rules);
  if (badType) return badType;

  const props: Record<string, unknown> = { ...given };
  for (const key of MOVED_PROPS) delete props[key];
  for (const key of ['$set', '$set_once'] as const) {
    if (isObject(message[key]) && !Object.hasOwn(props, key)) props[key] = message[key];
  }
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id, type, ts: facts.ts, props } as TrackedEvent;
  const clientTs = clientTimestamp(message.timestamp);
  const offset =
    typeof message.offset === 'number' && Number.isFinite(message.offset) && message.offset >= 0
      ? message.offset
      : undefined;
  if (clientTs !== undefined) event.clientTs = clientTs;
  else if (offset !== undefined) event.clientTs = Math.round(facts.ts - offset);
  if (distinctId.length <= MAX_ID_CHARS) event.partyId = distinctId;
  const sessionId = shortString(given.$session_id, MAX_ID_CHARS);
  if (sessionId !== undefined) event.sessionId = sessionId;
  const pageViewId = shortString(given.$pageview_id, MAX_ID_CHARS);
  if (pageViewId !== undefined) event.pageViewId = pageViewId;
  const ownIp = typeof given.$ip === 'string' && isIP(given.$ip) !== 0 ? given.$ip : undefined;
  const ip = ownIp ?? facts.ip;
  if (ip !== undefined) event.ip = ip;
  const ua = shortString(given.$raw_user_agent, MAX_URL_CHARS) ?? (given.$lib === 'web' ? facts.ua : undefined);
  if (ua !== undefined) event.ua = ua;
  const url = shortString(given.$current_url, MAX_URL_CHARS);
  if (url !== undefined) event.url = url;
  const referrer = shortString(given.$referrer, MAX_URL_CHARS);
  if (referrer !== undefined && referrer !== '$direct') event.referrer = referrer;

  const posthog: Record<string, unknown> = { event: name };
  if (typeof given.$lib === 'string') posthog.lib = given.$lib;
  if (event.partyId === undefined) posthog.distinctId = distinctId;
  event.meta = { source: 'posthog', posthog };
  if (clientId) facts.marks?.markClientId(event);
  return event;
}
