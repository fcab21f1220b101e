import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { Clock } from '../ops/clock.js';
import { systemClock } from '../ops/clock.js';
import type { Metrics } from '../ops/metrics.js';
import { ALERT_EVENTS, AlertEvents } from './internalEvents.js';
import type { AlertChannel } from './channels/channel.js';
import { ChannelQueue } from './channels/channelQueue.js';
import { findChannelDefinition } from './channels/registry.js';
import { AlertEngine, type AlertInputs, type EngineRule } from './engine.js';
import { FiringStateFile } from './firingState.js';
import { findRuleDefinition } from './rules/registry.js';
import type { RuleContext } from './rules/rule.js';

export { AlertEngine, type AlertInputs, type FiringAlert } from './engine.js';
export { ownIntakeCounters, ownIntakeSnapshot, intakeCountersFrom, type MetricJson } from './intakeCounters.js';
export type { IntakeCounters } from './rules/rule.js';

/** Where this Beacon answers on its own host: what hints tell the operator to run. */
export function localUrl(server: BeaconConfig['server']): string {
  const host = ['0.0.0.0', '::', ''].includes(server.host)
    ? '127.0.0.1'
    : server.host.includes(':')
      ? `[${server.host}]`
      : server.host;
  return `${server.tls ? 'https' : 'http'}://${host}:${server.port}`;
}

export interface StartAlertsOptions {
  config: BeaconConfig;
  inputs: AlertInputs;
  logger: Logger;
  metrics: Metrics;
  version: string;
  clock?: Clock;
  /** Channels to use instead of the configured ones, by name (tests). */
  channels?: readonly AlertChannel[];
  /** Evaluate on a timer (the default); tests may drive `evaluate()` themselves. */
  autoStart?: boolean;
}

/**
 * Builds and starts the alert engine from `config.alerts`, in the process that runs the
 * dispatcher. Resolves undefined when no rule is configured.
 */
export async function startAlerts(options: StartAlertsOptions): Promise<AlertEngine | undefined> {
  const { config } = options;
  const alerts = config.alerts;
  if (alerts.rules.length === 0) return undefined;
  const logger = options.logger.child({ component: 'alerts' });
  const clock = options.clock ?? systemClock;
  const events = new AlertEvents(logger, options.metrics);
  const url = localUrl(config.server);
  const context: RuleContext = {
    baseUrl: url,
    cliUrlArgs: url === 'http://127.0.0.1:8290' ? '' : ` --url ${url}`,
    dataDir: config.dataDir,
    now: () => clock.now(),
  };

  const rules: EngineRule[] = alerts.rules.map((rule) => {
    const definition = findRuleDefinition(rule.type)!;
    return { config: rule, evaluator: definition.create(rule, context), readsIntake: definition.readsIntake };
  });

  const channels =
    options.channels ??
    alerts.channels.map((channel) => findChannelDefinition(channel.type)!.create(channel, { logger }));
  const retryFor = new Map(alerts.channels.map((c) => [c.name, c.retryFor]));
  const queues = new Map(
    channels.map((channel) => [
      channel.name,
      new ChannelQueue({ channel, retryForMs: retryFor.get(channel.name) ?? 600_000, clock, events }),
    ]),
  );

  const engine = new AlertEngine({
    rules,
    queues,
    inputs: options.inputs,
    evaluateEveryMs: alerts.evaluateEvery,
    renotifyAfterMs: alerts.renotifyAfter,
    state: new FiringStateFile(config.dataDir),
    events,
    logger,
    beacon: { version: options.version, host: hostname(), url },
    clock,
  });
  await engine.restore(config.sinks.map((s) => s.name));
  if (options.autoStart !== false) engine.start();
  ALERT_EVENTS.alertsStarted.emit(
    { logger },
    { rules: rules.map((r) => r.config.name), channels: [...queues.keys()], evaluateEveryMs: alerts.evaluateEvery },
  );
  return engine;
}
