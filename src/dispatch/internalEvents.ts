import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';
import type { SinkError, SinkFailureKind } from '../sinks/sink.js';
import { SINK_STATES, type SinkState } from './status.js';

/**
 * The dispatcher's internal events, each defined once: every one writes its log line and
 * moves its metric together, so the logs and /metrics never disagree. Labels stay
 * low-cardinality (sink, kind, error_type, state).
 */

/** One sink's delivery series, looked up once (see DispatchEvents). */
interface DeliverySeries {
  delivered: ReturnType<Metrics['sinkDelivered']['labels']>;
  deliverySeconds: ReturnType<Metrics['sinkDeliverySeconds']['labels']>;
  ingestDeliverySeconds: ReturnType<Metrics['ingestDeliverySeconds']['labels']>;
}

interface Delivered {
  count: number;
  seconds: number;
  eventTs: readonly number[];
  now: number;
}
const sinkDelivered = defineInternalEvent<Delivered, DeliverySeries>('sink_delivered', {
  about: 'metric only (every batch): a sink acknowledged `count` events; `sink_sent` logs the running total',
  level: 'debug',
  logged: false,
  fields: { count: true, seconds: true, eventTs: true, now: true },
  message: '',
  metric: {
    name: 'beacon_sink_delivered_total{sink}, beacon_sink_delivery_seconds{sink}, beacon_ingest_delivery_seconds{sink}',
    record: (s, f) => {
      s.delivered.inc(f.count);
      s.deliverySeconds.observe(f.seconds);
      for (const ts of f.eventTs) s.ingestDeliverySeconds.observe(Math.max(0, f.now - ts) / 1000);
    },
  },
});

const sinkSent = defineInternalEvent<{ sink: string; sent: number }>('sink_sent', {
  about: 'a sink has delivered another `dispatch.logEvery` events (`sent`: its total since start)',
  level: 'info',
  fields: { sink: true, sent: true },
  message: 'sent events',
});

type SkipFilter = 'type' | 'bad_stream';
const sinkSkipped = defineInternalEvent<{ sink: string; filter: SkipFilter; count: number }, Metrics>('sink_skipped', {
  about:
    "metric only: events read and committed without delivery because the sink's `types` or `badStream` leave them out (every batch of a filtering sink: a log line would be noise)",
  level: 'debug',
  logged: false,
  fields: { sink: true, filter: true, count: true },
  message: '',
  metric: {
    name: 'beacon_sink_skipped_total{sink,filter}',
    record: (m, f) => m.sinkSkipped.inc({ sink: f.sink, filter: f.filter }, f.count),
  },
});

interface Failed {
  sink: string;
  stage: 'open' | 'deliver';
  kind: SinkFailureKind;
  errorType: string;
  err: string;
}
const sinkError = defineInternalEvent<Failed, Metrics>('sink_error', {
  about: 'an attempt to open a sink or deliver a batch failed (`kind`: retry, reconnect, reject, fatal)',
  level: { of: (f) => (f.kind === 'reject' ? 'debug' : 'warn'), doc: 'warn; debug when `kind` is reject' },
  fields: { sink: true, stage: true, kind: true, errorType: true, err: true },
  message: (f) => `sink ${f.stage} failed`,
  metric: {
    name: 'beacon_sink_errors_total{sink,kind,error_type}',
    record: (m, f) => m.sinkErrors.inc({ sink: f.sink, kind: f.kind, error_type: f.errorType }),
  },
});

const sinkBackoff = defineInternalEvent<{ sink: string; delayMs: number; attempts: number }>('sink_backoff', {
  about: 'a sink waits `delayMs` before its next attempt',
  level: 'info',
  fields: { sink: true, delayMs: true, attempts: true },
  message: 'sink backing off',
});

interface DeadLettered {
  sink: string;
  count: number;
  errorType: string;
  reason: string;
  code: 'BEACON_E_SINK_REJECTED';
}
const sinkDeadLettered = defineInternalEvent<DeadLettered, Metrics>('sink_dead_lettered', {
  about: 'events a sink rejected for good, written to its dead letter',
  level: 'warn',
  fields: { sink: true, count: true, errorType: true, reason: true, code: true },
  message: 'events dead-lettered',
  metric: {
    name: 'beacon_sink_dead_lettered_total{sink,error_type}',
    record: (m, f) => m.sinkDeadLettered.inc({ sink: f.sink, error_type: f.errorType }, f.count),
  },
});

const sinkFatal = defineInternalEvent<{ sink: string; code: 'BEACON_E_SINK_FATAL'; errorType: string; err: string }>(
  'sink_fatal',
  {
    about: 'a sink stops on a fatal error (its config is wrong); its events wait in the log',
    level: 'error',
    fields: { sink: true, code: true, errorType: true, err: true },
    message: 'sink stopped on a fatal error',
  },
);

const sinkRecovered = defineInternalEvent<{ sink: string; failedAttempts: number }>('sink_recovered', {
  about: 'an attempt succeeded after `failedAttempts` failures',
  level: 'info',
  fields: { sink: true, failedAttempts: true },
  message: 'sink recovered',
});

const sinkSeek = defineInternalEvent<{ sink: string; target: unknown; pending: number }>('sink_seek', {
  about: "a sink's cursor was moved for a replay (`beacon replay`); `pending`: events now ahead of it",
  level: 'info',
  fields: { sink: true, target: true, pending: true },
  message: 'sink cursor moved for replay',
});

