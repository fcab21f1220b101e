import type { BeaconConfig } from '../config/schema.js';
import { adminFallback } from '../api/nodeAdapter.js';
import { createApi } from '../api/createApi.js';
import { createApiAuth } from '../api/auth.js';
import { liveAuthorizer } from '../api/liveAuth.js';
import { opsRoutes } from '../api/opsRoutes.js';
import { createLiveEndpoint, createLiveHub, LogFeed } from '../live/index.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import { createLogger } from '../ops/logger.js';
import { createMetrics, registryText } from '../ops/metrics.js';
import { onShutdownSignal } from '../ops/shutdown.js';
import { startIntakeSide } from './intakeSide.js';
import { startQueueSources } from './queueSources.js';
import { openConfiguredLog, refuseWorkersOnSharedLog, requireSharedLog } from './sharedLog.js';

/**
 * `beacon start --role collector`: the HTTP collector and the queue sources, appending to the
 * shared log; no dispatcher, no store. Besides intake it serves /healthz, /readyz, /metrics and
 * the /live stream (read from the shared log); the admin API is on the dispatchers.
 */
export async function runCollectorRole(config: BeaconConfig): Promise<void> {
  requireSharedLog(config, 'collector');
  refuseWorkersOnSharedLog(config, 'collector');
  const logger = createLogger(config.logging.level, { role: 'collector' });
  const metrics = createMetrics();
  const log = await openConfiguredLog(config, { metrics, logger, role: 'collector' });
  let serving = false;
  const api = createApi({
    api: config.api,
    host: config.server.host,
    trustProxy: config.server.trustProxy,
    routes: opsRoutes({
      metrics: async () => {
        const usage = log.usage();
        metrics.logBytes.set(usage.bytes);
        metrics.logMaxBytes.set(usage.maxBytes);
        return registryText(metrics.registry);
      },
      ready: () => serving,
    }),
    logger,
    registry: metrics.registry,
  });
  const live = createLiveEndpoint(createLiveHub(new LogFeed(log, logger), config.live, metrics), logger, liveAuthorizer(createApiAuth(config.api)));
  const queues = await startQueueSources({
    config,
    emit: async (events: TrackedEvent[]) => {
      await log.append(events);
      metrics.eventsAppended.inc(events.length);
    },
    logger,
    metrics,
  });
  const intake = await startIntakeSide({
    config,
    append: (events) => log.append(events),
    logger,
    metrics,
    // No web page here: it shows sink status, which lives on the dispatchers.
    fallback: adminFallback(api.handler, async () => false),
    onUpgrade: live.onUpgrade,
  });
  serving = true;
  logger.info(
    { port: intake.address.port, host: intake.address.address, log: config.log.type },
    `beacon collector listening on ${config.server.tls ? 'https' : 'http'}://${intake.address.address}:${intake.address.port}, appending to the shared log`,
  );

  onShutdownSignal(logger, async () => {
    // Not ready first, so a load balancer stops sending while the requests under way finish.
    serving = false;
    await live.close();
    await Promise.all([intake.drain(config.dispatch.shutdownTimeout), queues.stop()]);
    await log.close();
  });
}
