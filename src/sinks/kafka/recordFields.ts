import type { z } from 'zod';
import { OPTIONAL_EVENT_FIELDS, type TrackedEvent } from '../../event/trackedEvent.js';

/**
 * Where a Kafka message's topic and key come from: event fields named by a path, `type`,
 * `partyId`, ... or `props.<name>` / `meta.<name>` (one level).
 *
 * A topic template is text with `{path}` or `{path|fallback}` placeholders, e.g.
 * `events.{type}` or `clicks.{props.app|web}`. An event that lacks a field with no fallback, or
 * whose topic comes out as no legal Kafka topic name, is rejected (dead-lettered with the reason)
 * rather than sent somewhere unexpected.
 */
const TOP_LEVEL: ReadonlySet<string> = new Set(['id', 'type', 'ts', ...OPTIONAL_EVENT_FIELDS]);
const PLACEHOLDER = /\{([^{}|]+)(?:\|([^{}]*))?\}/g;
/** Kafka's rule: ASCII letters, digits, `.`, `_`, `-`, at most 249 characters, not `.` or `..`. */
const LEGAL_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function pathProblem(path: string): string | undefined {
  const parts = path.split('.');
  if (parts.length === 1 && TOP_LEVEL.has(path)) return undefined;
  if (parts.length === 2 && (parts[0] === 'props' || parts[0] === 'meta') && parts[1] !== '') return undefined;
  return `"${path}" is no event field; use one of ${[...TOP_LEVEL].join(', ')}, props.<name> or meta.<name>`;
}

export function checkFieldPath(path: string, ctx: z.RefinementCtx): void {
  const problem = pathProblem(path);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}

export function checkTemplate(template: string, ctx: z.RefinementCtx): void {
  const stripped = template.replace(PLACEHOLDER, '');
  if (/[{}]/.test(stripped))
    ctx.addIssue({ code: 'custom', message: `unbalanced braces in topic template "${template}"` });
  for (const match of template.matchAll(PLACEHOLDER)) {
    const problem = pathProblem(match[1]!.trim());
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }
}

/** The event's value at `path` as text, or undefined when absent (null counts as absent). */
export function fieldText(event: TrackedEvent, path: string): string | undefined {
  const dot = path.indexOf('.');
  const value: unknown =
    dot < 0
      ? (event as unknown as Record<string, unknown>)[path]
      : (event[path.slice(0, dot) as 'props' | 'meta'] ?? {})[path.slice(dot + 1)];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export type TopicResult = { topic: string } | { problem: string };

/** Compiles a topic template once; the result renders one event's topic. */
export function compileTopic(template: string): (event: TrackedEvent) => TopicResult {
  if (!template.includes('{')) {
    const fixed = LEGAL_TOPIC.test(template) && template !== '.' && template !== '..';
    return () => (fixed ? { topic: template } : { problem: `"${template}" is no legal Kafka topic name` });
  }
  return (event) => {
    let missing: string | undefined;
    const topic = template.replace(PLACEHOLDER, (_, rawPath: string, fallback: string | undefined) => {
      const path = rawPath.trim();
      const value = fieldText(event, path) ?? fallback;
      if (value === undefined) missing ??= path;
      return value ?? '';
    });
    if (missing) return { problem: `topic template "${template}": the event has no ${missing}` };
    if (!LEGAL_TOPIC.test(topic) || topic === '.' || topic === '..') {
      return {
        problem: `topic template "${template}" gave "${topic.slice(0, 300)}", no legal Kafka topic name (letters, digits, . _ -, at most 249)`,
      };
    }
    return { topic };
  };
}
