import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The embedded store's own metrics, registered on the process's registry (what /metrics
 * serves). Its sink's delivered count, lag and state are the dispatcher's usual
 * `beacon_sink_*{sink="_store"}` series.
 *
 * - `beacon_store_embedded_rows`: events in the store, after the last retention run.
 * - `beacon_store_embedded_file_bytes`: size of the DuckDB file (it never shrinks).
 * - `beacon_store_embedded_used_bytes`: bytes in blocks holding data; what `maxBytes` bounds.
 * - `beacon_store_embedded_deleted_total{reason}`: events deleted by retention (`age` or `size`).
 * - `beacon_store_embedded_skipped_total{reason}`: records not appended because their (id, ts)
 *   was already stored (`stored`: a redelivery or replay) or came earlier in the batch
 *   (`batch`: a client id repeated within one request), see ./eventWriter.ts.
 */
export interface EmbeddedStoreMetrics {
  rows: Gauge;
  fileBytes: Gauge;
  usedBytes: Gauge;
  retentionDeleted: Counter<'reason'>;
  skipped: Counter<'reason'>;
}

export function embeddedStoreMetrics(registry: Registry = new Registry()): EmbeddedStoreMetrics {
  return {
    rows:
      existing(registry, 'beacon_store_embedded_rows') ??
      new Gauge({
        name: 'beacon_store_embedded_rows',
        help: 'Events in the embedded store after the last retention run',
        registers: [registry],
      }),
    fileBytes:
      existing(registry, 'beacon_store_embedded_file_bytes') ??
      new Gauge({
        name: 'beacon_store_embedded_file_bytes',
        help: 'Size of the embedded store file (it never shrinks; freed blocks are reused)',
        registers: [registry],
      }),
    usedBytes:
      existing(registry, 'beacon_store_embedded_used_bytes') ??
      new Gauge({
        name: 'beacon_store_embedded_used_bytes',
        help: 'Bytes of the embedded store file holding data; store.retention.maxBytes bounds this',
        registers: [registry],
      }),
    retentionDeleted:
      existing(registry, 'beacon_store_embedded_deleted_total') ??
      new Counter({
        name: 'beacon_store_embedded_deleted_total',
        help: 'Events deleted from the embedded store by retention, per rule (age or size)',
        labelNames: ['reason'],
        registers: [registry],
      }),
    skipped:
      existing(registry, 'beacon_store_embedded_skipped_total') ??
      new Counter({
        name: 'beacon_store_embedded_skipped_total',
        help: 'Records the embedded store did not append because their (id, ts) was already stored (reason=stored: redelivery, replay) or earlier in the batch (reason=batch: an id repeated within one request)',
        labelNames: ['reason'],
        registers: [registry],
      }),
  };
}

/** A reopened store (a test, a restart in-process) shares the series instead of failing on a duplicate name. */
function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
