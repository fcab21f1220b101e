import type { Metrics } from '../ops/metrics.js';
import type { Violation } from './schemaSet.js';

/** Past this many label sets the reason is counted as `other`, so no input can grow /metrics without bound. */
const MAX_SERIES = 1000;

/** What became of an invalid event: written to the bad stream, or refused at intake (strict). */
export type InvalidAction = 'flagged' | 'rejected';

/**
 * Counts invalid events in `beacon_schema_invalid_total{type,reason,action}`, once per event
 * under its first reason. `type` is the event's type when it has a schema, else `(none)` (only
 * with `requireSchema`), so arbitrary client types never become label values.
 */
export class SchemaCounter {
  private readonly seen = new Set<string>();

  constructor(
    private readonly metrics: Metrics | undefined,
    private readonly hasSchema: (type: string) => boolean,
  ) {}

  count(type: string, violation: Violation, action: InvalidAction): void {
    if (this.metrics === undefined) return;
    const typeLabel = this.hasSchema(type) ? type : '(none)';
    let reason = violation.key;
    const series = `${typeLabel}\u0000${reason}\u0000${action}`;
    if (!this.seen.has(series)) {
      if (this.seen.size >= MAX_SERIES) reason = 'other';
      else this.seen.add(series);
    }
    this.metrics.schemaInvalid.inc({ type: typeLabel, reason, action });
  }
}
