import { Registry, collectDefaultMetrics } from 'prom-client';
import type { BeaconConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import { createApi } from '../api/createApi.js';
import { createApiHttpServer } from '../api/apiHttpServer.js';
import { opsRoutes } from '../api/opsRoutes.js';
import { queryRoutes } from '../api/query/routes.js';
import { createLogger } from '../ops/logger.js';
import { registryText } from '../ops/metrics.js';
import { onShutdownSignal } from '../ops/shutdown.js';
import { systemClock } from '../ops/clock.js';
import { openSqlStoreReader, type SqlStoreConfig } from '../store/sql/index.js';

/**
 * `beacon start --role api`: only the API over a server store, the read-only API servers of
 * the Casper-Metrics layout (several behind a load balancer, reading replicas). No collector,
 * no log, no dispatcher, nothing written: the query routes, /metrics, /readyz and /healthz.
 */
export async function runApiRole(config: BeaconConfig): Promise<void> {
  const store = apiRoleStore(config);
  const logger = createLogger(config.logging.level, { role: 'api' });
  // A registry of its own: the collector's and dispatcher's series would only ever read 0 here.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'beacon_' });
  const reader = openSqlStoreReader(store, { sinks: config.sinks, logger, registry });
  let serving = false;
  const api = createApi({
    api: config.api,
    host: config.server.host,
    routes: [
      ...opsRoutes({
        metrics: () => registryText(registry),
        ready: () => serving,
      }),
      ...queryRoutes(reader, systemClock),
    ],
    logger,
    registry,
    trustProxy: config.server.trustProxy,
  });
  const http = createApiHttpServer({ server: config.server, handler: api.handler, logger });
  const address = await http.listen(config.server.port, config.server.host);
  serving = true;
  logger.info(
    { port: address.port, host: address.address, store: store.type, storeSink: store.sink },
    `beacon API listening on ${config.server.tls ? 'https' : 'http'}://${address.address}:${address.port}, reading the ${store.type} table of sink "${store.sink}"`,
  );

  onShutdownSignal(logger, async () => {
    // Not ready first, so a load balancer stops sending while the answers under way finish.
    serving = false;
    await http.drain(config.dispatch.shutdownTimeout);
    await reader.close();
  });
}

/** The store `--role api` reads, or BEACON_E_ROLE_CONFIG saying why this config cannot run it. */
export function apiRoleStore(config: BeaconConfig): SqlStoreConfig {
  const store = config.store;
  if (store.type === 'postgres' || store.type === 'mysql' || store.type === 'clickhouse') return store;
  const why =
    store.type === 'embedded'
      ? 'the embedded store is a DuckDB file that only one process may open for writing, and `beacon start` (--role all) holds it'
      : 'store.type is none, so there is nothing to query';
  throw new BeaconError(
    'BEACON_E_ROLE_CONFIG',
    `--role api needs store.type postgres, mysql or clickhouse (got ${store.type}): ${why}. Point store at the table a postgres, mysql or clickhouse sink writes, or run --role all`,
    { field: 'store.type' },
  );
}
