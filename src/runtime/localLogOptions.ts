import { join } from 'node:path';
import type { BeaconConfig } from '../config/schema.js';
import type { Metrics } from '../ops/metrics.js';

/** Where the local log lives and the options both its writer and reader sides take. */
export function localLogOptions(config: BeaconConfig, metrics: Metrics) {
  return {
    dir: join(config.dataDir, 'log'),
    maxBytes: config.log.maxBytes,
    segmentBytes: config.log.segmentBytes,
    cursorSyncMs: config.log.cursorSyncMs,
    retryAfterSeconds: config.log.retryAfterSeconds,
    onCorrupt: () => metrics.logCorruptRecords.inc(),
    onSync: (seconds: number) => metrics.logFsyncSeconds.observe(seconds),
  };
}
