import { REDACTED } from '../../config/redact.js';

/**
 * A request URL as logs and error answers may show it: the path, and the query's parameter
 * names with every value replaced by `***`. Query values carry secrets on the compatible
 * endpoints (GA4's `api_secret`, PostHog's `api_key` and `token`, a Segment write key), and a
 * value could be anything else a sender put there; the names are enough to tell what was sent.
 * Capped at `max` characters.
 */
export function urlWithoutQueryValues(rawUrl: string, max = 200): string {
  const q = rawUrl.indexOf('?');
  if (q === -1) return rawUrl.slice(0, max);
  const names = rawUrl
    .slice(q + 1)
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1 ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
    });
  return `${rawUrl.slice(0, q)}?${names.join('&')}`.slice(0, max);
}
