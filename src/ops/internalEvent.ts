import type { Logger } from 'pino';

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The fields an event's log line carries, named once: an object with exactly the keys of `F`
 * (the compiler refuses a missing or an extra one), so the catalogue in docs/operations.md
 * cannot leave a field out.
 */
export type FieldNames<F> = { readonly [K in keyof Required<F>]: true };

/** How an event moves its metric: the metric's name (for the docs) and the update, fed the same fields as the log line. */
export interface EventMetric<M, F> {
  /** As /metrics shows it, with the labels this event sets: `beacon_alert_notifications_total{channel,result="sent"}`. */
  name: string;
  record: (metrics: M, fields: F) => void;
}

/** What the catalogue says about one event: the row of its table in docs/operations.md. */
export interface InternalEventInfo {
  name: string;
  /** The level, or how it is chosen (`warn; debug when kind=reject`). */
  level: string;
  fields: readonly string[];
  metric: string | undefined;
  /** When it happens, in a few words. */
  about: string;
}

export interface InternalEventSpec<F, M, C> {
  about: string;
  level: EventLevel | { of: (fields: F) => EventLevel; doc: string };
  fields: FieldNames<F>;
  /** The `msg` of the log line; `context` is text for the message only (a redacted address, a warning's words). */
  message: string | ((fields: F, context: C) => string);
  metric?: EventMetric<M, F>;
  /** Metric only: the event is too frequent to log (`sink_skipped`). */
  logged?: false;
}

/** Where an event goes: a logger, and the metrics its metric lives in when it has one. */
export type EventTarget<M> = [M] extends [undefined] ? { logger: Logger } : { logger: Logger; metrics: M };

export interface InternalEvent<F, M, C> {
  readonly info: InternalEventInfo;
  /** Writes the log line and moves the metric, from the one set of fields. */
  emit(to: EventTarget<M>, fields: F, ...context: [C] extends [undefined] ? [] : [C]): void;
}

/**
 * One internal event, defined once: each `emit` writes one structured log line
 * (`{"event": name, ...fields}`) and updates its metric from the same fields, so the logs and
 * /metrics never disagree. Only the declared fields are logged. Metric labels stay
 * low-cardinality; never put a secret in a field (config text goes through config/redact.ts).
 */
export function defineInternalEvent<F extends object, M = undefined, C = undefined>(
  name: string,
  spec: InternalEventSpec<F, M, C>,
): InternalEvent<F, M, C> {
  const keys = Object.keys(spec.fields) as (keyof F & string)[];
  const info: InternalEventInfo = {
    name,
    level: spec.logged === false ? '-' : typeof spec.level === 'string' ? spec.level : spec.level.doc,
    fields: keys,
    metric: spec.metric?.name,
    about: spec.about,
  };
  return {
    info,
    emit(to, fields, ...context) {
      if (spec.metric) spec.metric.record((to as { metrics: M }).metrics, fields);
      if (spec.logged === false) return;
      const line: Record<string, unknown> = { event: name };
      for (const key of keys) line[key] = fields[key];
      const level = typeof spec.level === 'string' ? spec.level : spec.level.of(fields);
      const msg = typeof spec.message === 'string' ? spec.message : spec.message(fields, context[0] as C);
      to.logger[level](line, msg);
    },
  };
}

/** Renders a catalogue as the Markdown table docs/operations.md holds (checked by test/unit/ops/internalEvents.test.ts). */
export function eventTable(events: readonly InternalEventInfo[]): string {
  const rows = events.map(
    (e) =>
      `| \`${e.name}\` | ${e.level} | ${e.fields.map((f) => `\`${f}\``).join(', ') || '-'} | ${e.metric ? `\`${e.metric}\`` : '-'} | ${e.about} |`,
  );
  return ['| event | level | fields | metric | when |', '|---|---|---|---|---|', ...rows].join('\n');
}
