import { z } from 'zod';
import type { TrackedEvent } from '../event/trackedEvent.js';
import { SinkError, type RejectedEvent } from './sink.js';

/**
 * Destination names built from event fields, shared by the broker sinks (NATS subject, Redis
 * key or channel, MQTT topic): `events.{type}`, `beacon:{props.app|unknown}`.
 *
 * - `{field}` is a top-level event field (`type`, `id`, `partyId`, `sessionId`, ...);
 *   `{props.a.b}` and `{meta.a}` reach into `props` and `meta`.
 * - `{field|fallback}` uses `fallback` when the field is absent or empty.
 * - A field that is absent with no fallback makes the event unroutable: the sink rejects it,
 *   so it goes to the dead letter with the field named instead of to a wrong destination.
 * - Substituted values pass through the sink's `clean` function (NATS and MQTT replace the
 *   characters that would add levels or wildcards); the literal parts are used as written.
 */
export interface EventTemplate {
  readonly source: string;
  /** True when the template has no fields: every event goes to the same place. */
  readonly constant: boolean;
  render(event: TrackedEvent): { value: string } | { missing: string };
}

type Part = { text: string } | { path: string[]; field: string; fallback: string | undefined };

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/;

/** Parses a template; returns an error message instead of throwing, for the config schema. */
function parse(source: string): Part[] | string {
  const parts: Part[] = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const close = rest.indexOf('}');
    if (open < 0) {
      if (close >= 0) return `"}" without "{" in "${source}"`;
      parts.push({ text: rest });
      break;
    }
    if (open > 0) parts.push({ text: rest.slice(0, open) });
    const end = rest.indexOf('}', open);
    if (end < 0) return `unclosed "{" in "${source}"`;
    const inner = rest.slice(open + 1, end);
    const bar = inner.indexOf('|');
    const field = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    if (!FIELD.test(field)) return `"{${inner}}" in "${source}" is not a field name such as {type} or {props.app}`;
    parts.push({ field, path: field.split('.'), fallback: bar < 0 ? undefined : inner.slice(bar + 1) });
    rest = rest.slice(end + 1);
  }
  return parts;
}

function lookup(event: TrackedEvent, path: readonly string[]): unknown {
  let value: unknown = event;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function compileTemplate(source: string, clean: (value: string) => string = (v) => v): EventTemplate {
  const parsed = parse(source);
  if (typeof parsed === 'string') throw new Error(parsed);
  const constant = parsed.every((p) => 'text' in p);
  return {
    source,
    constant,
    render(event) {
      let out = '';
      for (const part of parsed) {
        if ('text' in part) {
          out += part.text;
          continue;
        }
        const value = lookup(event, part.path);
        const text =
          value === undefined || value === null || value === ''
            ? undefined
            : typeof value === 'object'
              ? JSON.stringify(value)
              : String(value);
        if (text === undefined && part.fallback === undefined) return { missing: part.field };
        out += text === undefined ? part.fallback : clean(text);
      }
      return { value: out };
    },
  };
}

/** A batch split by destination: the events the template placed, in batch order, and those it could not. */
export interface RoutedBatch {
  readonly routed: { readonly index: number; readonly event: TrackedEvent; readonly destination: string }[];
  /** Rejected by index, with the missing field named; the sink adds them to its `reject` failure. */
  readonly unroutable: RejectedEvent[];
}

/** Renders each event's destination; `what` names it in the reason ("topic", "subject", "key"). */
export function routeBatch(template: EventTemplate, what: string, batch: readonly TrackedEvent[]): RoutedBatch {
  const routed: RoutedBatch['routed'] = [];
  const unroutable: RejectedEvent[] = [];
  batch.forEach((event, index) => {
    const rendered = template.render(event);
    if ('missing' in rendered)
      unroutable.push({
        index,
        reason: `${what} template "${template.source}" needs ${rendered.missing}, which the event does not have`,
      });
    else routed.push({ index, event, destination: rendered.value });
  });
  return { routed, unroutable };
}

/** The failure of an attempt whose other events went: the unroutable ones are dead-lettered. */
export function unroutableError(what: string, unroutable: RejectedEvent[]): SinkError {
  return new SinkError('reject', `${unroutable.length} event(s) have no ${what}`, {
    errorType: `${what}_template`,
    rejected: unroutable,
  });
}

/** A config string that must be a valid template (checked when the config is loaded). */
export function templateString() {
  return z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const parsed = parse(value);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    });
}
