import { scanJson } from '../jsonScan.js';
import { OPTIONAL_EVENT_FIELDS, type TrackedEvent } from '../trackedEvent.js';
import type { Codec, CodecDefinition } from './codec.js';

/**
 * The `line` codec: the Pushtech consumer message format, one event per line:
 *
 *     <type> <meta as k=v&...> <props as k=v&...>
 *
 * e.g. `app_open id=0190...&ts=1510826008003&ip=ffffac110001&country=XX deviceid=abcdf&ts=123456`
 *
 * - The three fields are separated by exactly one space; an empty section is an empty string,
 *   so a line always has exactly two spaces.
 * - The meta section holds the envelope first (`id`, `ts`, then `clientTs`, `partyId`,
 *   `sessionId`, `pageViewId`, `ip`, `ua`, `url`, `referrer` when present), then the `meta`
 *   entries. A meta key that equals an envelope name (e.g. `meta.ua`, the parsed user agent)
 *   or starts with `meta.` is written as `meta.<key>` so the two never collide.
 * - Keys and values are URL-encoded (encodeURIComponent), so no space, `&`, `=` or newline
 *   appears raw. Strings are written as they are; numbers, booleans, null, objects and arrays
 *   are written as JSON text (then URL-encoded).
 * - `decode` reverses this. The format does not keep scalar types, so a value whose text is
 *   JSON (a number, `true`, `false`, `null`, an object or an array) comes back parsed, and
 *   every other value comes back as a string: the string "5" decodes as the number 5.
 */
const ENVELOPE_FIELDS: readonly string[] = ['id', 'ts', ...OPTIONAL_EVENT_FIELDS];
const META_PREFIX = 'meta.';

function encodeValue(value: unknown): string {
  return encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value));
}

function encodePairs(pairs: [string, unknown][]): string {
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeValue(v)}`)
    .join('&');
}

function encodeLine(event: TrackedEvent): string {
  const meta: [string, unknown][] = ENVELOPE_FIELDS.map((f) => [f, event[f as keyof TrackedEvent]]);
  for (const [key, value] of Object.entries(event.meta ?? {})) {
    const clashes = ENVELOPE_FIELDS.includes(key) || key.startsWith(META_PREFIX);
    meta.push([clashes ? META_PREFIX + key : key, value]);
  }
  return `${encodeURIComponent(event.type)} ${encodePairs(meta)} ${encodePairs(Object.entries(event.props ?? {}))}`;
}

/**
 * Bounds on a value's JSON text: a value nesting deeper, or holding more, stays a string
 * rather than costing a deep parse (the same defaults as server.limits.jsonDepth/jsonElements).
 */
const VALUE_BOUNDS = { depth: 64, elements: 100_000 };

/** Parses a value's text: JSON where it is JSON (other than a JSON string), else the string. */
function decodeValue(text: string): unknown {
  const s = decodeURIComponent(text);
  if (s === '') return s;
  const first = s.charCodeAt(0);
  if ((first === 0x5b || first === 0x7b) && scanJson(s, VALUE_BOUNDS) !== undefined) return s;
  try {
    const parsed: unknown = JSON.parse(s);
    return typeof parsed === 'string' ? s : parsed;
  } catch {
    return s;
  }
}

function decodePairs(section: string): [string, string][] {
  if (section === '') return [];
  return section.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    return [decodeURIComponent(k), v];
  });
}

/**
 * Sets an own property whatever the key: `meta[key] = v` with the key `__proto__` would
 * replace the object's prototype instead (a param named `__proto__` is an ordinary name here).
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function decodeLine(line: string): Record<string, unknown> {
  const [type = '', metaSection = '', ...rest] = line.split(' ');
  const event: Record<string, unknown> = { type: decodeURIComponent(type) };
  const meta: Record<string, unknown> = {};
  for (const [key, raw] of decodePairs(metaSection)) {
    if (key === 'id') event.id = decodeURIComponent(raw);
    else if (key === 'ts' || key === 'clientTs') event[key] = Number(decodeURIComponent(raw));
    else if (ENVELOPE_FIELDS.includes(key)) event[key] = decodeURIComponent(raw);
    else setOwn(meta, key.startsWith(META_PREFIX) ? key.slice(META_PREFIX.length) : key, decodeValue(raw));
  }
  const props: Record<string, unknown> = {};
  for (const [key, raw] of decodePairs(rest.join(' '))) setOwn(props, key, decodeValue(raw));
  event.props = props;
  event.meta = meta;
  return event;
}

export const lineCodec: Codec = {
  name: 'line',
  contentType: 'text/plain; charset=utf-8',
  encode: (event) => Buffer.from(encodeLine(event), 'utf8'),
  encodeText: encodeLine,
  decode: (payload) =>
    payload
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(decodeLine),
};

export const lineCodecDefinition: CodecDefinition = { name: 'line', create: () => lineCodec };
