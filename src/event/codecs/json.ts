import { OPTIONAL_EVENT_FIELDS, type TrackedEvent } from '../trackedEvent.js';
import type { Codec, CodecDefinition } from './codec.js';

/**
 * The `json` codec: one event as one line of JSON, with keys in the fixed order DESIGN.md
 * promises: `id, type, ts, props`, then the optional fields that are present (in
 * OPTIONAL_EVENT_FIELDS order), then `meta`. Downstream users diff and grep these lines, so
 * the order is part of the outside surface.
 *
 * The local log stores each event as exactly this text (`jsonText`), so an event read back
 * from the log can be written out again without a second JSON.stringify (see `fromLog`).
 */
export function toJsonShape(event: TrackedEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { id: event.id, type: event.type, ts: event.ts, props: event.props ?? {} };
  for (const field of OPTIONAL_EVENT_FIELDS) {
    const value = event[field];
    if (value !== undefined) out[field] = value;
  }
  out.meta = event.meta ?? {};
  return out;
}

/**
 * `JSON.stringify(toJsonShape(event))`. Sources build events with their keys already in the
 * codec's order, and then stringifying the event itself gives the same text without building
 * a copy (V8's fast path for a plain object; about 15% cheaper per event on the log's write path).
 */
export function jsonText(event: TrackedEvent): string {
  return JSON.stringify(inCodecOrder(event) ? event : toJsonShape(event));
}

/**
 * The record text an event was parsed from, kept on the event under a symbol that is not
 * enumerable: JSON, Object.keys, spread and Object.assign all leave it out, so a copy
 * (`{...event, type: 'x'}`) never carries stale text along. (A WeakMap would do the same but
 * keeps its entries alive longer, which showed as more RSS while a backlog drained.)
 */
const LOG_TEXT = Symbol('beacon.logText');

/**
 * Remembers that `event` was parsed from `text`. The log calls this for every event a cursor
 * returns; events handed to sinks are not modified in place, so the text stays true.
 */
export function fromLog(event: TrackedEvent, text: string): TrackedEvent {
  Object.defineProperty(event, LOG_TEXT, { value: text });
  return event;
}

/**
 * True when JSON.stringify(event) already is the codec's text: the own keys come in the
 * codec's order (id, type, ts, props, optional fields, meta) and props and meta are present.
 * Keys whose value is undefined are allowed (JSON leaves them out, as `toJsonShape` does).
 */
export function inCodecOrder(event: TrackedEvent): boolean {
  if (event.props == null || event.meta == null) return false;
  const keys = Object.keys(event);
  const last = keys.length - 1;
  if (
    last < 4 ||
    keys[0] !== 'id' ||
    keys[1] !== 'type' ||
    keys[2] !== 'ts' ||
    keys[3] !== 'props' ||
    keys[last] !== 'meta'
  )
    return false;
  let optional = 0;
  for (let i = 4; i < last; i++) {
    const key = keys[i];
    while (optional < OPTIONAL_EVENT_FIELDS.length && OPTIONAL_EVENT_FIELDS[optional] !== key) optional++;
    if (optional === OPTIONAL_EVENT_FIELDS.length) return false;
    optional++;
  }
  return true;
}

/**
 * The codec's text for one event. For an event read from the log, the record's text when the
 * event's keys are in the codec's order: the record was written by JSON.stringify, and
 * parse-then-stringify reproduces V8's own output exactly, so only the key order (records
 * written before the log stored this codec's text) could differ.
 */
export function encodeJsonText(event: TrackedEvent): string {
  const text = (event as { [LOG_TEXT]?: string })[LOG_TEXT];
  return text !== undefined && inCodecOrder(event) ? text : jsonText(event);
}

/** Splits NDJSON (or a single JSON document) into parsed values; blank lines are skipped. */
function decodeLines(payload: Buffer): unknown[] {
  return payload
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

export const jsonCodec: Codec = {
  name: 'json',
  contentType: 'application/json',
  encode: (event) => Buffer.from(encodeJsonText(event), 'utf8'),
  encodeText: encodeJsonText,
  decode: decodeLines,
};

export const jsonCodecDefinition: CodecDefinition = { name: 'json', create: () => jsonCodec };
