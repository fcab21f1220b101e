import { createHash } from 'node:crypto';

/**
 * The event type a compatible endpoint (Segment, PostHog, Snowplow, Plausible, Umami, GA4)
 * gives an event whose original name Beacon's type pattern would refuse.
 *
 * The rule for compatible endpoints is "never refuse what the original service accepts": a
 * name is never a reason to lose an event. So the name is turned into a type that always
 * matches the default `server.limits.typePattern` (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`) and
 * stays distinct for distinct names:
 *
 * - a name that already matches the pattern is kept as it is;
 * - otherwise accents are dropped (`Äpfel` → `Apfel`), every run of other characters becomes
 *   one `_`, leading `_ . : -` are cut, an empty result becomes `event`, the result is cut to
 *   leave room, and `.` plus 10 hex digits of SHA-256 of the original name is appended:
 *   `$pageleave` → `pageleave.1f0c…`, `購入` → `event.8a3e…`. The suffix keeps two names that
 *   read the same after normalising (`Order Completed`, `Order-Completed!`) apart.
 *
 * With a custom `pattern` that refuses that form, plainer forms of the same two parts are
 * tried in turn (`_` instead of `.`, lower case, letters and digits only, a shorter stem, then
 * `event` + the hex alone), and the first the pattern accepts is used; every form keeps the
 * hex, so distinct names stay distinct. Only a pattern that accepts none of them (one that
 * refuses digits, say) gets the first form back, which the caller's type check then refuses:
 * check such a pattern with `compatibleTypePatternProblem` when the config is loaded.
 *
 * Callers keep the original name in `meta` (each protocol documents its key), so nothing
 * of it is lost.
 */

const DEFAULT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const MAX_TYPE_CHARS = 64;
const SHORT_STEM_CHARS = 16;
const SUFFIX_HEX_CHARS = 10;
const COMBINING_MARKS = /[\u0300-\u036f]/g;
const NOT_TYPE_CHARS = /[^A-Za-z0-9_.:-]+/g;
const NOT_ALNUM = /[^A-Za-z0-9]+/g;
const LEADING_NON_ALNUM = /^[_.:-]+/;

/** The type for `name`; `pattern` is the configured type pattern (the default when omitted). */
export function compatibleType(name: string, pattern: RegExp = DEFAULT_PATTERN): string {
  if (matches(pattern, name)) return name;
  const readable = name
    .normalize('NFKD')
    .replace(COMBINING_MARKS, '')
    .replace(NOT_TYPE_CHARS, '_')
    .replace(LEADING_NON_ALNUM, '');
  const hex = createHash('sha256').update(name).digest('hex').slice(0, SUFFIX_HEX_CHARS);
  const stem = readable.length > 0 ? readable : 'event';
  const first = stem.slice(0, MAX_TYPE_CHARS - 1 - SUFFIX_HEX_CHARS) + '.' + hex;
  if (pattern === DEFAULT_PATTERN || matches(pattern, first)) return first;
  for (const candidate of plainerForms(stem, hex)) if (matches(pattern, candidate)) return candidate;
  return first;
}

/** The fallbacks for a custom pattern, plainest last. */
function plainerForms(stem: string, hex: string): string[] {
  const room = MAX_TYPE_CHARS - 1 - SUFFIX_HEX_CHARS;
  const alnum = stem.replace(NOT_ALNUM, '_').replace(/^_+|_+$/g, '') || 'event';
  return [
    `${stem.slice(0, room)}_${hex}`,
    `${stem.slice(0, room).toLowerCase()}_${hex}`,
    `${alnum.slice(0, room)}_${hex}`,
    `${alnum.slice(0, room).toLowerCase()}_${hex}`,
    `${alnum.slice(0, SHORT_STEM_CHARS).toLowerCase()}_${hex}`,
    `event_${hex}`,
    `event${hex}`,
  ];
}

/** `test` without the state a global or sticky pattern keeps between calls. */
function matches(pattern: RegExp, text: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(text);
}

/**
 * Why `pattern` cannot hold the types compatibleType derives (undefined when it can): a
 * config check, so a pattern that would make compatible endpoints refuse names is reported
 * at start rather than as lost events.
 */
export function compatibleTypePatternProblem(pattern: RegExp): string | undefined {
  const samples = ['Order Completed', '$pageleave', '購入'];
  const refused = samples.filter((name) => !matches(pattern, compatibleType(name, pattern)));
  if (refused.length === 0) return undefined;
  return `it refuses the type derived for ${refused.map((n) => JSON.stringify(n)).join(', ')} (e.g. ${JSON.stringify(compatibleType(refused[0]!, pattern))}); a compatible endpoint needs a pattern that accepts letters, digits and "_"`;
}
