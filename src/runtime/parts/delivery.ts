import type { EventLog } from '../../log/eventLog.js';
import { Dispatcher } from '../../dispatch/index.js';
import { adminRoutes, type AdminDeps } from '../../api/adminRoutes.js';
import type { AdminHandler } from '../../api/adminRequest.js';
import { createApi } from '../../api/createApi.js';
import { DeadLetterView } from '../../api/deadLetterView.js';
import { opsRoutes } from '../../api/opsRoutes.js';
import type { ApiRoute } from '../../api/route.js';
import { throughputRoute } from '../../api/throughputRoute.js';
import { queryRoutes } from '../../api/query/routes.js';
import { systemClock } from '../../ops/clock.js';
import { openStore } from '../../store/index.js';
import { processSchemaSet } from '../../schemas/processSchemas.js';
import { ledgerReader, readIntakeTotals, type IntakeTotals } from '../../ops/ledgerTotals.js';
import { ThroughputHistory, startThroughputSampler } from '../../ops/throughputHistory.js';
import { VERSION } from '../../version.js';
import { ownIntakeCounters, startAlerts, type IntakeCounters } from '../../alerts/index.js';
import type { LoadOptions } from '../../config/load.js';
import { ConfigReloader, reloadRoute } from '../../reload/index.js';
import { part } from './part.js';
import type { ProcessContext } from './processContext.js';

/**
 * The parts that read the log: `store` (the embedded store, whose internal sink `_store` runs
 * beside the configured ones), `alerts`, and `delivery` (the dispatcher, one loop per sink, and
 * the admin and query API over it). They run in the single process (or its delivery thread),
 * the cluster primary, or a --role dispatcher process; each adds itself to `ctx.parts`.
 */
export interface Delivery {
  dispatcher: Dispatcher;
  admin: AdminHandler;
  /** Present when started with `reloadFrom`: re-reads the config and applies its sink changes (SIGHUP, POST /api/v1/reload). */
  reloader?: ConfigReloader;
}

export async function startDelivery(
  ctx: ProcessContext,
  options: {
    log: EventLog;
    /** Prometheus text for /metrics: this process's registry, or the aggregate with its collectors'. */
    metricsText: () => Promise<{ contentType: string; body: string }>;
    /** Intake takes requests (besides this process not stopping): its collectors listen, its HTTP server is up. */
    intakeReady: () => boolean;
    /** More API routes served beside the admin ones. */
    routes?: readonly ApiRoute[];
    /** Intake counts for the throughput history: this process's counters unless given (a reader apart from intake sums the reports it gets). */
    intakeTotals?: () => Promise<IntakeTotals> | IntakeTotals;
    /** Intake counters for the alert rules: this process's unless given. */
    alertIntake?: () => Promise<IntakeCounters>;
    /** How the config was loaded: given, the config can be reloaded (POST /api/v1/reload, and SIGHUP where the process wires it). */
    reloadFrom?: LoadOptions;
  },
): Promise<Delivery> {
  const { config, logger, metrics, parts } = ctx;
  const { log } = options;
  // Opened before the dispatcher: the embedded store's internal sink `_store` runs beside the configured ones.
  const store = await openStore(config, { logger, clock: systemClock, registry: metrics.registry });
  // Stops after the dispatcher: `_store` writes until its loop stops.
  parts.add(part('store', 'store', () => store.close()));
  const dispatcher = new Dispatcher({
    log,
    sinks: [
      ...config.sinks.map((sinkConfig) => ({ config: sinkConfig })),
      ...(store.internalSink ? [store.internalSink] : []),
    ],
    dispatch: config.dispatch,
    dataDir: config.dataDir,
    logger,
    metrics,
    schemas: processSchemaSet(config),
  });

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
    ? new ConfigReloader({
        loadOptions: options.reloadFrom,
        initial: config,
        sinks: dispatcher,
        logger,
        onApplied: (applied) => (deps.config = applied),
      })
    : undefined;
  const ops = opsRoutes({
    metrics: async () => {
      const usage = log.usage();
      metrics.logBytes.set(usage.bytes);
      metrics.logMaxBytes.set(usage.maxBytes);
      return options.metricsText();
    },
    ready: () => parts.ready && options.intakeReady(),
  });
  // Sampled here, beside the dispatcher, so delivered counts are this process's own.
  const throughput = new ThroughputHistory(dispatcher.status().map((s) => s.name));
  const api = createApi({
    api: config.api,
    host: config.server.host,
    corsOrigins: config.server.cors.origins,
    trustProxy: config.server.trustProxy,
    routes: [
      ...ops,
      ...adminRoutes(deps),
      throughputRoute(throughput),
      ...queryRoutes(store.reader, systemClock),
      ...(reloader ? [reloadRoute(reloader)] : []),
      ...(options.routes ?? []),
    ],
    logger,
    registry: metrics.registry,
  });
  // Beside the dispatcher: the rules read its sink states, the log's usage and the intake counters.
  // Built before any sink opens, so an unreadable channel file (an SMTP `ca`) stops start-up first.
  const alerts = await startAlerts({
    config,
    inputs: {
      sinks: () => dispatcher.status(),
      logUsage: () => log.usage(),
      intake: options.alertIntake ?? (() => ownIntakeCounters(metrics)),
    },
    logger,
    metrics,
    version: VERSION,
  });
  // Messages already queued get a short while to go out; shutdown is not held up for long by a slow mail server.
  if (alerts) parts.add(part('alerts', 'delivery', () => alerts.stop(Math.min(5000, config.dispatch.shutdownTimeout))));
  // After the API is built: a token whose environment variable is missing stops start-up before any sink opens.
  await dispatcher.start();
  const sampler = startThroughputSampler(
    throughput,
    ledgerReader(metrics, options.intakeTotals ?? (() => readIntakeTotals(metrics))),
  );
  parts.add(
    part('delivery', 'delivery', async () => {
      // A reload under way finishes first: it may be stopping or starting sinks.
      await reloader?.close();
      sampler.stop();
      await dispatcher.stop(config.dispatch.shutdownTimeout);
    }),
  );
  return { dispatcher, admin: api.handler, reloader };
}
