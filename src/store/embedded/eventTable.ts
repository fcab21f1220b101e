import type { DuckDBAppender } from '@duckdb/node-api';
import type { TrackedEvent } from '../../event/trackedEvent.js';

/**
 * The one table of the embedded store, and the mapping between its rows and TrackedEvents.
 *
 * - `ts` and `client_ts` are epoch milliseconds as BIGINT, not TIMESTAMP: every query works in
 *   epoch ms (buckets are `ts // size * size`), so no time zone ever enters.
 * - No PRIMARY KEY: DuckDB keeps an ART index for it that costs more than the table itself
 *   (measured: a 200k-event file 16 MB with the key against 3.7 MB without, and inserts 2.3x
 *   slower), and a table with such an index is not compacted by vacuum. Dedupe is done by
 *   the writer instead (see eventWriter.ts).
 * - Rows are appended in roughly `ts` order, so DuckDB's per-row-group min/max (zonemaps) on
 *   `ts` prune every time-range query to the row groups of that range; UUIDv7 ids grow with
 *   time too, so a lookup by a server-made id is pruned the same way.
 */
export const EVENTS_TABLE = 'events';

export const CREATE_EVENTS_TABLE = `CREATE TABLE IF NOT EXISTS ${EVENTS_TABLE} (
  id VARCHAR NOT NULL,
  type VARCHAR NOT NULL,
  ts BIGINT NOT NULL,
  client_ts BIGINT,
  party_id VARCHAR,
  session_id VARCHAR,
  page_view_id VARCHAR,
  ip VARCHAR,
  ua VARCHAR,
  url VARCHAR,
  referrer VARCHAR,
  props JSON NOT NULL,
  meta JSON NOT NULL
)`;

/** Column list in table order, for SELECTs that rebuild events. */
export const EVENT_COLUMNS =
  'id, type, ts, client_ts, party_id, session_id, page_view_id, ip, ua, url, referrer, props, meta';

const TEXT_FIELDS = ['partyId', 'sessionId', 'pageViewId', 'ip', 'ua', 'url', 'referrer'] as const;

/**
 * Appends one event as a row, in table order. Strings are made well-formed first: a lone
 * UTF-16 surrogate (possible in a JS string, impossible in UTF-8) would fail the append.
 */
export function appendEvent(appender: DuckDBAppender, event: TrackedEvent): void {
  appender.appendVarchar(wellFormed(event.id));
  appender.appendVarchar(wellFormed(event.type));
  appender.appendBigInt(BigInt(Math.trunc(event.ts)));
  if (typeof event.clientTs === 'number' && Number.isFinite(event.clientTs))
    appender.appendBigInt(BigInt(Math.trunc(event.clientTs)));
  else appender.appendNull();
  for (const field of TEXT_FIELDS) {
    const value = event[field];
    if (typeof value === 'string') appender.appendVarchar(wellFormed(value));
    else appender.appendNull();
  }
  // JSON.stringify escapes lone surrogates itself, so its output is always valid UTF-8.
  appender.appendVarchar(JSON.stringify(event.props ?? {}));
  appender.appendVarchar(JSON.stringify(event.meta ?? {}));
  appender.endRow();
}

/** A row selected with EVENT_COLUMNS (as `getRowObjectsJS` gives it) back into the event; absent fields stay absent. */
export function rowToEvent(row: Record<string, unknown>): TrackedEvent {
  const event = {
    id: String(row.id),
    type: String(row.type),
    ts: Number(row.ts),
    props: parseJson(row.props),
  } as TrackedEvent;
  if (row.client_ts !== null && row.client_ts !== undefined) event.clientTs = Number(row.client_ts);
  const columns: Record<(typeof TEXT_FIELDS)[number], string> = {
    partyId: 'party_id',
    sessionId: 'session_id',
    pageViewId: 'page_view_id',
    ip: 'ip',
    ua: 'ua',
    url: 'url',
    referrer: 'referrer',
  };
  for (const field of TEXT_FIELDS) {
    const value = row[columns[field]];
    if (typeof value === 'string') event[field] = value;
  }
  event.meta = parseJson(row.meta);
  return event;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The string as it is stored: lone surrogates replaced by U+FFFD, as the UTF-8 conversion would. */
export function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

function parseJson(value: unknown): Record<string, unknown> {
  if (typeof value !== 'string') return {};
  const parsed = JSON.parse(value) as unknown;
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}
