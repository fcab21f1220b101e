import { iso } from '../../format.js';
import { bodyText, subjectLine, type AlertNotification } from '../../notification.js';
import type { AlertValue } from '../../rules/rule.js';

/**
 * The JSON a webhook receives (documented in docs/alerts.md). `text` is the one-line subject,
 * so Slack, Mattermost, Rocket.Chat and Google Chat incoming webhooks show it as is; the other
 * fields are for programs.
 */
export interface WebhookPayload {
  text: string;
  status: 'firing' | 'resolved';
  reminder: boolean;
  /** The same for a firing, its reminders and its resolution. */
  episode: string;
  rule: string;
  type: string;
  instance: string | null;
  summary: string;
  since: string;
  firedAt: string;
  resolvedAt: string | null;
  sentAt: string;
  values: Record<string, AlertValue>;
  hint: string;
  /** The whole plain-text message, as the email body. */
  body: string;
  beacon: { version: string; host: string; url: string };
}

export function webhookPayload(n: AlertNotification): WebhookPayload {
  return {
    text: subjectLine(n),
    status: n.status,
    reminder: n.reminder,
    episode: n.episode,
    rule: n.rule,
    type: n.type,
    instance: n.instance ?? null,
    summary: n.summary,
    since: iso(n.since),
    firedAt: iso(n.firedAt),
    resolvedAt: n.resolvedAt === undefined ? null : iso(n.resolvedAt),
    sentAt: iso(n.at),
    values: n.values,
    hint: n.hint,
    body: bodyText(n),
    beacon: n.beacon,
  };
}