const dispatchStarted = defineInternalEvent<{ sinks: string[] }>('dispatch_started', {
  about: "every sink's loop is running (sinks may still be connecting)",
  level: 'info',
  fields: { sinks: true },
  message: 'dispatcher started',
});

const dispatchStopped = defineInternalEvent<Record<never, never>>('dispatch_stopped', {
  about: 'every sink stopped, its cursor saved and closed',
  level: 'info',
  fields: {},
  message: 'dispatcher stopped',
});

const dispatchSinksChanged = defineInternalEvent<{ added: string[]; changed: string[]; removed: string[] }>(
  'dispatch_sinks_changed',
  {
    about: 'a config reload added, changed or removed sinks while the others kept delivering',
    level: 'info',
    fields: { added: true, changed: true, removed: true },
    message: 'sinks changed while running',
  },
);

const dispatchStopDeadline = defineInternalEvent<{ deadlineMs: number; sinks: string[] }>('dispatch_stop_deadline', {
  about: 'deliveries were still in flight at the stop deadline; their events are delivered again after the next start',
  level: 'warn',
  fields: { deadlineMs: true, sinks: true },
  message: 'deliveries still in flight at the stop deadline; they will be delivered again',
});

export const DISPATCH_EVENTS = {
  dispatchStarted,
  dispatchStopped,
  dispatchSinksChanged,
  dispatchStopDeadline,
  sinkDelivered,
  sinkSent,
  sinkSkipped,
  sinkError,
  sinkBackoff,
  sinkDeadLettered,
  sinkFatal,
  sinkRecovered,
  sinkSeek,
};

export const DISPATCH_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(DISPATCH_EVENTS).map((e) => e.info);

/** One sink's events, bound to its name, the logger and its metric series. */
export class DispatchEvents {
  private sentLogged = 0;
  private readonly to: { logger: Logger; metrics: Metrics };
  /**
   * This sink's series, looked up once: prom-client hashes a label object on every call that
   * passes one, and `delivered` observes once per event (a few hundred thousand a second).
   */
  private readonly series;

  constructor(
    private readonly sink: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly logEvery: number,
  ) {
    const labels = { sink };
    this.to = { logger, metrics };
    this.series = {
      delivery: {
        logger,
        metrics: {
          delivered: metrics.sinkDelivered.labels(labels),
          deliverySeconds: metrics.sinkDeliverySeconds.labels(labels),
          ingestDeliverySeconds: metrics.ingestDeliverySeconds.labels(labels),
        },
      },
      lag: metrics.sinkLag.labels(labels),
      lagSeconds: metrics.sinkLagSeconds.labels(labels),
      state: SINK_STATES.map((state) => ({ state, gauge: metrics.sinkState.labels({ sink, state }) })),
    };
  }

  /** `sink_delivered`: counts, latency, and the `sink_sent` line every `logEvery` events. */
  delivered(count: number, total: number, seconds: number, eventTs: readonly number[], now: number): void {
    sinkDelivered.emit(this.series.delivery, { count, seconds, eventTs, now });
    if (this.logEvery > 0 && Math.floor(total / this.logEvery) > Math.floor(this.sentLogged / this.logEvery)) {
      this.sentLogged = total;
      sinkSent.emit(this.to, { sink: this.sink, sent: total });
    }
  }

  /** `sink_skipped` (metric only). */
  skipped(count: number, filter: SkipFilter): void {
    sinkSkipped.emit(this.to, { sink: this.sink, filter, count });
  }

  /** `sink_error`: a failed attempt of any kind. */
  error(err: SinkError, stage: 'open' | 'deliver'): void {
    sinkError.emit(this.to, { sink: this.sink, stage, kind: err.kind, errorType: err.errorType, err: err.message });
  }

  /** `sink_backoff`: the loop waits before the next attempt. */
  backoff(delayMs: number, attempts: number): void {
    sinkBackoff.emit(this.to, { sink: this.sink, delayMs, attempts });
  }

  /** `sink_dead_lettered`: events written to the dead letter. */
  deadLettered(count: number, errorType: string, reason: string): void {
    sinkDeadLettered.emit(this.to, { sink: this.sink, count, errorType, reason, code: 'BEACON_E_SINK_REJECTED' });
  }

  /** `sink_fatal`: the sink stops; its events wait in the log. */
  fatal(err: SinkError): void {
    sinkFatal.emit(this.to, {
      sink: this.sink,
      code: 'BEACON_E_SINK_FATAL',
      errorType: err.errorType,
      err: err.message,
    });
  }

  /** `sink_recovered`: an attempt succeeded after failures. */
  recovered(attempts: number): void {
    sinkRecovered.emit(this.to, { sink: this.sink, failedAttempts: attempts });
  }

  /** `sink_seek`: the cursor moved for a replay; `pending` events are now ahead of it. */
  seek(target: unknown, pending: number): void {
    sinkSeek.emit(this.to, { sink: this.sink, target, pending });
  }

  state(state: SinkState): void {
    for (const s of this.series.state) s.gauge.set(s.state === state ? 1 : 0);
  }

  lag(events: number, seconds: number): void {
    this.series.lag.set(events);
    this.series.lagSeconds.set(seconds);
  }

  /** The sink is gone (removed by a config reload): its gauges leave /metrics; its counters stay, as counters do. */
  forget(): void {
    const labels = { sink: this.sink };
    this.metrics.sinkLag.remove(labels);
    this.metrics.sinkLagSeconds.remove(labels);
    for (const state of SINK_STATES) this.metrics.sinkState.remove({ sink: this.sink, state });
  }
}
