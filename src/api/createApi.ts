import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiConfig } from './apiConfig.js';
import type { AdminHandler } from './adminRequest.js';
import { createApiMetrics } from './apiMetrics.js';
import { createAudit } from './audit.js';
import { createApiAuth, type ApiAuth } from './auth.js';
import { ResponseCache } from './cache.js';
import type { ApiRoute } from './route.js';
import { createApiRouter } from './router.js';
import { createAdminAccess, type RouteGuard } from './adminAccess.js';
import { createAdminSurface } from './adminSurface.js';
import { API_EVENTS } from './internalEvents.js';
import type { Clock } from '../ops/clock.js';

export interface Api {
  /** Serves the routes; undefined for a path none of them has (the caller answers 404). */
  handler: AdminHandler;
  auth: ApiAuth;
}

/**
 * The API of one process: its routes behind token auth, the micro-cache and the audit log,
 * all configured from `api`, with the admin surface's rules (adminSurface.ts: Host, loopback
 * without tokens, Origin) and `api.adminNetworks`/`adminRequireTls` checked before the token.
 * Logs once where the admin surface answers and from where. Throws
 * BEACON_E_CONFIG_FIELD when a token's environment variable is missing.
 */
export function createApi(options: {
  api: ApiConfig;
  /** The listen address (server.host): a name there is one the API answers to. */
  host: string;
  /** server.cors.origins: pages of these origins may send state-changing requests. */
  corsOrigins?: readonly string[];
  routes: readonly ApiRoute[];
  logger: Logger;
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** server.trustProxy: whether X-Forwarded-For/-Proto say who called and how (for api.adminNetworks and adminRequireTls). */
  trustProxy?: boolean;
}): Api {
  const { api, logger } = options;
  const auth = createApiAuth(api, options.env);
  const trustProxy = options.trustProxy ?? false;
  const surface = createAdminSurface({
    tokensConfigured: auth.enabled,
    networksConfigured: api.adminNetworks.length > 0,
    allowedHosts: api.allowedHosts,
    bindHost: options.host,
    corsOrigins: options.corsOrigins ?? [],
    trustProxy,
  });
  API_EVENTS.adminSurface.emit(
    { logger },
    { tokens: auth.enabled, allowedHosts: api.allowedHosts },
    surface.describe(),
  );
  const cache = new ResponseCache({
    maxEntries: api.cache.maxEntries,
    maxBytes: api.cache.maxBytes,
    clock: options.clock,
  });
  const handler = createApiRouter({
    routes: options.routes,
    auth,
    cache,
    ttl: { realtime: api.cache.realtime, archive: api.cache.archive },
    metrics: createApiMetrics(options.registry),
    audit: createAudit(logger),
    logger,
    now: options.clock ? () => options.clock!.now() : undefined,
    // The operator's own network and TLS rules first: their refusal names the setting that applies.
    guard: firstRefusal(createAdminAccess(api, trustProxy), surface.guard),
  });
  return { handler, auth };
}

function firstRefusal(...guards: (RouteGuard | undefined)[]): RouteGuard {
  const active = guards.filter((g): g is RouteGuard => g !== undefined);
  return (route, req) => {
    for (const guard of active) {
      const refused = guard(route, req);
      if (refused) return refused;
    }
    return undefined;
  };
}
