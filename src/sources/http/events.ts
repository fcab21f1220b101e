import type { IncomingMessage } from 'node:http';
import { unescape } from 'node:querystring';
import type { LimitsConfig } from '../../config/schema.js';
import { BeaconError } from '../../errors/beaconError.js';
import type { ErrorCode } from '../../errors/codes.js';
import { uuidv7 } from '../../event/ids.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';

/**
 * Turning HTTP input into TrackedEvents. Validation returns a `Rejection` instead of throwing,
 * so a batch with many bad events costs no stack traces, and the per-index answer is built
 * from the same values.
 */

/** Longest client-given `id`, `partyId`, `sessionId` and `pageViewId`. */
export const MAX_ID_CHARS = 128;
/** Longest client-given `url` and `referrer`. */
export const MAX_URL_CHARS = 8192;

export interface Rejection {
  code: ErrorCode;
  message: string;
}

/** What the collector checks events against, compiled once from `server.limits`. */
export interface EventRules {
  typePattern: RegExp;
  propsBytes: number;
  propsDepth: number;
}

export function compileRules(limits: LimitsConfig): EventRules {
  let typePattern: RegExp;
  try {
    typePattern = new RegExp(limits.typePattern);
  } catch (err) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `server.limits.typePattern is not a valid regular expression: ${(err as Error).message}`,
      { field: 'server.limits.typePattern', value: limits.typePattern },
    );
  }
  return { typePattern, propsBytes: limits.propsBytes, propsDepth: limits.propsDepth };
}

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
}

export function requestFacts(req: IncomingMessage, trustProxy: boolean, ts: number): RequestFacts {
  const headers = req.headers;
  return { ts, ip: clientIp(req, trustProxy), ua: headers['user-agent'], referer: headers.referer };
}

/** The socket's peer, or the first X-Forwarded-For hop (the original client) behind a trusted proxy. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    if (typeof forwarded === 'string') {
      const comma = forwarded.indexOf(',');
      const first = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
      if (first.length > 0) return unmapIpv4(first);
    }
  }
  const remote = req.socket.remoteAddress;
  return remote === undefined ? undefined : unmapIpv4(remote);
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is reported as `10.0.0.1`. */
function unmapIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function checkType(type: string, rules: EventRules): Rejection | undefined {
  if (rules.typePattern.test(type)) return undefined;
  return { code: 'BEACON_E_BAD_TYPE', message: `event type ${JSON.stringify(type.slice(0, 100))} does not match server.limits.typePattern` };
}

/**
 * Checks nesting depth (props itself is level 1) and the props' size as compact JSON in UTF-8.
 * `sizeBound` is an upper bound on that size known from the input (6 x the raw bytes: no
 * JSON value re-encodes to more than 6 times its source); when it is within the limit the
 * props are not serialised at all, which keeps the pixel path free of a JSON.stringify.
 */
export function checkProps(props: Record<string, unknown>, rules: EventRules, sizeBound: number): Rejection | undefined {
  if (exceedsDepth(props, rules.propsDepth)) {
    return { code: 'BEACON_E_PROPS_TOO_DEEP', message: `props nest deeper than ${rules.propsDepth} levels` };
  }
  if (sizeBound > rules.propsBytes) {
    // Depth is checked first, so JSON.stringify never recurses deeper than propsDepth (<= 64).
    const json = JSON.stringify(props);
    if (json.length > rules.propsBytes || (json.length * 3 > rules.propsBytes && Buffer.byteLength(json) > rules.propsBytes)) {
      return { code: 'BEACON_E_PROPS_TOO_LARGE', message: `props are larger than ${rules.propsBytes} bytes as JSON` };
    }
  }
  return undefined;
}

/** `container` is at level 1 with `levels` allowed; stops at the first level too deep. */
function exceedsDepth(container: object, levels: number): boolean {
  if (levels < 1) return true;
  if (Array.isArray(container)) {
    for (const value of container) {
      if (typeof value === 'object' && value !== null && exceedsDepth(value as object, levels - 1)) return true;
    }
    return false;
  }
  const record = container as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (typeof value === 'object' && value !== null && exceedsDepth(value, levels - 1)) return true;
  }
  return false;
}

