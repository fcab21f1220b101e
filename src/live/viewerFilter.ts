import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * What one `/live` viewer asked for, parsed from its query string:
 *   type=a,b            only these event types
 *   where=k=v,k2=v2     props equal (as strings); a bare `k` means "has prop k"
 *   bot=true|false      meta.bot set / not set
 *   duplicate=true|false meta.duplicate set / not set
 *   sample=N            1 in N of the matching events
 *   maxRate=M           at most M events per second (a token bucket of M)
 * A bad value is an error naming the parameter, never silently ignored.
 */
export interface ViewerFilter {
  types?: ReadonlySet<string>;
  where: ReadonlyArray<readonly [string, string | undefined]>;
  bot?: boolean;
  duplicate?: boolean;
  sample: number;
  maxRate?: number;
}

const KNOWN = new Set(['type', 'where', 'bot', 'duplicate', 'sample', 'maxRate']);

export class ViewerFilterError extends Error {}

export function parseViewerFilter(query: URLSearchParams): ViewerFilter {
  for (const key of query.keys()) {
    if (!KNOWN.has(key)) throw new ViewerFilterError(`unknown parameter "${key}"; use ${[...KNOWN].join(', ')}`);
  }
  const list = (name: string) =>
    (query.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const types = list('type');
  const where = list('where').map((kv): [string, string | undefined] => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, undefined] : [kv.slice(0, eq), kv.slice(eq + 1)];
  });
  return {
    types: types.length > 0 ? new Set(types) : undefined,
    where,
    bot: flag(query, 'bot'),
    duplicate: flag(query, 'duplicate'),
    sample: positiveInt(query, 'sample') ?? 1,
    maxRate: positiveInt(query, 'maxRate'),
  };
}

function flag(query: URLSearchParams, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ViewerFilterError(`${name} must be true or false, not "${v}"`);
}

function positiveInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new ViewerFilterError(`${name} must be a whole number of at least 1, not "${v}"`);
  return n;
}

/** The content filter only (type, where, flags); sampling and rate are per-viewer state in the hub. */
export function matches(filter: ViewerFilter, e: TrackedEvent): boolean {
  if (filter.types && !filter.types.has(e.type)) return false;
  if (filter.bot !== undefined && (e.meta.bot === true) !== filter.bot) return false;
  if (filter.duplicate !== undefined && (e.meta.duplicate === true) !== filter.duplicate) return false;
  for (const [k, v] of filter.where) {
    // Own props only: `where=toString` must not match every event through Object.prototype.
    if (!Object.hasOwn(e.props, k)) return false;
    if (v !== undefined && String(e.props[k]) !== v) return false;
  }
  return true;
}
