import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';
import type { AlertNotification } from './notification.js';

/**
 * The alerts' internal events, each defined once: the log line and the metric move together.
 * Labels stay low-cardinality: rule and channel names come from the config.
 */

interface Transition {
  rule: string;
  type: string;
  instance: string | undefined;
  summary: string;
  channels: readonly string[];
}
const transitionFields = { rule: true, type: true, instance: true, summary: true, channels: true } as const;

const alertFiring = defineInternalEvent<Transition>('alert_firing', {
  about: "an alert starts firing; its message goes to the rule's channels",
  level: 'warn',
  fields: transitionFields,
  message: (f) => `alert firing: ${f.rule}: ${f.summary}`,
});
const alertReminder = defineInternalEvent<Transition>('alert_reminder', {
  about: 'an alert still fires after `renotifyAfter`; reminded',
  level: 'info',
  fields: transitionFields,
  message: (f) => `alert reminder: ${f.rule}: ${f.summary}`,
});
const alertResolved = defineInternalEvent<Transition>('alert_resolved', {
  about: 'a firing alert resolved',
  level: 'info',
  fields: transitionFields,
  message: (f) => `alert resolved: ${f.rule}: ${f.summary}`,
});

interface Sent {
  channel: string;
  rule: string;
  status: AlertNotification['status'];
  attempts: number;
}
const alertNotificationSent = defineInternalEvent<Sent, Metrics>('alert_notification_sent', {
  about: 'a channel took an alert message',
  level: 'info',
  fields: { channel: true, rule: true, status: true, attempts: true },
  message: 'alert message sent',
  metric: {
    name: 'beacon_alert_notifications_total{channel,result="sent"}',
    record: (m, f) => m.alertNotifications.inc({ channel: f.channel, result: 'sent' }),
  },
});

interface Failed {
  code: 'BEACON_E_ALERT_NOTIFY';
  channel: string;
  rule: string;
  status: AlertNotification['status'];
  attempt: number;
  retryInMs: number | undefined;
  err: string;
}
const alertNotificationFailed = defineInternalEvent<Failed, Metrics>('alert_notification_failed', {
  about: 'one attempt to send an alert message failed; retried after `retryInMs` unless absent',
  level: 'warn',
  fields: { code: true, channel: true, rule: true, status: true, attempt: true, retryInMs: true, err: true },
  message: (f) =>
    f.retryInMs === undefined ? 'alert message failed' : `alert message failed; retrying in ${f.retryInMs} ms`,
  metric: {
    name: 'beacon_alert_notifications_total{channel,result="failed"}',
    record: (m, f) => m.alertNotifications.inc({ channel: f.channel, result: 'failed' }),
  },
});

interface Dropped {
  code: 'BEACON_E_ALERT_NOTIFY';
  channel: string;
  rule: string;
  status: AlertNotification['status'];
  summary: string;
  reason: string;
}
const alertNotificationDropped = defineInternalEvent<Dropped, Metrics>('alert_notification_dropped', {
  about: 'an alert message given up on: permanent failure, `retryFor` over, queue full or shutdown (`reason`)',
  level: 'error',
  fields: { code: true, channel: true, rule: true, status: true, summary: true, reason: true },
  message: (f) => `alert message not sent: ${f.reason}`,
  metric: {
    name: 'beacon_alert_notifications_total{channel,result="dropped"}',
    record: (m, f) => m.alertNotifications.inc({ channel: f.channel, result: 'dropped' }),
  },
});

const alertsStarted = defineInternalEvent<{ rules: string[]; channels: string[]; evaluateEveryMs: number }>(
  'alerts_started',
  {
    about: 'the alert rules are armed at start',
    level: 'info',
    fields: { rules: true, channels: true, evaluateEveryMs: true },
    message: 'alert rules armed',
  },
);

const alertStateUnreadable = defineInternalEvent<{ path: string; problem: string }>('alert_state_unreadable', {
  about: 'the firing alerts saved before a restart cannot be read; they fire again',
  level: 'warn',
  fields: { path: true, problem: true },
  message: 'alert state not restored; alerts firing before the restart will fire again',
});

