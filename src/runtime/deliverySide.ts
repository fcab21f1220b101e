import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { EventLog } from '../log/eventLog.js';
import type { Metrics } from '../ops/metrics.js';
import { Dispatcher, type DispatcherSink } from '../dispatch/index.js';
import { createAdminRoutes, type AdminDeps } from '../api/adminRoutes.js';
import type { AdminHandler } from '../api/adminRequest.js';
import { VERSION } from '../version.js';

/**
 * The half of Beacon that reads the log: the dispatcher (one loop per sink) and the admin API
 * over it. Runs in the single process, or in the cluster primary (the live stream's log feed
 * is started beside it by the runtime: see single.ts and primary.ts).
 */
export interface DeliverySide {
  dispatcher: Dispatcher;
  admin: AdminHandler;
  stop(): Promise<void>;
}

export async function startDeliverySide(options: {
  config: BeaconConfig;
  log: EventLog;
  logger: Logger;
  metrics: Metrics;
  /** Prometheus text for /metrics: this process's registry, or the cluster's aggregate. */
  metricsText: () => Promise<{ contentType: string; body: string }>;
  intakeReady: () => boolean;
}): Promise<DeliverySide> {
  const { config, log, logger, metrics } = options;
  const dispatcher = new Dispatcher({
    log,
    sinks: config.sinks.map((sinkConfig) => ({ config: sinkConfig as DispatcherSink['config'] })),
    dispatch: config.dispatch,
    dataDir: config.dataDir,
    logger,
    metrics,
  });
  await dispatcher.start();
  let stopping = false;

  const deps: AdminDeps = {
    config,
    version: VERSION,
    startedAt: Date.now(),
    sinkStatus: () => dispatcher.status(),
    logUsage: () => log.usage(),
    metrics: async () => {
      const usage = log.usage();
      metrics.logBytes.set(usage.bytes);
      metrics.logMaxBytes.set(usage.maxBytes);
      return options.metricsText();
    },
    ready: () => !stopping && options.intakeReady(),
    replay: async (sink, from) =>
      from.kind === 'dead-letter' ? dispatcher.replayDeadLetters(sink) : dispatcher.replayFromLog(sink, from),
  };

  return {
    dispatcher,
    admin: createAdminRoutes(deps),
    async stop() {
      stopping = true;
      await dispatcher.stop(config.dispatch.shutdownTimeout);
    },
  };
}
