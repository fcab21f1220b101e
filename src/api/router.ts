import type { Logger } from 'pino';
import { BeaconError, isBeaconError } from '../errors/beaconError.js';
import { jsonResponse, type AdminHandler, type AdminRequest, type AdminResponse } from './adminRequest.js';
import type { ApiMetrics } from './apiMetrics.js';
import type { Audit } from './audit.js';
import { bearerToken, type ApiAuth, type Principal } from './auth.js';
import { cacheKey, ifNoneMatchHits, type CachedAnswer, type ResponseCache } from './cache.js';
import { matchPath, type ApiRoute, type EndpointClass } from './route.js';
import type { RouteGuard } from './adminAccess.js';

/**
 * Serves a list of `ApiRoute`s as an `AdminHandler`, applying what each route declares:
 *
 * 1. Match: the route whose template matches the path (a literal segment wins over `{param}`,
 *    so `/events/recent` beats `/events/{id}`). No template matches: `undefined`, and the
 *    collector answers 404. A template matches but not the method: `405` with `Allow`.
 *    `HEAD` is served as `GET` (nginx's cache turns HEAD into GET upstream too).
 * 2. Auth: the route's scope against the bearer token (401/403 with `WWW-Authenticate`).
 * 3. Cache, by class: `realtime` and `archive` GETs go through the micro-cache (coalesced,
 *    kept for the class's TTL) and carry `Cache-Control: max-age` with the time left, a strong
 *    `ETag`, and `304` for a matching `If-None-Match`; `admin` and `ops` are `no-store`.
 * 4. Audit: every POST, and every refusal of an admin-scope route, is an audit line.
 *
 * `Cache-Control` of a cached class is `public` when the endpoint is open (no tokens, or
 * `api.publicRead`), so nginx or a CDN may keep it; when it needs a token it is `private`:
 * a shared cache must not hand one caller's authorised answer to another who may hold no
 * token at all (nginx ignores the Authorization header when caching), while the browser and
 * Beacon's own micro-cache still keep it.
 */
export interface ApiRouterOptions {
  routes: readonly ApiRoute[];
  auth: ApiAuth;
  cache: ResponseCache;
  /** TTL in ms per cached class (0: coalesce only). */
  ttl: Readonly<Record<'realtime' | 'archive', number>>;
  metrics: ApiMetrics;
  audit: Audit;
  logger: Logger;
  now?: () => number;
  /** Checked before auth: refuses a route from where it may not be called (adminAccess.ts). */
  guard?: RouteGuard;
}

