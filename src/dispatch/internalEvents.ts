import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { SinkError } from '../sinks/sink.js';
import { SINK_STATES, type SinkState } from './status.js';

/**
 * The dispatcher's internal events, each defined once: every one writes its log line and
 * moves its metric together, so the logs and /metrics never disagree. Labels stay
 * low-cardinality (sink, kind, error_type, state).
 */
export class DispatchEvents {
  private sentLogged = 0;
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
    this.series = {
      delivered: metrics.sinkDelivered.labels(labels),
      deliverySeconds: metrics.sinkDeliverySeconds.labels(labels),
      ingestDeliverySeconds: metrics.ingestDeliverySeconds.labels(labels),
      lag: metrics.sinkLag.labels(labels),
      lagSeconds: metrics.sinkLagSeconds.labels(labels),
      state: SINK_STATES.map((state) => ({ state, gauge: metrics.sinkState.labels({ sink, state }) })),
    };
  }

  /** `sink_delivered`: counts, latency, and the "sent N" line every `logEvery` events. */
  delivered(count: number, total: number, seconds: number, eventTs: readonly number[], now: number): void {
    const { delivered, deliverySeconds, ingestDeliverySeconds } = this.series;
    delivered.inc(count);
    deliverySeconds.observe(seconds);
    for (const ts of eventTs) ingestDeliverySeconds.observe(Math.max(0, now - ts) / 1000);
    if (this.logEvery > 0 && Math.floor(total / this.logEvery) > Math.floor(this.sentLogged / this.logEvery)) {
      this.sentLogged = total;
      this.logger.info({ event: 'sink_sent', sink: this.sink, sent: total }, 'sent events');
    }
  }

  /**
   * `sink_skipped`: events read and committed without delivery because the sink's `types` or
   * `badStream` leave them out. Metric only: it happens on every batch of a filtering sink, so a
   * log line would be noise.
   */
  skipped(count: number, filter: 'type' | 'bad_stream'): void {
    this.metrics.sinkSkipped.inc({ sink: this.sink, filter }, count);
  }

  /** `sink_error`: a failed attempt of any kind. */
  error(err: SinkError, stage: 'open' | 'deliver'): void {
    this.metrics.sinkErrors.inc({ sink: this.sink, kind: err.kind, error_type: err.errorType });
    const level = err.kind === 'reject' ? 'debug' : 'warn';
    this.logger[level]({ event: 'sink_error', sink: this.sink, stage, kind: err.kind, errorType: err.errorType, err: err.message }, `sink ${stage} failed`);
  }

  /** `sink_backoff`: the loop waits before the next attempt. */
  backoff(delayMs: number, attempts: number): void {
    this.logger.info({ event: 'sink_backoff', sink: this.sink, delayMs, attempts }, 'sink backing off');
  }

  /** `sink_dead_lettered`: events written to the dead letter. */
  deadLettered(count: number, errorType: string, reason: string): void {
    this.metrics.sinkDeadLettered.inc({ sink: this.sink, error_type: errorType }, count);
    this.logger.warn({ event: 'sink_dead_lettered', sink: this.sink, count, errorType, reason, code: 'BEACON_E_SINK_REJECTED' }, 'events dead-lettered');
  }

  /** `sink_fatal`: the sink stops; its events wait in the log. */
  fatal(err: SinkError): void {
    this.logger.error({ event: 'sink_fatal', sink: this.sink, code: 'BEACON_E_SINK_FATAL', errorType: err.errorType, err: err.message }, 'sink stopped on a fatal error');
  }

  /** `sink_recovered`: an attempt succeeded after failures. */
  recovered(attempts: number): void {
    this.logger.info({ event: 'sink_recovered', sink: this.sink, failedAttempts: attempts }, 'sink recovered');
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
