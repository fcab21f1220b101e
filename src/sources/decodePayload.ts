import type { LimitsConfig } from '../config/schema.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import { lineCodec } from '../event/codecs/line.js';
import { batchEvent, compileRules, isRejection, type EventRules, type Rejection } from './http/events.js';

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

  constructor(
    private readonly sourceName: string,
    private readonly format: PayloadFormat,
    private readonly limits: LimitsConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.rules = compileRules(limits);
  }

  /** Never throws on bad input: what cannot become an event is listed in `rejected`. */
  decode(payload: Buffer | string): DecodedPayload {
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    const ts = this.now();
    const facts = { ts, ip: undefined, ua: undefined, referer: undefined };
    const events: TrackedEvent[] = [];
    const rejected: DecodedPayload['rejected'] = [];
    this.items(text).forEach((item, index) => {
      if ('rejection' in item) {
        rejected.push({ index, ...item.rejection });
        return;
      }
      const result = batchEvent(item.value, facts, this.rules, this.limits.propsBytes);
      if (isRejection(result)) rejected.push({ index, ...result });
      else {
        result.meta = { ...result.meta, source: this.sourceName };
        events.push(result);
      }
    });
    return { events, rejected };
  }

  private items(text: string): Item[] {
    const trimmed = text.trim();
    if (trimmed === '') return [{ rejection: { code: 'BEACON_E_BAD_EVENT', message: 'empty message' } }];
    const format = this.format === 'auto' ? detect(trimmed) : this.format;
    const lines = () => trimmed.split('\n').filter((l) => l.trim() !== '');
    if (format === 'line') return lines().map(parseLine);
    if (format === 'ndjson') return lines().map(parseJson);
    const whole = parseJson(trimmed);
    if ('value' in whole && Array.isArray(whole.value)) return whole.value.map((value: unknown) => ({ value }));
    return [whole];
  }
}

type Item = { value: unknown } | { rejection: Rejection };

function detect(text: string): 'json' | 'ndjson' | 'line' {
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{')) return /\}\s*\n\s*\{/.test(text) ? 'ndjson' : 'json';
  return 'line';
}

function parseJson(text: string): Item {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { rejection: { code: 'BEACON_E_BAD_JSON', message: `not valid JSON: ${(err as Error).message}` } };
  }
}

function parseLine(line: string): Item {
  try {
    return { value: lineCodec.decode!(Buffer.from(line))[0] };
  } catch (err) {
    return { rejection: { code: 'BEACON_E_BAD_EVENT', message: `not a line record: ${(err as Error).message}` } };
  }
}