/**
 * Parses a query string into props: `a=1&b=x+y&a=2` -> `{a: ['1', '2'], b: 'x y'}`. Never
 * throws: a malformed %-escape is kept as written. `__proto__` becomes an ordinary key.
 */
export function parseQuery(query: string): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  const length = query.length;
  let start = 0;
  while (start < length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const key = decodeComponent(query.slice(start, hasValue ? eq : end));
      if (key.length > 0) addProp(props, key, hasValue ? decodeComponent(query.slice(eq + 1, end)) : '');
    }
    start = end + 1;
  }
  return props;
}

function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  // querystring.unescape falls back to a lenient decoder instead of throwing on bad escapes.
  return spaced.includes('%') ? unescape(spaced) : spaced;
}

function addProp(props: Record<string, unknown>, key: string, value: string): void {
  if (Object.hasOwn(props, key)) {
    const current = props[key];
    if (Array.isArray(current)) current.push(value);
    else props[key] = [current, value];
  } else if (key === '__proto__') {
    Object.defineProperty(props, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    props[key] = value;
  }
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
export function batchEvent(item: unknown, facts: RequestFacts, rules: EventRules, rawBound: number): TrackedEvent | Rejection {
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
  else if (typeof input.props === 'object' && !Array.isArray(input.props)) props = input.props as Record<string, unknown>;
  else return { code: 'BEACON_E_BAD_EVENT', message: '"props" must be a JSON object' };
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id, type, ts: facts.ts, props } as TrackedEvent;

  if (input.ts !== undefined && input.ts !== null) {
    const clientTs = timestamp(input.ts);
    if (clientTs === undefined) return { code: 'BEACON_E_BAD_EVENT', message: '"ts" must be milliseconds since the epoch or an ISO 8601 date' };
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
      return { code: 'BEACON_E_BAD_EVENT', message: `"${field}" must be a string of at most ${MAX_ID_CHARS} characters` };
    }
    event[field] = value;
  }
  if (facts.ip !== undefined) event.ip = facts.ip;
  if (facts.ua !== undefined) event.ua = facts.ua;
  for (const field of URL_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.length > MAX_URL_CHARS) {
      return { code: 'BEACON_E_BAD_EVENT', message: `"${field}" must be a string of at most ${MAX_URL_CHARS} characters` };
    }
    event[field] = value;
  }
  if (event.referrer === undefined && facts.referer !== undefined) event.referrer = facts.referer;
  event.meta = { source: 'http' };
  if (clientId) clientIdEvents.add(event);
  return event;
}

/**
 * Events whose `id` the client gave (idempotency keys for the duplicate check). Kept beside
 * the events rather than on them, so the event's shape (and the log's stringify) is unchanged.
 */
const clientIdEvents = new WeakSet<object>();

/** True when `event` came from a /batch element that carried its own `id`. */
export function hasClientId(event: object): boolean {
  return clientIdEvents.has(event);
}

/** For other intakes whose clients give event ids (the Segment API's `messageId`): the id memory then dedupes their retries. */
export function markClientId(event: object): void {
  clientIdEvents.add(event);
}

/**
 * Events of a `POST /batch?resend=1`: a client resending blindly what it may already have
 * delivered (beacon.js after `sendBeacon`, which tells nothing of the answer). The id memory
 * drops such an event when it already holds its id, whatever `enrich.duplicates.action` says.
 * Kept beside the events like `clientIdEvents`: nothing of it is written to the log.
 */
const resentEvents = new WeakSet<object>();

/** True when `event` came from a request marked `resend=1`. */
export function isResent(event: object): boolean {
  return resentEvents.has(event);
}

export function markResent(event: object): void {
  resentEvents.add(event);
}

const ID_FIELDS = ['partyId', 'sessionId', 'pageViewId'] as const;
const URL_FIELDS = ['url', 'referrer'] as const;

function timestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Tells a Rejection from a successful result (an event, a parsed value, a list). */
export function isRejection<T extends object>(value: T | Rejection): value is Rejection {
  return typeof (value as Partial<Rejection>).code === 'string' && typeof (value as Partial<Rejection>).message === 'string';
}
