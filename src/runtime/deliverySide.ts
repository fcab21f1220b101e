import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { EventLog } from '../log/eventLog.js';
import type { Metrics } from '../ops/metrics.js';
import { Dispatcher, type DispatcherSink } from '../dispatch/index.js';
import { adminRoutes, type AdminDeps } from '../api/adminRoutes.js';
import type { AdminHandler } from '../api/adminRequest.js';
import { createApi } from '../api/createApi.js';
import { DeadLetterView } from '../api/deadLetterView.js';
import { opsRoutes } from '../api/opsRoutes.js';
import type { ApiRoute } from '../api/route.js';
import { throughputRoute } from '../api/throughputRoute.js';
import { queryRoutes } from '../api/query/routes.js';
import { systemClock } from '../ops/clock.js';
import { openStore } from '../store/index.js';
import { ledgerReader, readIntakeTotals, type IntakeTotals } from '../ops/ledgerTotals.js';
import { ThroughputHistory, startThroughputSampler } from '../ops/throughputHistory.js';
import { VERSION } from '../version.js';
import { ownIntakeCounters, startAlerts, type IntakeCounters } from '../alerts/index.js';
import type { LoadOptions } from '../config/load.js';
import { ConfigReloader, reloadRoute } from '../reload/index.js';

/**
 * The half of Beacon that reads the log: the dispatcher (one loop per sink) and the admin API
 * over it. Runs in the single process, or in the cluster primary (the live stream's log feed
 * is started beside it by the runtime: see single.ts and primary.ts).
 */
export interface DeliverySide {
  dispatcher: Dispatcher;
  admin: AdminHandler;
  /** Present when started with `reloadFrom`: re-reads the config and applies its sink changes (SIGHUP, POST /api/v1/reload). */
  reloader?: ConfigReloader;
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
  /** More API routes served beside the admin ones (the query API, the web page's data). */
  routes?: readonly ApiRoute[];
  /** Intake counts for the throughput history: this process's counters unless given (the cluster primary sums its collectors' reports). */
  intakeTotals?: () => Promise<IntakeTotals> | IntakeTotals;
  /** Intake counters for the alert rules: this process's unless given (the cluster primary sums its collectors'). */
  alertIntake?: () => Promise<IntakeCounters>;
  /** How the config was loaded: given, the config can be reloaded (POST /api/v1/reload, and SIGHUP where the runtime wires it). */
  reloadFrom?: LoadOptions;
}): Promise<DeliverySide> {
  const { config, log, logger, metrics } = options;
  // Opened before the dispatcher: the embedded store's internal sink `_store` runs beside the configured ones.
  const store = await openStore(config, { logger, clock: systemClock, registry: metrics.registry });
  const dispatcher = new Dispatcher({
    log,
    sinks: [...config.sinks.map((sinkConfig) => ({ config: sinkConfig as DispatcherSink['config'] })), ...(store.internalSink ? [store.internalSink] : [])],
    dispatch: config.dispatch,
    dataDir: config.dataDir,
    logger,
    metrics,
  });
  let stopping = false;

  const deps: AdminDeps = {
    config,
    version: VERSION,
    startedAt: Date.now(),
    sinkStatus: () => dispatcher.status(),
    logUsage: () => log.usage(),
    replay: async (sink, from) =>
      from.kind === 'dead-letter' ? dispatcher.replayDeadLetters(sink) : dispatcher.replayFromLog(sink, from),
    deadLetters: new DeadLetterView(config.dataDir),
  };
  const reloader = options.reloadFrom
    ? new ConfigReloader({ loadOptions: options.reloadFrom, initial: config, sinks: dispatcher, logger, onApplied: (applied) => (deps.config = applied) })
    : undefined;
  const ops = opsRoutes({
    metrics: async () => {
      const usage = log.usage();
      metrics.logBytes.set(usage.bytes);
      metrics.logMaxBytes.set(usage.maxBytes);
      return options.metricsText();
    },
    ready: () => !stopping && options.intakeReady(),
  });
  // Sampled here, beside the dispatcher, so delivered counts are this process's own.
  const throughput = new ThroughputHistory(dispatcher.status().map((s) => s.name));
  const api = createApi({
    api: config.api,
    host: config.server.host,
    trustProxy: config.server.trustProxy,
    routes: [...ops, ...adminRoutes(deps), throughputRoute(throughput), ...queryRoutes(store.reader, systemClock), ...(reloader ? [reloadRoute(reloader)] : []), ...(options.routes ?? [])],
    logger,
    registry: metrics.registry,
  });
  // Beside the dispatcher: the rules read its sink states, the log's usage and the intake counters.
  // Built before any sink opens, so an unreadable channel file (an SMTP `ca`) stops start-up first.
  const alerts = await startAlerts({
    config,
    inputs: { sinks: () => dispatcher.status(), logUsage: () => log.usage(), intake: options.alertIntake ?? (() => ownIntakeCounters(metrics)) },
    logger,
    metrics,
    version: VERSION,
  });
  // After the API is built: a token whose environment variable is missing stops start-up before any sink opens.
  await dispatcher.start();
  const sampler = startThroughputSampler(throughput, ledgerReader(metrics, options.intakeTotals ?? (() => readIntakeTotals(metrics))));

  return {
    dispatcher,
    admin: api.handler,
    reloader,
    async stop() {
      stopping = true;
      // A reload under way finishes first: it may be stopping or starting sinks.
      await reloader?.close();
      sampler.stop();
      // Messages already queued get a short while to go out; shutdown is not held up for long by a slow mail server.
      await Promise.all([alerts?.stop(Math.min(5000, config.dispatch.shutdownTimeout)), dispatcher.stop(config.dispatch.shutdownTimeout)]);
      // After the dispatcher: `_store` writes until its loop stops.
      await store.close();
    },
  };
}
