import { join } from 'node:path';
import { BeaconError } from '../errors/beaconError.js';
import { toJsonShape } from '../event/codecs/json.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import { appendDurably } from '../ops/durableAppend.js';
import { checksumHex } from './checksum.js';

/**
 * The corruption check. A client (the browser tracker always) sends `cs`, the checksum of the
 * body it POSTs, in the query string, where sendBeacon can carry it too (it cannot set
 * headers). The collector recomputes it over the body as read, after any Content-Encoding is
 * undone, and marks every event of a request that does not match `meta.corrupt: true`; the
 * enrichment chain then applies `enrich.corruption.action` (keep flagged, drop, dead-letter).
 * A request without `cs` is not checked; a `cs` that is not 8 hex digits is a mismatch.
 */

/** The `cs` value of a query string, or undefined when there is none. */
export function checksumParam(query: string): string | undefined {
  if (query.length === 0) return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (query.startsWith('cs=', start)) return query.slice(start + 3, end);
    start = end + 1;
  }
  return undefined;
}

/** Why `body` is corrupt, or undefined when it matches its checksum or carries none. */
export function verifyChecksum(query: string, body: Uint8Array): string | undefined {
  const sent = checksumParam(query);
  if (sent === undefined) return undefined;
  const computed = checksumHex(body);
  if (sent.toLowerCase() === computed) return undefined;
  return `the body does not match its checksum: cs=${JSON.stringify(sent.slice(0, 16))}, computed ${computed} (FNV-1a 32 of the ${body.length} body bytes)`;
}

/** Reasons kept beside the events (not on them), for the dead letter. */
const reasons = new WeakMap<object, string>();

/** Flags `event` as corrupt; `reason` goes to the dead letter if the action is `dead-letter`. */
export function markCorrupt(event: TrackedEvent, reason: string): void {
  event.meta.corrupt = true;
  reasons.set(event, reason);
}

export function corruptReason(event: object): string | undefined {
  return reasons.get(event);
}

/**
 * `dataDir/dlq/corrupt-<partition>.ndjson`: one line per corrupt event set aside, in the shape
 * of the queue sources' dead letters, with the event as the json codec writes it (already
 * enriched, so its address is anonymised like everything else on disk):
 *
 *     {"ts":1714557600000,"source":"http","code":"BEACON_E_CORRUPT_DEAD_LETTERED","reason":"the body does not match ...","event":{...}}
 *
 * `write` resolves after fdatasync, so the collector's 2xx still means "on disk". One file per
 * collector process, so processes never interleave lines.
 */
export class CorruptDeadLetter {
  readonly path: string;

  constructor(dlqDir: string, partition: string) {
    this.path = join(dlqDir, `corrupt-${partition}.ndjson`);
  }

  async write(events: readonly TrackedEvent[], now: number = Date.now()): Promise<void> {
    if (events.length === 0) return;
    let text = '';
    for (const event of events) {
      const source = typeof event.meta?.source === 'string' ? event.meta.source : 'http';
      const reason = corruptReason(event) ?? 'the event was flagged meta.corrupt';
      text +=
        JSON.stringify({ ts: now, source, code: 'BEACON_E_CORRUPT_DEAD_LETTERED', reason, event: toJsonShape(event) }) +
        '\n';
    }
    try {
      await appendDurably(this.path, text);
    } catch (err) {
      throw new BeaconError(
        'BEACON_E_LOG_IO',
        `the corrupt-event dead letter ${this.path} cannot be written: ${(err as Error).message}; retry later`,
        undefined,
        { cause: err },
      );
    }
  }
}
