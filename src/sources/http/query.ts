import { unescape } from 'node:querystring';

/**
 * Parses a query string into props: `a=1&b=x+y&a=2` -> `{a: ['1', '2'], b: 'x y'}`. Never
 * throws: a malformed %-escape is kept as written. `__proto__` becomes an ordinary key.
 */
export function parseQuery(query: string): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  const length = query.length;
  let start = 0;
  while (start < length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const key = decodeComponent(query.slice(start, hasValue ? eq : end));
      if (key.length > 0) addProp(props, key, hasValue ? decodeComponent(query.slice(eq + 1, end)) : '');
    }
    start = end + 1;
  }
  return props;
}

function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  // querystring.unescape falls back to a lenient decoder instead of throwing on bad escapes.
  return spaced.includes('%') ? unescape(spaced) : spaced;
}

function addProp(props: Record<string, unknown>, key: string, value: string): void {
  if (Object.hasOwn(props, key)) {
    const current = props[key];
    if (Array.isArray(current)) current.push(value);
    else props[key] = [current, value];
  } else if (key === '__proto__') {
    Object.defineProperty(props, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    props[key] = value;
  }
}
