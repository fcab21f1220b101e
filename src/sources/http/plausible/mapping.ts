import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { isRejection, type Rejection } from '../../../event/rejection.js';
import { type RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * One Plausible event (`POST /api/event`, as Plausible's script, plausible-tracker and its
 * Events API senders post it) turned into a TrackedEvent. Each field has a long and a short
 * name, as Plausible reads them. docs/protocols.md#plausible has the table; in short:
 *
 * - type: `name` / `n` through compatibleType (`pageview` stays `pageview`); the name as sent
 *   in `meta.plausible.event`.
 * - props: `props` / `p` (also `meta` / `m`), a JSON object or a JSON string of one.
 * - url / referrer: `url` / `u`, `referrer` / `r`.
 * - ua and ip: the request's User-Agent header and client address (clientIp: `X-Forwarded-For` only behind `server.trustProxy`):
 *   what Plausible reads; the body carries neither.
 * - meta: `{source: 'plausible', plausible: {event, domain, revenue?, hashMode?, interactive?, screenWidth?}}`.
 * - id: server-made (Plausible events carry none).
 */

export interface PlausibleFacts extends RequestFacts {
  /** The site domain(s) the event names, already checked against `plausible.domains`. */
  domain: string;
}

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `long ?? short`, as Plausible reads each field. */
export function field(body: Record<string, unknown>, long: string, short: string): unknown {
  return body[long] ?? body[short];
}

/** The domain an event names: `domain` / `d`, else the host of its URL (as Plausible falls back). */
export function eventDomain(body: Record<string, unknown>): string | undefined {
  const domain = field(body, 'domain', 'd');
  if (typeof domain === 'string' && domain.length > 0) return domain;
  const url = field(body, 'url', 'u');
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url).hostname.replace(/^www\./, '') || undefined;
  } catch {
    return undefined;
  }
}

function parseProps(body: Record<string, unknown>): { props: Record<string, unknown> } | Rejection {
  const raw = body.props ?? body.p ?? body.meta ?? body.m;
  if (raw === undefined || raw === null || raw === '') return { props: {} };
  if (isObject(raw)) return { props: { ...raw } };
  if (typeof raw === 'string') {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (isObject(parsed)) return { props: parsed };
    } catch {
      // fall through
    }
  }
  return bad('"props" must be a JSON object (or a JSON string of one)');
}

export function plausibleEvent(
  body: unknown,
  facts: PlausibleFacts,
  rules: EventRules,
  rawBound: number,
): TrackedEvent | Rejection {
  if (!isObject(body)) return bad('a Plausible event must be a JSON object');
  const name = field(body, 'name', 'n');
  if (typeof name !== 'string' || name.length === 0) return bad('a Plausible event needs its "name"');
  const url = field(body, 'url', 'u');
  if (typeof url !== 'string' || url.length === 0) return bad('a Plausible event needs its "url"');

  const type = compatibleType(name, rules.typePattern);
  const badType = checkType(type, rules);
  if (badType) return badType;
  const parsed = parseProps(body);
  if (isRejection(parsed)) return parsed;
  const props = parsed.props;
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  const event = { id: uuidv7(facts.ts), type, ts: facts.ts, props } as TrackedEvent;
  if (facts.ip !== undefined) event.ip = facts.ip;
  if (facts.ua !== undefined) event.ua = facts.ua;
  if (url.length <= MAX_URL_CHARS) event.url = url;
  const referrer = field(body, 'referrer', 'r');
  if (typeof referrer === 'string' && referrer.length > 0 && referrer.length <= MAX_URL_CHARS)
    event.referrer = referrer;

  const plausible: Record<string, unknown> = { event: name, domain: facts.domain };
  const revenue = field(body, 'revenue', '$');
  if (revenue !== undefined && revenue !== null)
    plausible.revenue = typeof revenue === 'string' ? safeJson(revenue) : revenue;
  const hashMode = field(body, 'hashMode', 'h');
  if (hashMode === 1 || hashMode === true) plausible.hashMode = true;
  const interactive = field(body, 'interactive', 'i');
  if (interactive === false) plausible.interactive = false;
  const width = field(body, 'screen_width', 'w');
  if (typeof width === 'number' && Number.isFinite(width)) plausible.screenWidth = width;
  if (url.length > MAX_URL_CHARS) plausible.url = url;
  // The revenue object goes to meta unread: held to the props' limits, or a deep one would cost the log's JSON.stringify its stack.
  const badMeta = checkProps(plausible, rules, rawBound);
  if (badMeta)
    return { code: badMeta.code, message: badMeta.message.replace(/^props/, 'meta.plausible (the revenue object)') };
  event.meta = { source: 'plausible', plausible };
  return event;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
