import { OPTIONAL_EVENT_FIELDS, type TrackedEvent } from '../trackedEvent.js';
import type { Codec, CodecDefinition } from './codec.js';

/**
 * The `json` codec: one event as one line of JSON, with keys in the fixed order DESIGN.md
 * promises: `id, type, ts, props`, then the optional fields that are present (in
 * OPTIONAL_EVENT_FIELDS order), then `meta`. Downstream users diff and grep these lines, so
 * the order is part of the outside surface.
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
  encode: (event) => Buffer.from(JSON.stringify(toJsonShape(event)), 'utf8'),
  decode: decodeLines,
};

export const jsonCodecDefinition: CodecDefinition = { name: 'json', create: () => jsonCodec };
