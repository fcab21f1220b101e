import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Beacon's metrics, defined once. Names follow Prometheus conventions (unit in the name,
 * `_total` for counters) and labels stay low-cardinality: source, sink, reason/code, state.
 * Together the counters form the accounting ledger:
 *   received = appended + rejected(intake)      appended = delivered + dead_lettered + skipped + lag (per sink)
 */
export function createMetrics(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  // Process-wide series (CPU, RSS, handles): a second thread of the same process leaves them to the main thread's registry.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'beacon_' });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    eventsReceived: new Counter({
      name: 'beacon_events_received_total',
      help: 'Events received, per source, before validation',
      labelNames: ['source'],
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'beacon_events_rejected_total',
      help: 'Events or requests refused at intake, per source and error code',
      labelNames: ['source', 'code'],
      registers: [registry],
    }),
    eventsAppended: new Counter({
      name: 'beacon_events_appended_total',
      help: 'Events made durable in the log',
      registers: [registry],
    }),
    logFull: new Counter({
      name: 'beacon_log_full_total',
      help: 'Appends refused because the log was full (answered 503)',
      registers: [registry],
    }),
    logBytes: new Gauge({
      name: 'beacon_log_bytes',
      help: 'Bytes held by retained log segments',
      registers: [registry],
    }),
    logMaxBytes: new Gauge({ name: 'beacon_log_max_bytes', help: 'Configured log.maxBytes', registers: [registry] }),
    logCorruptRecords: new Counter({
      name: 'beacon_log_corrupt_records_total',
      help: 'Records skipped at recovery or read because of a bad CRC or torn frame',
      registers: [registry],
    }),
    logFsyncSeconds: new Histogram({
      name: 'beacon_log_fsync_seconds',
      help: 'Duration of one group-commit fdatasync',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    ingestAckSeconds: new Histogram({
      name: 'beacon_ingest_ack_seconds',
      help: 'From request received to events durable (the 2xx), per source',
      labelNames: ['source'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    sinkDelivered: new Counter({
      name: 'beacon_sink_delivered_total',
      help: 'Events acknowledged by a sink',
      labelNames: ['sink'],
      registers: [registry],
    }),
    sinkDeadLettered: new Counter({
      name: 'beacon_sink_dead_lettered_total',
      help: 'Events a sink rejected for good, written to its dead letter',
      labelNames: ['sink', 'error_type'],
      registers: [registry],
    }),
    sinkErrors: new Counter({
      name: 'beacon_sink_errors_total',
      help: 'Failed delivery attempts, per sink and failure kind',
      labelNames: ['sink', 'kind', 'error_type'],
      registers: [registry],
    }),
    sinkLag: new Gauge({
      name: 'beacon_sink_lag_events',
      help: 'Durable events this sink has not yet delivered',
      labelNames: ['sink'],
      registers: [registry],
    }),
    sinkLagSeconds: new Gauge({
      name: 'beacon_sink_lag_seconds',
      help: 'Age of the oldest event this sink has not yet delivered',
      labelNames: ['sink'],
      registers: [registry],
    }),
    sinkState: new Gauge({
      name: 'beacon_sink_state',
      help: '1 for the state a sink is in (idle, delivering, backing_off, fatal, stopped)',
      labelNames: ['sink', 'state'],
      registers: [registry],
    }),
    sinkDeliverySeconds: new Histogram({
      name: 'beacon_sink_delivery_seconds',
      help: 'Duration of one deliver() call that succeeded',
      labelNames: ['sink'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    enrichUaCacheLookups: new Counter({
      name: 'beacon_enrich_ua_cache_lookups_total',
      help: 'User-agent parses served from the enrichment cache (hit) or parsed anew (miss)',
      labelNames: ['result'],
      registers: [registry],
    }),
    schemaInvalid: new Counter({
      name: 'beacon_schema_invalid_total',
      help: 'Events that failed their JSON Schema, per type, first reason and action: flagged (written to the bad stream) or rejected (refused at intake in strict mode)',
      labelNames: ['type', 'reason', 'action'],
      registers: [registry],
    }),
    sinkSkipped: new Counter({
      name: 'beacon_sink_skipped_total',
      help: 'Events a sink read from the log and passed over (committed, not delivered) because of its types or badStream filter',
      labelNames: ['sink', 'filter'],
      registers: [registry],
    }),
    enrichDuplicates: new Counter({
      name: 'beacon_enrich_duplicates_total',
      help: 'Events found to be duplicates, per tier: request (repeated request fingerprint), id (repeated client event id) or resend (a client event id already held, in a POST /batch?resend=1: always dropped)',
      labelNames: ['tier'],
      registers: [registry],
    }),
    enrichCorrupt: new Counter({
      name: 'beacon_enrich_corrupt_total',
      help: 'Events whose request body did not match the checksum its client sent, per action taken (flag, drop, dead-letter)',
      labelNames: ['action'],
      registers: [registry],
    }),
    identityRequests: new Counter({
      name: 'beacon_identity_requests_total',
      help: 'Collector requests by how their ids were found: returning (party cookie sent), new (cookies issued), cookieless (derived), withheld (DNT/GPC), uncredentialed (cross-origin without CORS credentials), forgotten (consent withdrawn)',
      labelNames: ['result'],
      registers: [registry],
    }),
    liveViewers: new Gauge({
      name: 'beacon_live_viewers',
      help: 'WebSocket viewers connected to /live',
      registers: [registry],
    }),
    liveDropped: new Counter({
      name: 'beacon_live_dropped_total',
      help: 'Events not sent to a /live viewer because it (or its collector link) was behind, summed over viewers',
      registers: [registry],
    }),
    ingestDeliverySeconds: new Histogram({
      name: 'beacon_ingest_delivery_seconds',
      help: 'From server receive time to delivery by a sink',
      labelNames: ['sink'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    alertsFiring: new Gauge({
      name: 'beacon_alerts_firing',
      help: 'Alert instances firing, per rule (docs/alerts.md)',
      labelNames: ['rule'],
      registers: [registry],
    }),
    alertNotifications: new Counter({
      name: 'beacon_alert_notifications_total',
      help: 'Alert messages per channel: sent, failed (one failed attempt, retried) or dropped (given up)',
      labelNames: ['channel', 'result'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A registry's Prometheus text exposition, as `/metrics` answers it. */
export async function registryText(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
