import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiConfig } from './apiConfig.js';
import type { AdminHandler } from './adminRequest.js';
import { createApiMetrics } from './apiMetrics.js';
import { createAudit } from './audit.js';
import { createApiAuth, openApiWarning, type ApiAuth } from './auth.js';
import { ResponseCache } from './cache.js';
import type { ApiRoute } from './route.js';
import { createApiRouter } from './router.js';
import { createAdminAccess } from './adminAccess.js';
import type { Clock } from '../ops/clock.js';

export interface Api {
  /** Serves the routes; undefined for a path none of them has (the caller answers 404). */
  handler: AdminHandler;
  auth: ApiAuth;
}

/**
 * The API of one process: its routes behind token auth, the micro-cache and the audit log,
 * all configured from `api`. Warns once when the API is open to the network. Throws
 * BEACON_E_CONFIG_FIELD when a token's environment variable is missing.
 */
export function createApi(options: {
  api: ApiConfig;
  /** The listen address, to warn when an open API is reachable from other machines. */
  host: string;
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
  const warning = openApiWarning(auth, options.host);
  if (warning) logger.warn({ host: options.host }, warning);
  const cache = new ResponseCache({ maxEntries: api.cache.maxEntries, maxBytes: api.cache.maxBytes, clock: options.clock });
  const handler = createApiRouter({
    routes: options.routes,
    auth,
    cache,
    ttl: { realtime: api.cache.realtime, archive: api.cache.archive },
    metrics: createApiMetrics(options.registry),
    audit: createAudit(logger),
    logger,
    now: options.clock ? () => options.clock!.now() : undefined,
    guard: createAdminAccess(api, options.trustProxy ?? false),
  });
  return { handler, auth };
}
