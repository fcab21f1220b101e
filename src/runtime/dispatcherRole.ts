import type { BeaconConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import { createApiHttpServer } from '../api/apiHttpServer.js';
import { createLogger } from '../ops/logger.js';
import { createMetrics, registryText } from '../ops/metrics.js';
import { onShutdownSignal } from '../ops/shutdown.js';
import { startDeliverySide } from './deliverySide.js';
import { openConfiguredLog, requireSharedLog } from './sharedLog.js';

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
  const logger = createLogger(config.logging.level, { role: 'dispatcher' });
  const metrics = createMetrics();
  const log = await openConfiguredLog(config, { metrics, logger, role: 'dispatcher' });
  let serving = false;
  const delivery = await startDeliverySide({
    config,
    log,
    logger,
    metrics,
    metricsText: () => registryText(metrics.registry),
    intakeReady: () => serving,
  });
  const http = createApiHttpServer({
    server: config.server,
    handler: delivery.admin,
    logger,
    notFound: (path) => `no endpoint ${path} here: this process runs --role dispatcher (the admin and query API, /metrics, /readyz, /healthz); events go to a collector`,
  });
  const address = await http.listen(config.server.port, config.server.host);
  serving = true;
  logger.info(
    { port: address.port, host: address.address, sinks: config.sinks.map((s) => s.name), log: config.log.type },
    `beacon dispatcher delivering from the shared log; admin API on ${config.server.tls ? 'https' : 'http'}://${address.address}:${address.port}`,
  );

  onShutdownSignal(logger, async () => {
    serving = false;
    await http.drain(config.dispatch.shutdownTimeout);
    // Stops the loops, then closes the cursors: what this process held goes back to the others at once.
    await delivery.stop();
    await log.close();
  });
}
