import type { LimitsConfig } from '../config/schema.js';
import type { ResendMarks } from '../event/resendMarks.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import { lineCodec } from '../event/codecs/line.js';
import { batchEvent } from '../event/fromSubmitted.js';
import { compileRules, type EventRules } from '../event/rules.js';
import { isRejection, type Rejection } from '../event/rejection.js';
import { jsonBoundsOf } from './boundedJson.js';
import { scanJson, type JsonBounds } from '../event/jsonScan.js';

/**
 * Turns one queue message into events, with the same rules as the HTTP `/batch` endpoint
 * (type pattern, props size and depth, client id kept as the event id). A message may hold a
 * JSON event, a JSON array of events, NDJSON, or Pushtech `line` records (one per line).
 */
export type PayloadFormat = 'auto' | 'json' | 'ndjson' | 'line';

export interface DecodedPayload {
  events: TrackedEvent[];
  /** Parts of the message that could not become events, by index within the message. */
  rejected: { index: number; code: Rejection['code']; message: string }[];
}

export class PayloadDecoder {
  private readonly rules: EventRules;
  private readonly bounds: JsonBounds;

  constructor(
    private readonly sourceName: string,
    private readonly format: PayloadFormat,
    private readonly limits: LimitsConfig,
    private readonly now: () => number = Date.now,
    private readonly marks?: ResendMarks,
  ) {
    this.rules = compileRules(limits);
    this.bounds = jsonBoundsOf(limits, true);
  }

  /** Never throws on bad input: what cannot become an event is listed in `rejected`. */
  decode(payload: Buffer | string): DecodedPayload {
    // Bytes that cross a JSON bound are refused before they are even decoded to text.
    if (typeof payload !== 'string' && this.format !== 'line') {
      const breach = scanJson(payload, this.bounds);
      if (breach) return { events: [], rejected: [{ index: 0, ...breach }] };
    }
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    const ts = this.now();
    const facts = { ts, ip: undefined, ua: undefined, referer: undefined, marks: this.marks };
    const events: TrackedEvent[] = [];
    const rejected: DecodedPayload['rejected'] = [];
    // An upper bound on any one item's props as JSON (no JSON value re-encodes to more than 6
    // times its source), as /batch gives per element: within propsBytes the props are not serialised.
    const propsBound = text.length * 6 + 2;
    this.items(text, typeof payload !== 'string').forEach((item, index) => {
      if ('rejection' in item) {
        rejected.push({ index, ...item.rejection });
        return;
      }
      const result = batchEvent(item.value, facts, this.rules, propsBound);
      if (isRejection(result)) rejected.push({ index, ...result });
      else {
        result.meta = { ...result.meta, source: this.sourceName };
        events.push(result);
      }
    });
    return { events, rejected };
  }

  /** `scanned`: the bytes already went through the JSON scan (a Buffer payload). */
  private items(text: string, scanned: boolean): Item[] {
    const trimmed = text.trim();
    if (trimmed === '') return [{ rejection: { code: 'BEACON_E_BAD_EVENT', message: 'empty message' } }];
    const format = this.format === 'auto' ? detect(trimmed) : this.format;
    const lines = () => trimmed.split('\n').filter((l) => l.trim() !== '');
    if (format === 'line') return this.tooManyEvents(lines()) ?? lines().map(parseLine);
    // The whole message is scanned before anything is parsed: depth, elements and events per message are bounded.
    const breach = scanned ? undefined : scanJson(trimmed, this.bounds);
    if (breach) return [{ rejection: breach }];
    if (format === 'ndjson') return lines().map(parseJson);
    const whole = parseJson(trimmed);
    if ('value' in whole && Array.isArray(whole.value)) return whole.value.map((value: unknown) => ({ value }));
    return [whole];
  }

  /** A `line` message holds one event per line: at most server.limits.batchEvents of them. */
  private tooManyEvents(lines: string[]): Item[] | undefined {
    const limit = this.limits.batchEvents;
    if (lines.length <= limit) return undefined;
    return [
      {
        rejection: {
          code: 'BEACON_E_BATCH_TOO_LARGE',
          message: `the message holds ${lines.length} line records; at most ${limit} are accepted (server.limits.batchEvents)`,
        },
      },
    ];
  }
}

type Item = { value: unknown } | { rejection: Rejection };

function detect(text: string): 'json' | 'ndjson' | 'line' {
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{')) return /\}\s*\n\s*\{/.test(text) ? 'ndjson' : 'json';
  return 'line';
}

/** Parses text the decoder already scanned (or one line of it): bounded by that scan. */
function parseJson(text: string): Item {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return {
      rejection: { code: 'BEACON_E_BAD_JSON', message: `not valid JSON: ${(err as Error).message.slice(0, 200)}` },
    };
  }
}

function parseLine(line: string): Item {
  try {
    return { value: lineCodec.decode!(Buffer.from(line))[0] };
  } catch (err) {
    return { rejection: { code: 'BEACON_E_BAD_EVENT', message: `not a line record: ${(err as Error).message}` } };
  }
}
