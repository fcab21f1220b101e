import type { TrackedEvent } from '../../event/trackedEvent.js';

/**
 * Object keys of the lake: `<prefix from the event><partition>-<first seq>-<last seq>.<ext>`.
 *
 * The prefix template takes its values from the event (`{type}`) and its server receive time
 * in UTC (`{yyyy}`, `{MM}`, `{dd}`, `{HH}`, `{mm}`), so the same event always lands under the
 * same prefix, whenever and however often it is delivered. The name ends with the log
 * positions the object covers, so the same events always make the same key.
 */
const TOKENS = ['type', 'yyyy', 'MM', 'dd', 'HH', 'mm'] as const;
type Token = (typeof TOKENS)[number];

/** A problem with a prefix template, or undefined when it is usable. */
export function checkPrefixTemplate(template: string): string | undefined {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(TOKENS as readonly string[]).includes(m[1]!))
      return `unknown placeholder {${m[1]}} in prefix; use ${TOKENS.map((t) => `{${t}}`).join(', ')}`;
  }
  if (template.startsWith('/')) return 'prefix must not start with "/" (keys are relative to the bucket)';
  if (template !== '' && !template.endsWith('/')) return 'prefix must end with "/" (it names a folder of objects)';
  if (template.split('/').some((part, i, all) => part === '..' || part === '.' || (part === '' && i < all.length - 1)))
    return 'prefix must not hold empty, "." or ".." folders';
  return undefined;
}

export type PrefixOf = (event: TrackedEvent) => string;

/** The finest time a template's placeholders name, in ms: events within one such UTC span share their time values. */
function timeUnit(tokens: readonly Token[]): number | undefined {
  if (tokens.includes('mm')) return 60_000;
  if (tokens.includes('HH')) return 3_600_000;
  if (tokens.includes('dd') || tokens.includes('MM') || tokens.includes('yyyy')) return 86_400_000;
  return undefined;
}

/** Event types remembered per compiled template; beyond it the memory starts again (a flood of odd types). */
const REMEMBERED_TYPES = 1000;

/**
 * Compiles a prefix template into a function of the event.
 *
 * Every event of a batch would otherwise build the same string (a Date, padding, a regular
 * expression on the type): the function remembers, per event type, the prefix of the last
 * UTC minute, hour or day it saw (the finest the template names). That is exact: JavaScript
 * time has no leap seconds, so floor(ts / unit) counts whole UTC minutes, hours and days
 * since 1970-01-01T00:00Z, and every placeholder is a function of the type and that count.
 */
export function compilePrefix(template: string): PrefixOf {
  const parts = template.split(/(\{[^}]*\})/).filter((p) => p !== '');
  const tokens = parts.filter((p) => p[0] === '{').map((p) => p.slice(1, -1) as Token);
  const unit = timeUnit(tokens);
  const build = (event: TrackedEvent): string => {
    const d = new Date(event.ts);
    let out = '';
    for (const part of parts) {
      if (part[0] !== '{') {
        out += part;
        continue;
      }
      out += tokenValue(part.slice(1, -1) as Token, event, d);
    }
    return out;
  };
  const last = new Map<string, { span: number; prefix: string }>();
  return (event) => {
    if (typeof event.ts !== 'number') return build(event);
    const span = unit === undefined ? 0 : Math.floor(event.ts / unit);
    const seen = last.get(event.type);
    // A span that is not a number (a ts that is not one) never equals itself, so it is built each time.
    if (seen !== undefined && seen.span === span) return seen.prefix;
    const prefix = build(event);
    if (seen !== undefined) {
      seen.span = span;
      seen.prefix = prefix;
    } else {
      if (last.size >= REMEMBERED_TYPES) last.clear();
      last.set(event.type, { span, prefix });
    }
    return prefix;
  };
}

function tokenValue(token: Token, event: TrackedEvent, d: Date): string {
  switch (token) {
    case 'type':
      return safeSegment(event.type);
    case 'yyyy':
      return String(d.getUTCFullYear()).padStart(4, '0');
    case 'MM':
      return two(d.getUTCMonth() + 1);
    case 'dd':
      return two(d.getUTCDate());
    case 'HH':
      return two(d.getUTCHours());
    case 'mm':
      return two(d.getUTCMinutes());
  }
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Event types are already `[A-Za-z0-9_.:-]`; anything else (from an old log) is escaped so it can never add a folder. */
function safeSegment(value: string): string {
  return /^[A-Za-z0-9_.:-]+$/.test(value) && value !== '.' && value !== '..'
    ? value
    : encodeURIComponent(value).replace(/\./g, '%2E');
}

/** Sequence numbers are zero-padded so keys sort in log order within a prefix. */
export function objectName(partition: string, first: number, last: number, extension: string): string {
  return `${safePartition(partition)}-${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}${extension}`;
}

function safePartition(partition: string): string {
  return /^[A-Za-z0-9_]+$/.test(partition) ? partition : encodeURIComponent(partition);
}
