import { Registry, collectDefaultMetrics } from 'prom-client';
import type { BeaconConfig } from '../config/schema.js';
import type { LoadOptions } from '../config/load.js';
import { BeaconError } from '../errors/beaconError.js';
import { adminFallback } from '../api/nodeAdapter.js';
import { createApi } from '../api/createApi.js';
import { opsRoutes } from '../api/opsRoutes.js';
import { queryRoutes } from '../api/query/routes.js';
import { registryText } from '../ops/metrics.js';
import { systemClock } from '../ops/clock.js';
import { openSqlStoreReader, type SqlStoreConfig } from '../store/sql/index.js';
import { createProcessContext } from './parts/processContext.js';
import { startDelivery } from './parts/delivery.js';
import { logListening, startIntake } from './parts/intake.js';
import { startLiveOverLog } from './parts/live.js';
import { startApiServer } from './parts/apiServer.js';
import { logPart } from './parts/log.js';
import { part } from './parts/part.js';
import { serve } from './parts/signals.js';
import { openConfiguredLog, refuseWorkersOnSharedLog, requireSharedLog } from './sharedLog.js';

/**
 * Every process shape, as a choice of parts (src/runtime/parts/; their stop order is
 * parts/part.ts's STOP_STAGES, the same for all):
 *
 *   shape                          parts
 *   all, one thread (this file)    log, store, alerts, delivery, live, intake (+ queue sources)
 *   all, delivery thread           main: log writer, live (linked), intake; thread: log reader,
 *                                  store, alerts, delivery, live fan-out (deliveryThread*.ts)
 *   all, cluster primary           log reader, store, alerts, delivery, live fan-out, collectors (primary.ts)
 *   all, cluster collector         log writer (its partition), live (linked), intake (collectorWorker.ts)
 *   --role collector               shared log, live, intake (+ queue sources)
 *   --role dispatcher              shared log, store (none or server), alerts, delivery, api
 *   --role api                     store reader, api
 */

/** Every part in one process and one thread: collector, log, dispatcher, store, API and the live stream. */
export async function runSingleThread(config: BeaconConfig, reloadFrom?: LoadOptions): Promise<void> {
  const ctx = createProcessContext(config, { role: 'all' });
  const { parts, metrics, logger } = ctx;
  const log = await openConfiguredLog(config, { metrics, logger, role: 'all' });
  parts.add(logPart(log));
  const delivery = await startDelivery(ctx, {
    log,
    metricsText: () => registryText(metrics.registry),
    intakeReady: () => true,
    reloadFrom,
  });
  const live = parts.add(startLiveOverLog(ctx, log));
  const intake = parts.add(
    await startIntake(ctx, {
      append: (events) => log.append(events),
      recoveredIds: () => log.takeRecoveredIds?.() ?? [],
      fallback: adminFallback(delivery.admin),
      onUpgrade: live.onUpgrade,
      queues: true,
    }),
  );
  serve(ctx, delivery.reloader && (() => delivery.reloader!.reload('signal')));
  logListening(ctx, intake, false);
}

/**
 * `beacon start --role collector`: the HTTP collector and the queue sources, appending to the
 * shared log; no dispatcher, no store. Besides intake it serves /healthz, /readyz, /metrics and
 * the /live stream (read from the shared log); the admin API is on the dispatchers.
 */
export async function runCollectorRole(config: BeaconConfig): Promise<void> {
  requireSharedLog(config, 'collector');
  refuseWorkersOnSharedLog(config, 'collector');
  const ctx = createProcessContext(config, { role: 'collector' });
  const { parts, metrics, logger } = ctx;
  const log = await openConfiguredLog(config, { metrics, logger, role: 'collector' });
  parts.add(logPart(log));
  const api = createApi({
    api: config.api,
    host: config.server.host,
    corsOrigins: config.server.cors.origins,
    trustProxy: config.server.trustProxy,
    routes: opsRoutes({
      metrics: async () => {
        const usage = log.usage();
        metrics.logBytes.set(usage.bytes);
        metrics.logMaxBytes.set(usage.maxBytes);
        return registryText(metrics.registry);
      },
      ready: () => parts.ready,
    }),
    logger,
    registry: metrics.registry,
  });
  const live = parts.add(startLiveOverLog(ctx, log));
  const intake = parts.add(
    await startIntake(ctx, {
      append: (events) => log.append(events),
      recoveredIds: () => log.takeRecoveredIds?.() ?? [],
      // No web page here: it shows sink status, which lives on the dispatchers.
      fallback: adminFallback(api.handler, async () => false),
      onUpgrade: live.onUpgrade,
      queues: true,
    }),
  );
  serve(ctx);
  logger.info(
    { port: intake.address.port, host: intake.address.address, log: config.log.type },
    `beacon collector listening on ${config.server.tls ? 'https' : 'http'}://${intake.address.address}:${intake.address.port}, appending to the shared log`,
  );
}

