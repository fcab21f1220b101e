/**
 * One event as it flows through Beacon: built by a source, enriched, written to the log,
 * read back by each sink's cursor. The JSON form of this object is the `json` codec's output
 * and the log's record payload, so field names here are part of the fixed outside surface.
 */
export interface TrackedEvent {
  /** Client-given id (used for idempotency) or a server-made UUIDv7. */
  id: string;
  type: string;
  /** Server receive time, ms since the epoch. */
  ts: number;
  clientTs?: number;
  partyId?: string;
  sessionId?: string;
  pageViewId?: string;
  ip?: string;
  ua?: string;
  url?: string;
  referrer?: string;
  props: Record<string, unknown>;
  /** Flags and enrichment results; steps write here instead of throwing. */
  meta: EventMeta;
}

export interface EventMeta {
  source?: string;
  duplicate?: boolean;
  corrupt?: boolean;
  bot?: boolean;
  [key: string]: unknown;
}

/** Optional top-level fields a client may set, in the order the json codec writes them. */
export const OPTIONAL_EVENT_FIELDS = [
  'clientTs',
  'partyId',
  'sessionId',
  'pageViewId',
  'ip',
  'ua',
  'url',
  'referrer',
] as const;

/**
 * Every top-level field of an event, in the json codec's order: what a SQL column, a store
 * query or a lake file can hold whole. Sinks and stores derive their column lists from it.
 */
export const EVENT_FIELDS = ['id', 'type', 'ts', ...OPTIONAL_EVENT_FIELDS, 'props', 'meta'] as const;
export type EventField = (typeof EVENT_FIELDS)[number];
