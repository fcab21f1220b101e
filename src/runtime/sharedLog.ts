import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { EventLog } from '../log/eventLog.js';
import { openJetStreamLog, type JetStreamLogConfig } from '../log/jetstream/index.js';
import { openLocalLog } from '../log/local/index.js';
import type { Metrics } from '../ops/metrics.js';
import { STORE_SINK_NAME } from '../store/index.js';
import { localLogOptions } from './localLogOptions.js';

/** The processes of a scaled deployment, each with its part of the pipeline. */
export type LogRole = 'all' | 'collector' | 'dispatcher';

/**
 * The durable cursors a config's dispatchers read: one per sink, and the embedded store's
 * internal sink. Every process opens the shared log with this list, so a sink's consumer exists
 * before the first event is appended (see JetStreamLogOptions.cursorNames).
 */
export function durableCursorNames(config: BeaconConfig): string[] {
  return [...config.sinks.map((s) => s.name), ...(config.store.type === 'embedded' ? [STORE_SINK_NAME] : [])];
}

/** Opens the log the config names, for a process that runs `role`. */
export async function openConfiguredLog(
  config: BeaconConfig,
  deps: { metrics: Metrics; logger: Logger; role: LogRole },
): Promise<EventLog> {
  const log = config.log;
  if (log.type === 'local') return openLocalLog(localLogOptions(config, deps.metrics));
  return openJetStreamLog({
    config: log,
    logger: deps.logger.child({ component: 'log' }),
    cursorNames: durableCursorNames(config),
    connectionName: `beacon-${deps.role}-${hostname()}-${process.pid}`,
    onCorrupt: () => deps.metrics.logCorruptRecords.inc(),
  });
}

/**
 * The shared log a `collector` or `dispatcher` process needs: they meet only through it, so a
 * log in one machine's files (`local`) cannot serve them.
 */
export function requireSharedLog(config: BeaconConfig, role: 'collector' | 'dispatcher'): JetStreamLogConfig {
  const log = config.log;
  if (log.type === 'jetstream') return log;
  throw new BeaconError(
    'BEACON_E_ROLE_CONFIG',
    `--role ${role} needs a log shared between processes, and log.type is ${log.type}: collectors and dispatchers meet only through the log, and the local log is files that one Beacon process owns. Set log.type: jetstream (log.servers, log.stream; see docs/log.md), or run everything in one process with --role all`,
    { field: 'log.type' },
  );
}

/**
 * On a shared log, one collector is one process: scale out by running more of them (behind
 * nginx), not with server.workers, whose extra processes exist to share the local log's files.
 */
export function refuseWorkersOnSharedLog(config: BeaconConfig, role: 'all' | 'collector'): void {
  const workers = config.server.workers;
  if (config.log.type === 'local' || workers === 'auto' || workers <= 1) return;
  throw new BeaconError(
    'BEACON_E_ROLE_CONFIG',
    `server.workers is ${workers}, but with log.type ${config.log.type} --role ${role} runs one process: start one \`beacon start --role collector\` per core instead (behind nginx, docs/deployment.md), and set server.workers to 1 or auto`,
    { field: 'server.workers' },
  );
}