/**
 * `beacon start --role dispatcher`: one delivery loop per sink over the shared log, and the
 * admin and query API, /metrics, /readyz and /healthz on `server.port` (no collector there).
 * Every dispatcher binds to each sink's durable consumer, so several dispatchers split the
 * events, and when one dies the events it held go to the others after `log.ackWait`.
 */
export async function runDispatcherRole(config: BeaconConfig): Promise<void> {
  requireSharedLog(config, 'dispatcher');
  if (config.store.type === 'embedded') {
    throw new BeaconError(
      'BEACON_E_ROLE_CONFIG',
      "--role dispatcher cannot feed store.type embedded: that store is a DuckDB file of this process, and dispatchers share each sink's events, so each one's store would hold only the events it happened to deliver. Set store.type to postgres, mysql or clickhouse (a sink of that type writes it; --role api serves it) or to none",
      { field: 'store.type' },
    );
  }
  const ctx = createProcessContext(config, { role: 'dispatcher' });
  const { parts, metrics, logger } = ctx;
  // Stopped last: the loops stop first, then the cursors close, so what this process held goes back to the others at once.
  const log = await openConfiguredLog(config, { metrics, logger, role: 'dispatcher' });
  parts.add(logPart(log));
  const delivery = await startDelivery(ctx, {
    log,
    metricsText: () => registryText(metrics.registry),
    intakeReady: () => true,
  });
  const api = parts.add(
    await startApiServer(
      ctx,
      delivery.admin,
      (path) =>
        `no endpoint ${path} here: this process runs --role dispatcher (the admin and query API, /metrics, /readyz, /healthz); events go to a collector`,
    ),
  );
  serve(ctx);
  logger.info(
    { port: api.address.port, host: api.address.address, sinks: config.sinks.map((s) => s.name), log: config.log.type },
    `beacon dispatcher delivering from the shared log; admin API on ${config.server.tls ? 'https' : 'http'}://${api.address.address}:${api.address.port}`,
  );
}

/**
 * `beacon start --role api`: only the API over a server store, the read-only API servers of
 * the Casper-Metrics layout (several behind a load balancer, reading replicas). No collector,
 * no log, no dispatcher, nothing written: the query routes, /metrics, /readyz and /healthz.
 */
export async function runApiRole(config: BeaconConfig): Promise<void> {
  const store = apiRoleStore(config);
  // A registry of its own: the collector's and dispatcher's series would only ever read 0 here.
  const ctx = createProcessContext(config, { role: 'api' }, { processMetrics: false });
  const { parts, logger } = ctx;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'beacon_' });
  const reader = openSqlStoreReader(store, { sinks: config.sinks, logger, registry });
  parts.add(part('store', 'store', () => reader.close()));
  const api = createApi({
    api: config.api,
    host: config.server.host,
    corsOrigins: config.server.cors.origins,
    routes: [
      ...opsRoutes({ metrics: () => registryText(registry), ready: () => parts.ready }),
      ...queryRoutes(reader, systemClock),
    ],
    logger,
    registry,
    trustProxy: config.server.trustProxy,
  });
  const http = parts.add(await startApiServer(ctx, api.handler));
  serve(ctx);
  logger.info(
    { port: http.address.port, host: http.address.address, store: store.type, storeSink: store.sink },
    `beacon API listening on ${config.server.tls ? 'https' : 'http'}://${http.address.address}:${http.address.port}, reading the ${store.type} table of sink "${store.sink}"`,
  );
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
