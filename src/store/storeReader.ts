import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * What the query API reads. One implementation per `store.type`: the embedded DuckDB store,
 * and readers over the tables the postgres, mysql and clickhouse sinks write. Times are epoch
 * milliseconds (UTC); ranges are half-open `[from, to)`.
 */
export interface StoreReader {
  /** Event counts per type per time bucket (`bucketMs`: a minute for real-time views, an hour or a day for archive). */
  countsByBucket(query: BucketQuery): Promise<BucketCount[]>;
  /** Most recent events first, optionally filtered by type and by props equal to given values. */
  recent(query: RecentQuery): Promise<TrackedEvent[]>;
  /** Events stored with `ts` in `[from, to)` (the API divides by the window for events per second). */
  countBetween(from: number, to: number): Promise<number>;
  /** The most frequent values of one prop (`props.<prop>` as text) over a range. */
  topValues(query: TopValuesQuery): Promise<ValueCount[]>;
  /** One event by id, or undefined. */
  byId(id: string): Promise<TrackedEvent | undefined>;
  close(): Promise<void>;
}

export interface BucketQuery {
  from: number;
  to: number;
  bucketMs: number;
  /** Only this type (all types when unset). */
  type?: string;
}

export interface BucketCount {
  /** Start of the bucket, epoch ms, a multiple of bucketMs. */
  bucket: number;
  type: string;
  count: number;
}

export interface RecentQuery {
  limit: number;
  type?: string;
  /** `props.<key>` must equal the value, compared as text. */
  propEquals?: Readonly<Record<string, string>>;
  /** Only events with `ts` before this (paging backwards). */
  before?: number;
}

export interface TopValuesQuery {
  prop: string;
  from: number;
  to: number;
  type?: string;
  limit: number;
}

export interface ValueCount {
  value: string;
  count: number;
}
