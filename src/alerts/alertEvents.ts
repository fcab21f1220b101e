import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { AlertNotification } from './notification.js';

/**
 * The alerts' internal events, each defined once: the log line and the metric move together.
 * Labels stay low-cardinality: rule and channel names come from the config.
 */
export class AlertEvents {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** `alert_firing`, `alert_reminder`, `alert_resolved`: a message is on its way to the rule's channels. */
  transition(n: AlertNotification, channels: readonly string[]): void {
    const event = n.status === 'resolved' ? 'alert_resolved' : n.reminder ? 'alert_reminder' : 'alert_firing';
    const level = n.status === 'firing' && !n.reminder ? 'warn' : 'info';
    this.logger[level]({ event, rule: n.rule, type: n.type, instance: n.instance, summary: n.summary, channels }, `${event.replace('_', ' ')}: ${n.rule}: ${n.summary}`);
  }

  firing(rule: string, count: number): void {
    this.metrics.alertsFiring.set({ rule }, count);
  }

  /** `alert_notification_sent`. */
  sent(channel: string, n: AlertNotification, attempts: number): void {
    this.metrics.alertNotifications.inc({ channel, result: 'sent' });
    this.logger.info({ event: 'alert_notification_sent', channel, rule: n.rule, status: n.status, attempts }, 'alert message sent');
  }

  /** `alert_notification_failed`: one attempt failed; it is retried after `retryInMs` unless that is undefined. */
  failed(channel: string, n: AlertNotification, err: Error, attempt: number, retryInMs: number | undefined): void {
    this.metrics.alertNotifications.inc({ channel, result: 'failed' });
    this.logger.warn(
      { event: 'alert_notification_failed', code: 'BEACON_E_ALERT_NOTIFY', channel, rule: n.rule, status: n.status, attempt, retryInMs, err: err.message },
      retryInMs === undefined ? 'alert message failed' : `alert message failed; retrying in ${retryInMs} ms`,
    );
  }

  /** `alert_notification_dropped`: given up on; the reason says why (permanent failure, retryFor over, queue full, shutdown). */
  dropped(channel: string, n: AlertNotification, reason: string): void {
    this.metrics.alertNotifications.inc({ channel, result: 'dropped' });
    this.logger.error({ event: 'alert_notification_dropped', code: 'BEACON_E_ALERT_NOTIFY', channel, rule: n.rule, status: n.status, summary: n.summary, reason }, `alert message not sent: ${reason}`);
  }
}
