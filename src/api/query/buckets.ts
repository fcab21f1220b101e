import type { BucketCount } from '../../store/storeReader.js';

/** One time bucket of a counts answer: every bucket of the range is present, empty ones with total 0. */
export interface BucketView {
  /** Start of the bucket, ISO 8601 (UTC). */
  start: string;
  total: number;
  /** Count per event type; types with no events in the bucket are left out. */
  counts: Record<string, number>;
}

/**
 * Turns the store's sparse (bucket, type, count) rows into one entry per bucket of
 * `[from, to)`, so a chart can plot the answer without filling gaps itself. `from` and `to`
 * are multiples of `bucketMs`.
 */
export function fillBuckets(rows: readonly BucketCount[], from: number, to: number, bucketMs: number): BucketView[] {
  const byStart = new Map<number, BucketView>();
  const buckets: BucketView[] = [];
  for (let start = from; start < to; start += bucketMs) {
    const view = { start: new Date(start).toISOString(), total: 0, counts: {} };
    byStart.set(start, view);
    buckets.push(view);
  }
  for (const row of rows) {
    const view = byStart.get(row.bucket);
    if (!view) continue;
    view.counts[row.type] = (view.counts[row.type] ?? 0) + row.count;
    view.total += row.count;
  }
  return buckets;
}

/** Every type that appears in the rows, most events first: the series a chart draws. */
export function typesByCount(rows: readonly BucketCount[]): string[] {
  const totals = new Map<string, number>();
  for (const row of rows) totals.set(row.type, (totals.get(row.type) ?? 0) + row.count);
  return [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([type]) => type);
}
