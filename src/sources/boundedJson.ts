import type { LimitsConfig } from '../config/schema.js';
import type { Rejection } from '../event/rejection.js';
import { scanJson, type JsonBounds } from '../event/jsonScan.js';

/** The JSON bounds of `server.limits` (`batch`: also the events-per-batch bound). */
export function jsonBoundsOf(
  limits: Pick<LimitsConfig, 'jsonDepth' | 'jsonElements' | 'batchEvents'>,
  batch = false,
): JsonBounds {
  return batch
    ? { depth: limits.jsonDepth, elements: limits.jsonElements, batchEvents: limits.batchEvents }
    : { depth: limits.jsonDepth, elements: limits.jsonElements };
}

/**
 * `JSON.parse` behind the scan of ./jsonScan.ts: for JSON that did not come through
 * `readBody` (a queue message, a payload decoded from base64 or lz-string), so its depth and
 * element count are refused before the parse allocates. A coded Rejection instead of a throw.
 */
export function parseBoundedJson(text: string, bounds: JsonBounds): { value: unknown } | Rejection {
  const breach = scanJson(text, bounds);
  if (breach) return breach;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { code: 'BEACON_E_BAD_JSON', message: `not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}
