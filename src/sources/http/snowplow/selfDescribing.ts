/**
 * Self-describing JSON as the tracker protocol carries it: the event of a `ue` (`ue_pr` plain,
 * `ue_px` base64) and the contexts of any event (`co` plain, `cx` base64). Trackers send
 * base64url without padding (the JS and Node trackers) or standard base64 with it (older and
 * mobile trackers); both decode here, and a field sent plain under the base64 key (or the
 * reverse) is read too, since the collector itself accepts anything and only the enrichment
 * step would reject it. Nothing here throws: what cannot be read is reported as a reason, and
 * the caller keeps the raw text.
 */

export interface SelfDescribingJson {
  schema: string;
  data: unknown;
}

/** The wrapper schema of a `ue` payload; its `data` is the event's own self-describing JSON. */
const UNSTRUCT_EVENT_SCHEMA = /^iglu:com\.snowplowanalytics\.snowplow\/unstruct_event\/jsonschema\//;
/** `iglu:<vendor>/<name>/<format>/<version>`. */
const IGLU_URI = /^iglu:([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/;
/** Characters a base64 or base64url text may hold (padding included). */
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSelfDescribing(value: unknown): value is SelfDescribingJson {
  return isObject(value) && typeof value.schema === 'string' && 'data' in value;
}

/** The JSON of a plain or base64(url) encoded field, or why it cannot be read. */
export function decodeJsonField(raw: string): { value: unknown } | { error: string } {
  const text = raw.trim();
  let json = text;
  if (!text.startsWith('{') && !text.startsWith('[')) {
    const compact = text.replace(/\s+/g, '');
    if (!BASE64_TEXT.test(compact)) return { error: 'is neither JSON nor base64' };
    // Node's base64 decoder reads both alphabets, with or without padding.
    json = Buffer.from(compact, 'base64').toString('utf8');
  }
  try {
    return { value: JSON.parse(json) as unknown };
  } catch {
    return { error: 'does not hold valid JSON' };
  }
}

/**
 * The event of a `ue` payload: the inner `{schema, data}` of the unstruct_event wrapper, or the
 * payload itself when it is a self-describing JSON sent without the wrapper.
 */
export function unwrapEvent(payload: unknown): SelfDescribingJson | { error: string } {
  if (!isSelfDescribing(payload)) return { error: 'is not a self-describing JSON ({"schema", "data"})' };
  if (UNSTRUCT_EVENT_SCHEMA.test(payload.schema)) {
    return isSelfDescribing(payload.data) ? payload.data : { error: 'wraps no self-describing event in its "data"' };
  }
  return payload;
}

/** The entities of a contexts payload (`{schema: ".../contexts/...", data: [...]}`, or a bare array). */
export function contextEntities(payload: unknown): SelfDescribingJson[] | { error: string } {
  const list = Array.isArray(payload)
    ? payload
    : isObject(payload) && Array.isArray(payload.data)
      ? payload.data
      : undefined;
  if (list === undefined) return { error: 'is not a contexts JSON ({"schema", "data": [...]})' };
  const entities: SelfDescribingJson[] = [];
  for (const item of list) {
    if (!isSelfDescribing(item)) return { error: 'holds an entity that is not a self-describing JSON' };
    entities.push(item);
  }
  return entities;
}

/** The name part of an Iglu schema URI (`iglu:com.acme/viewed_product/jsonschema/1-0-0` -> `viewed_product`); the URI itself when it is not one. */
export function schemaName(uri: string): string {
  const match = IGLU_URI.exec(uri);
  return match ? match[2]! : uri;
}