const alertStateDropped = defineInternalEvent<{ rule: string; instance: string | undefined }>('alert_state_dropped', {
  about: 'a firing alert saved before a restart belongs to a rule or sink no longer configured',
  level: 'info',
  fields: { rule: true, instance: true },
  message: 'a firing alert from before the restart no longer applies; dropped',
});

const alertStateUnwritable = defineInternalEvent<{ path: string; err: unknown }>('alert_state_unwritable', {
  about: 'the firing alerts could not be saved',
  level: 'warn',
  fields: { path: true, err: true },
  message: 'alert state not saved; a restart may repeat or miss a message',
});

const alertRoundFailed = defineInternalEvent<{ err: unknown }>('alert_round_failed', {
  about: 'an evaluation round failed; the next one runs as planned',
  level: 'error',
  fields: { err: true },
  message: 'alert evaluation failed; trying again next round',
});

const alertRuleFailed = defineInternalEvent<{ rule: string; err: unknown }>('alert_rule_failed', {
  about: 'one rule threw while evaluating; skipped this round',
  level: 'error',
  fields: { rule: true, err: true },
  message: 'alert rule failed to evaluate; skipped this round',
});

const alertIntakeCountersUnreadable = defineInternalEvent<{ err: string }>('alert_intake_counters_unreadable', {
  about: 'the intake counters cannot be read (logged when the problem starts or changes)',
  level: 'warn',
  fields: { err: true },
  message: 'intake counters unreadable; http_errors and no_events rules hold their state until they are back',
});

const alertIntakeCountersBack = defineInternalEvent<Record<never, never>>('alert_intake_counters_back', {
  about: 'the intake counters are readable again',
  level: 'info',
  fields: {},
  message: 'intake counters readable again',
});

/** The alerts' events, for the engine and the catalogue. */
export const ALERT_EVENTS = {
  alertsStarted,
  alertStateUnreadable,
  alertStateDropped,
  alertStateUnwritable,
  alertRoundFailed,
  alertRuleFailed,
  alertIntakeCountersUnreadable,
  alertIntakeCountersBack,
  alertFiring,
  alertReminder,
  alertResolved,
  alertNotificationSent,
  alertNotificationFailed,
  alertNotificationDropped,
};

export const ALERT_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(ALERT_EVENTS).map((e) => e.info);

/** The alerts' events bound to one logger and the process's metrics, for the channels and the engine's transitions. */
export class AlertEvents {
  private readonly to: { logger: Logger; metrics: Metrics };

  constructor(logger: Logger, metrics: Metrics) {
    this.to = { logger, metrics };
  }

  /** `alert_firing`, `alert_reminder`, `alert_resolved`: a message is on its way to the rule's channels. */
  transition(n: AlertNotification, channels: readonly string[]): void {
    const event = n.status === 'resolved' ? alertResolved : n.reminder ? alertReminder : alertFiring;
    event.emit(this.to, { rule: n.rule, type: n.type, instance: n.instance, summary: n.summary, channels });
  }

  /** `beacon_alerts_firing{rule}`: set after every round (a gauge, not an event). */
  firing(rule: string, count: number): void {
    this.to.metrics.alertsFiring.set({ rule }, count);
  }

  /** `alert_notification_sent`. */
  sent(channel: string, n: AlertNotification, attempts: number): void {
    alertNotificationSent.emit(this.to, { channel, rule: n.rule, status: n.status, attempts });
  }

  /** `alert_notification_failed`: one attempt failed; it is retried after `retryInMs` unless that is undefined. */
  failed(channel: string, n: AlertNotification, err: Error, attempt: number, retryInMs: number | undefined): void {
    alertNotificationFailed.emit(this.to, {
      code: 'BEACON_E_ALERT_NOTIFY',
      channel,
      rule: n.rule,
      status: n.status,
      attempt,
      retryInMs,
      err: err.message,
    });
  }

  /** `alert_notification_dropped`: given up on; the reason says why (permanent failure, retryFor over, queue full, shutdown). */
  dropped(channel: string, n: AlertNotification, reason: string): void {
    alertNotificationDropped.emit(this.to, {
      code: 'BEACON_E_ALERT_NOTIFY',
      channel,
      rule: n.rule,
      status: n.status,
      summary: n.summary,
      reason,
    });
  }
}
