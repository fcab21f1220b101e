import { isRejection, type Rejection } from '../../../event/rejection.js';
import { parseJson } from './jsonBody.js';

/**
 * One batch element: an already parsed value (from a JSON array) or an NDJSON line still to
 * parse (so one bad line rejects that line only). `bound` bounds its props' JSON size.
 */
export type BatchItem =
  { value: unknown; line: undefined; bound: number } | { value: undefined; line: string; bound: number };

/**
 * A JSON array is the batch; a single JSON object is a batch of one; anything else starting
 * with `{` (or any body sent as NDJSON) is read line by line, blank lines skipped.
 */
export function splitBatch(text: string, ndjson: boolean): BatchItem[] | Rejection {
  const first = firstSignificantChar(text);
  if (first === undefined)
    return { code: 'BEACON_E_BAD_JSON', message: 'the body is empty; send a JSON array or NDJSON of events' };
  const bound = text.length * 6 + 2;
  if (!ndjson) {
    if (first === '[') {
      const parsed = parseJson(text);
      if (isRejection(parsed)) return parsed;
      return (parsed.value as unknown[]).map((value) => ({ value, line: undefined, bound }));
    }
    if (first !== '{')
      return {
        code: 'BEACON_E_BAD_JSON',
        message: 'the body must be a JSON array of events or NDJSON (one event object per line)',
      };
    if (!text.includes('\n')) {
      const parsed = parseJson(text);
      if (isRejection(parsed)) return parsed;
      return [{ value: parsed.value, line: undefined, bound }];
    }
    try {
      // A pretty-printed single object spans lines; take it whole when it parses.
      return [{ value: JSON.parse(text) as unknown, line: undefined, bound }];
    } catch {
      // not one document: NDJSON
    }
  }
  const items: BatchItem[] = [];
  for (const line of text.split('\n')) {
    if (firstSignificantChar(line) === undefined) continue;
    items.push({ value: undefined, line, bound: line.length * 6 + 2 });
  }
  return items;
}

function firstSignificantChar(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return text[i];
  }
  return undefined;
}
