import { formatSpan, iso } from './format.js';
import type { AlertValue } from './rules/rule.js';

/** One message about one alert: it fired, it still fires (a reminder), or it resolved. */
export interface AlertNotification {
  status: 'firing' | 'resolved';
  /** A firing alert sent again because it still fires after `renotifyAfter`. */
  reminder: boolean;
  /** Names one firing episode (rule, instance, fired at): the same for its firing, reminders and resolution. */
  episode: string;
  rule: string;
  type: string;
  /** The sink, for per-sink rules. */
  instance?: string;
  summary: string;
  /** When the condition began. */
  since: number;
  firedAt: number;
  resolvedAt?: number;
  /** When this message was made. */
  at: number;
  values: Record<string, AlertValue>;
  /** What to do next, one step per line. */
  hint: string;
  /** The rule's `for` and the engine's `renotifyAfter`, so the message can say when it repeats. */
  forMs: number;
  renotifyAfterMs: number;
  beacon: { version: string; host: string; url: string };
}

/** `FIRING`, `STILL FIRING` or `RESOLVED`: the word a subject or chat line starts with. */
export function statusWord(n: AlertNotification): string {
  return n.status === 'resolved' ? 'RESOLVED' : n.reminder ? 'STILL FIRING' : 'FIRING';
}

/** `[beacon] FIRING hook-down: hook (backing off 5m)`. */
export function subjectLine(n: AlertNotification, prefix = '[beacon]'): string {
  const text = `${statusWord(n)} ${n.rule}: ${n.summary}`;
  return prefix ? `${prefix} ${text}` : text;
}

/**
 * The plain-text body: what, since when, the current figures and what to do next; the same
 * text for email and (as `body`) for webhooks.
 */
export function bodyText(n: AlertNotification): string {
  const lines: string[] = [];
  if (n.status === 'resolved') {
    lines.push(`RESOLVED: ${n.rule} (${n.type}) after firing for ${formatSpan((n.resolvedAt ?? n.at) - n.firedAt)}.`);
  } else if (n.reminder) {
    lines.push(`STILL FIRING: ${n.rule} (${n.type}), firing for ${formatSpan(n.at - n.firedAt)}.`);
  } else {
    lines.push(`FIRING: ${n.rule} (${n.type}).`);
  }
  lines.push(n.summary, '');
  const when: [string, string][] = [
    ['Since', `${iso(n.since)} (${formatSpan(n.at - n.since)} before this message)`],
    ['Fired at', iso(n.firedAt)],
  ];
  if (n.resolvedAt !== undefined) when.push(['Resolved at', iso(n.resolvedAt)]);
  when.push(['Rule', `${n.type}${n.instance ? ` for sink ${n.instance}` : ''}, fires after ${formatSpan(n.forMs)}`]);
  lines.push(...aligned(when), '');
  lines.push(n.status === 'resolved' ? 'Values now:' : 'Current values:');
  lines.push(
    ...aligned(
      Object.entries(n.values).map(([k, v]) => [k, String(v)]),
      '  ',
    ),
    '',
  );
  lines.push('What to do next:', ...n.hint.split('\n').map((l) => `  ${l}`), '');
  const repeat =
    n.status === 'resolved'
      ? 'This alert is resolved; a new message comes if it fires again.'
      : n.renotifyAfterMs > 0
        ? `Sent again every ${formatSpan(n.renotifyAfterMs)} while it fires, and once when it resolves.`
        : 'Sent once while it fires, and once when it resolves.';
  lines.push('-- ', `Beacon ${n.beacon.version} on ${n.beacon.host} (${n.beacon.url}). ${repeat}`);
  return lines.join('\n') + '\n';
}

function aligned(rows: [string, string][], indent = ''): string[] {
  const width = Math.max(0, ...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${indent}${`${k}:`.padEnd(width + 1)}${v}`);
}
