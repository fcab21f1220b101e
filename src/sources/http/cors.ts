import type { ServerConfig } from '../../config/schema.js';

export type HeaderMap = Record<string, string>;

/**
 * CORS for the collector's paths, decided once from `server.cors`:
 * - `origins: ['*']` answers `Access-Control-Allow-Origin: *` and never sends credentials
 *   (browsers refuse credentials with `*`).
 * - a list of origins echoes the request's Origin when it is listed (with `Vary: Origin`) and
 *   adds `Access-Control-Allow-Credentials: true` when `credentials` is set.
 * An unlisted origin gets no CORS headers, so the browser hides the answer from the page.
 */
export interface CorsPolicy {
  /** Headers for an actual request, or undefined when none apply. */
  headersFor(origin: string | undefined): HeaderMap | undefined;
  /** Headers for an OPTIONS preflight. */
  preflight(origin: string | undefined, requestedHeaders: string | undefined): HeaderMap;
  /**
   * For clients that always send credentials (the Snowplow browser tracker's `fetch` uses
   * `credentials: 'include'`, GET included): the request's exact origin with
   * `Access-Control-Allow-Credentials: true` for every origin `origins` allows, `*` included,
   * whatever `credentials` says, as Snowplow's collector answers. Otherwise the browser hides
   * every answer from the tracker, which then resends forever. Undefined for an unlisted origin.
   */
  credentialedHeadersFor(origin: string | undefined): HeaderMap | undefined;
  /** The preflight for such clients. */
  credentialedPreflight(origin: string | undefined, requestedHeaders: string | undefined): HeaderMap;
}

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const DEFAULT_ALLOW_HEADERS = 'Content-Type, Content-Encoding';
/** Lets tracker code read Retry-After on a 503. */
const EXPOSE_HEADERS = 'Retry-After';

export function createCorsPolicy(cors: ServerConfig['cors']): CorsPolicy {
  const anyOrigin = cors.origins.includes('*');
  const allowed = new Set(cors.origins);
  const credentials = cors.credentials && !anyOrigin;
  const maxAge = String(cors.maxAgeSeconds);
  // Shared, never mutated: the `*` answer is the same for every request.
  const wildcard: HeaderMap = Object.freeze({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': EXPOSE_HEADERS,
  }) as HeaderMap;

  function headersFor(origin: string | undefined): HeaderMap | undefined {
    if (origin === undefined) return undefined;
    if (anyOrigin) return wildcard;
    if (!allowed.has(origin)) return undefined;
    const headers: HeaderMap = {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers': EXPOSE_HEADERS,
      Vary: 'Origin',
    };
    if (credentials) headers['Access-Control-Allow-Credentials'] = 'true';
    return headers;
  }

  /** A preflight answer: the actual request's headers (none for an origin not allowed) plus what a preflight adds. */
  function preflightFrom(base: HeaderMap | undefined, requestedHeaders: string | undefined, vary: string): HeaderMap {
    if (base === undefined) return {};
    return {
      ...base,
      'Access-Control-Allow-Methods': ALLOW_METHODS,
      // Echo what the browser asks for: the collector reads no header that could be abused.
      'Access-Control-Allow-Headers': requestedHeaders ?? DEFAULT_ALLOW_HEADERS,
      'Access-Control-Max-Age': maxAge,
      Vary: vary,
    };
  }

  function preflight(origin: string | undefined, requestedHeaders: string | undefined): HeaderMap {
    return preflightFrom(
      headersFor(origin),
      requestedHeaders,
      anyOrigin ? 'Access-Control-Request-Headers' : 'Origin, Access-Control-Request-Headers',
    );
  }

  function credentialedHeadersFor(origin: string | undefined): HeaderMap | undefined {
    if (origin === undefined || (!anyOrigin && !allowed.has(origin))) return undefined;
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Expose-Headers': EXPOSE_HEADERS,
      Vary: 'Origin',
    };
  }

  function credentialedPreflight(origin: string | undefined, requestedHeaders: string | undefined): HeaderMap {
    return preflightFrom(credentialedHeadersFor(origin), requestedHeaders, 'Origin, Access-Control-Request-Headers');
  }

  return { headersFor, preflight, credentialedHeadersFor, credentialedPreflight };
}
