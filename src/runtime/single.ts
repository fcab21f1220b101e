import type { BeaconConfig } from '../config/schema.js';
import type { LoadOptions } from '../config/load.js';
import { createLogger } from '../ops/logger.js';
import { createMetrics, registryText } from '../ops/metrics.js';
import { onShutdownSignal } from '../ops/shutdown.js';
import { adminFallback } from '../api/nodeAdapter.js';
import { createApiAuth } from '../api/auth.js';
import { liveAuthorizer } from '../api/liveAuth.js';
import { createLiveEndpoint, createLiveHub, LogFeed } from '../live/index.js';
import { startDeliverySide } from './deliverySide.js';
import { startIntakeSide } from './intakeSide.js';
import { openConfiguredLog } from './sharedLog.js';
import { startQueueSources } from './queueSources.js';
import { onReloadSignal } from '../reload/index.js';

/** Every role in one process: collector, log (local partition p0, or the shared JetStream log), dispatcher, API and the live stream. */
export async function runSingleProcess(config: BeaconConfig, reloadFrom?: LoadOptions): Promise<void> {
  const logger = createLogger(config.logging.level, { role: 'all' });
  const metrics = createMetrics();
  const log = await openConfiguredLog(config, { metrics, logger, role: 'all' });
  let intakeReady = false;
  const delivery = await startDeliverySide({
    config,
    log,
    logger,
    metrics,
    metricsText: () => registryText(metrics.registry),
    intakeReady: () => intakeReady,
    reloadFrom,
  });
  const append = async (events: Parameters<typeof log.append>[0]) => {
    await log.append(events);
    metrics.eventsAppended.inc(events.length);
  };
  const queues = await startQueueSources({ config, emit: append, logger, metrics });
  const live = createLiveEndpoint(createLiveHub(new LogFeed(log, logger), config.live, metrics), logger, liveAuthorizer(createApiAuth(config.api)));
  const intake = await startIntakeSide({
    config,
    append: (events) => log.append(events),
    logger,
    metrics,
    fallback: adminFallback(delivery.admin),
    onUpgrade: live.onUpgrade,
  });
  intakeReady = true;
  logger.info(
    { port: intake.address.port, host: intake.address.address, dataDir: config.dataDir, sinks: config.sinks.map((s) => s.name), workers: 1 },
    `beacon listening on ${config.server.tls ? 'https' : 'http'}://${intake.address.address}:${intake.address.port}`,
  );

  const reloader = delivery.reloader;
  if (reloader) onReloadSignal(logger, () => reloader.reload('signal'));

  onShutdownSignal(logger, async () => {
    intakeReady = false;
    // Viewers first: their sockets would otherwise hold the HTTP drain open to its deadline.
    await live.close();
    await Promise.all([intake.drain(config.dispatch.shutdownTimeout), queues.stop()]);
    await delivery.stop();
    await log.close();
  });
}