export function createApiRouter(options: ApiRouterOptions): AdminHandler {
  const { auth, cache, ttl, metrics, audit } = options;
  const logger = options.logger.child({ component: 'api' });
  const now = options.now ?? Date.now;
  // Most literal segments first, so a fixed path beats a template that also matches it.
  const routes = [...options.routes].sort((a, b) => literalSegments(b.path) - literalSegments(a.path));

  return async (req) => {
    const matches = routes.flatMap((route) => {
      const params = matchPath(route.path, req.path);
      return params ? [{ route, params }] : [];
    });
    if (matches.length === 0) return undefined;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const match = matches.find((m) => m.route.method === method);
    if (!match) {
      const allow = [
        ...new Set(matches.flatMap((m) => (m.route.method === 'GET' ? ['GET', 'HEAD'] : [m.route.method]))),
      ].join(', ');
      return finish(
        matches[0]!.route.class,
        errorResponse(
          new BeaconError('BEACON_E_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use ${allow}`),
          { allow },
        ),
      );
    }
    const { route, params } = match;
    const started = performance.now();
    const response = await serve(route, params, req);
    metrics.requestSeconds.observe({ class: route.class }, (performance.now() - started) / 1000);
    return finish(route.class, response);
  };

  function finish(cls: EndpointClass, response: AdminResponse): AdminResponse {
    metrics.requests.inc({ class: cls, status: String(response.status) });
    return response;
  }

  async function serve(route: ApiRoute, params: Record<string, string>, req: AdminRequest): Promise<AdminResponse> {
    const refused = options.guard?.(route, req);
    if (refused) {
      audit({ who: 'unknown', req, status: refused.status, code: refused.code });
      return errorResponse(refused);
    }
    const outcome = auth.authorize(route.scope, bearerToken(req.headers.authorization));
    if (!outcome.ok) {
      if (route.scope === 'admin' || route.method === 'POST')
        audit({
          who: outcome.principal?.name ?? 'unknown',
          req,
          status: outcome.error.status,
          code: outcome.error.code,
        });
      return errorResponse(outcome.error, outcome.headers);
    }
    if (route.method === 'GET' && (route.class === 'realtime' || route.class === 'archive')) {
      return cached(route, route.class, params, req);
    }
    const response = noStore(await run(route, params, req));
    if (route.method === 'POST') audit({ who: who(outcome.principal), req, status: response.status });
    return response;
  }

  async function cached(
    route: ApiRoute,
    cls: 'realtime' | 'archive',
    params: Record<string, string>,
    req: AdminRequest,
  ): Promise<AdminResponse> {
    const { answer, result } = await cache.get(cacheKey('GET', req.path, req.query), ttl[cls], () =>
      run(route, params, req),
    );
    metrics.cacheLookups.inc({ class: cls, result });
    const size = cache.size;
    metrics.cacheEntries.set(size.entries);
    metrics.cacheBytes.set(size.bytes);
    if (answer.response.status !== 200) return noStore(answer.response);
    const headers = { ...answer.response.headers, ...validatorHeaders(route, answer, result === 'hit') };
    if (ifNoneMatchHits(req.headers['if-none-match'], answer.etag)) {
      const { 'content-type': _type, 'content-length': _length, ...rest } = headers;
      return { status: 304, headers: rest, body: '' };
    }
    return { status: 200, headers, body: answer.response.body };
  }

  function validatorHeaders(route: ApiRoute, answer: CachedAnswer, kept: boolean): Record<string, string> {
    const tokenNeeded = auth.requiresToken(route.scope);
    // A kept answer says the time it has left, not the full TTL, so a downstream cache never
    // keeps it past our expiry; one just made (miss, coalesced) has its whole TTL.
    const left = kept ? answer.expiresAt - Math.max(now(), answer.storedAt) : answer.expiresAt - answer.storedAt;
    const secondsLeft = Math.max(0, Math.floor(left / 1000));
    const headers: Record<string, string> = {
      'cache-control': `${tokenNeeded ? 'private' : 'public'}, max-age=${secondsLeft}`,
      etag: answer.etag,
    };
    if (tokenNeeded) headers.vary = 'Authorization';
    return headers;
  }

  async function run(route: ApiRoute, params: Record<string, string>, req: AdminRequest): Promise<AdminResponse> {
    try {
      return await route.handle(req, params);
    } catch (err) {
      if (isBeaconError(err)) return errorResponse(err);
      logger.error({ err, route: `${route.method} ${route.path}` }, 'API route failed; answered 500');
      return errorResponse(
        new BeaconError(
          'BEACON_E_INTERNAL',
          'the request failed inside Beacon; retry, and report it with the server log line',
        ),
      );
    }
  }
}

function errorResponse(err: BeaconError, headers: Record<string, string> = {}): AdminResponse {
  // A refusal that says when to come back (a busy store) answers with Retry-After.
  const retryAfter = err.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number' && retryAfter > 0)
    headers = { ...headers, 'retry-after': String(Math.ceil(retryAfter)) };
  return jsonResponse(err.status, err.toBody(), headers);
}

function noStore(response: AdminResponse): AdminResponse {
  return { ...response, headers: { ...response.headers, 'cache-control': 'no-store' } };
}

function who(principal: Principal | undefined): string {
  return principal?.name ?? 'anonymous';
}

function literalSegments(template: string): number {
  return template.split('/').filter((s) => s !== '' && !s.startsWith('{')).length;
}
