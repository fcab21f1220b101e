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

  constructor(
    private readonly sink: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly logEvery: number,
  ) {}

  /** `sink_delivered`: counts, latency, and the "sent N" line every `logEvery` events. */
  delivered(count: number, total: number, seconds: number, eventTs: readonly number[], now: number): void {
    this.metrics.sinkDelivered.inc({ sink: this.sink }, count);
    this.metrics.sinkDeliverySeconds.observe({ sink: this.sink }, seconds);
    for (const ts of eventTs) this.metrics.ingestDeliverySeconds.observe({ sink: this.sink }, Math.max(0, now - ts) / 1000);
    if (this.logEvery > 0 && Math.floor(total / this.logEvery) > Math.floor(this.sentLogged / this.logEvery)) {
      this.sentLogged = total;
      this.logger.info({ event: 'sink_sent', sink: this.sink, sent: total }, 'sent events');
    }
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
    for (const s of SINK_STATES) this.metrics.sinkState.set({ sink: this.sink, state: s }, s === state ? 1 : 0);
  }

  lag(events: number, seconds: number): void {
    this.metrics.sinkLag.set({ sink: this.sink }, events);
    this.metrics.sinkLagSeconds.set({ sink: this.sink }, seconds);
  }
}
