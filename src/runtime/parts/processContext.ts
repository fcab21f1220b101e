import type { Logger } from 'pino';
import type { BeaconConfig } from '../../config/schema.js';
import { createLogger } from '../../ops/logger.js';
import { createMetrics, type Metrics } from '../../ops/metrics.js';
import { ProcessParts } from './processParts.js';

/** What every part of one process (or of its delivery thread) shares. */
export interface ProcessContext {
  config: BeaconConfig;
  logger: Logger;
  metrics: Metrics;
  parts: ProcessParts;
}

/**
 * The logger, metrics registry and part list of one process (or thread). `processMetrics: false`
 * leaves out the process-wide default series (CPU, RSS, handles) for a second thread of the
 * same process, whose registry is summed with the main thread's: they would count twice.
 */
export function createProcessContext(
  config: BeaconConfig,
  fields: Record<string, string>,
  options: { processMetrics?: boolean } = {},
): ProcessContext {
  const logger = createLogger(config.logging.level, fields);
  return {
    config,
    logger,
    metrics: createMetrics(undefined, { defaultMetrics: options.processMetrics ?? true }),
    parts: new ProcessParts(logger),
  };
}
