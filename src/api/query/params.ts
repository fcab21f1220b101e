import { parseDuration } from '../../config/units.js';
import { BeaconError } from '../../errors/beaconError.js';

/**
 * Parsing of the query endpoints' parameters. Each parser takes the raw query-string value
 * (undefined when absent) and either returns the parsed value or throws BEACON_E_BAD_QUERY
 * naming the parameter, what it got and what it takes.
 */

export type Query = Readonly<Record<string, string | undefined>>;

const DAY_MS = 86_400_000;

function bad(name: string, got: string, expected: string): BeaconError {
  return new BeaconError(
    'BEACON_E_BAD_QUERY',
    `${name} must be ${expected}; got ${JSON.stringify(got.slice(0, 100))}`,
    { param: name },
  );
}

/** A whole number in [min, max]; `fallback` when absent. */
export function intParam(query: Query, name: string, range: { min: number; max: number; fallback: number }): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return range.fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < range.min || n > range.max)
    throw bad(name, raw, `a whole number from ${range.min} to ${range.max}`);
  return n;
}

/** A duration such as `10s`, `1m`, `1h` (a bare number is ms), whole seconds, in [minMs, maxMs]. */
export function durationParam(
  query: Query,
  name: string,
  range: { minMs: number; maxMs: number; fallback: string },
): { text: string; ms: number } {
  const raw = query[name];
  const text = raw === undefined || raw === '' ? range.fallback : raw;
  const ms = parseDuration(text);
  if (ms === undefined || ms % 1000 !== 0 || ms < range.minMs || ms > range.maxMs) {
    throw bad(
      name,
      text,
      `a duration in whole seconds from ${formatMs(range.minMs)} to ${formatMs(range.maxMs)}, such as 10s, 1m or 1h`,
    );
  }
  return { text, ms };
}

/** An optional non-empty text of at most `max` characters (an event type, an id). */
export function textParam(query: Query, name: string, max = 256): string | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > max) throw bad(name, raw, `at most ${max} characters`);
  return raw;
}

/** One of `values`; `fallback` when absent. */
export function choiceParam<T extends string>(query: Query, name: string, values: readonly T[], fallback: T): T {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(values as readonly string[]).includes(raw)) throw bad(name, raw, `one of ${values.join(', ')}`);
  return raw as T;
}

/**
 * `where=key:value[,key:value...]`: props that must equal the values, compared as text. A key
 * ends at its first `:`; conditions are split on `,`, so a value cannot hold a comma.
 */
export function whereParam(query: Query, name = 'where', maxConditions = 8): Record<string, string> | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  // No prototype: `constructor`, `toString` and `__proto__` are prop names like any other.
  const conditions: Record<string, string> = Object.create(null) as Record<string, string>;
  const parts = raw.split(',');
  if (parts.length > maxConditions)
    throw bad(name, raw, `at most ${maxConditions} conditions key:value separated by commas`);
  for (const part of parts) {
    const colon = part.indexOf(':');
    if (colon <= 0)
      throw bad(name, raw, 'conditions key:value separated by commas, such as plan:pro or plan:pro,country:DE');
    const key = part.slice(0, colon);
    if (Object.hasOwn(conditions, key)) throw bad(name, raw, `conditions on distinct props (${key} appears twice)`);
    conditions[key] = part.slice(colon + 1);
  }
  return conditions;
}

/**
 * A point in time: `YYYY-MM-DD` (the start of that UTC day), an ISO 8601 date-time with a
 * zone (`2026-11-24T10:00:00Z`, `...+01:00`), or epoch milliseconds.
 *
 * With `endOfDay`, a bare date means the end of that day, so `to=2026-11-24` includes the
 * 24th, as a reader of the URL expects; a date-time is taken as written (exclusive).
 */
export function timeParam(query: Query, name: string, options: { endOfDay?: boolean } = {}): number | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  let ms: number;
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    ms = Date.parse(`${raw}T00:00:00Z`);
    if (Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) !== raw) ms = NaN;
    if (options.endOfDay) ms += DAY_MS;
  } else if (/^\d{1,15}$/.test(raw)) {
    ms = Number(raw);
  } else if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(raw)) {
    ms = Date.parse(raw);
  } else {
    ms = NaN;
  }
  if (!Number.isFinite(ms) || ms < 0)
    throw bad(name, raw, 'a date (2026-11-24), a date-time with a zone (2026-11-24T10:00:00Z) or epoch milliseconds');
  return ms;
}

/** A time that must be given. */
export function requiredTimeParam(query: Query, name: string, options: { endOfDay?: boolean } = {}): number {
  const ms = timeParam(query, name, options);
  if (ms === undefined)
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `${name} is required: a date (2026-11-24), a date-time with a zone (2026-11-24T10:00:00Z) or epoch milliseconds`,
      { param: name },
    );
  return ms;
}

/** `10s`, `5m`, `2h`, `1d` for whole units; ms otherwise. */
export function formatMs(ms: number): string {
  for (const [unit, size] of [
    ['d', DAY_MS],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Refuses U+0000 in any parameter (query string or path) with BEACON_E_BAD_QUERY: a stored
 * event never holds it (intake makes it U+FFFD, src/event/nulCharacters.ts), and SQL stores
 * cannot take it in a query (PostgreSQL fails with SQLSTATE 22021), which would be a 500.
 */
export function refuseNul(query: Query, path: Readonly<Record<string, string>>): void {
  for (const [name, value] of [...Object.entries(query), ...Object.entries(path)]) {
    if (value !== undefined && value.includes('\u0000')) {
      throw new BeaconError(
        'BEACON_E_BAD_QUERY',
        `${name} holds the character U+0000, which no stored event has: Beacon stores it as U+FFFD (\\ufffd); query for that instead`,
        { param: name },
      );
    }
  }
}
