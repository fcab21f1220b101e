import { join } from 'node:path';
import type { BeaconConfig } from '../config/schema.js';
import type { Metrics } from '../ops/metrics.js';

/** Where the local log lives and the options both its writer and reader sides take. */
export function localLogOptions(config: BeaconConfig, metrics: Metrics) {
  const log = config.log;
  // The runtime only builds local-log processes for log.type local (src/runtime/run.ts routes the others).
  if (log.type !== 'local') throw new Error(`localLogOptions called with log.type ${log.type}`);
  return {
    dir: join(config.dataDir, 'log'),
    maxBytes: log.maxBytes,
    segmentBytes: log.segmentBytes,
    cursorSyncMs: log.cursorSyncMs,
    retryAfterSeconds: log.retryAfterSeconds,
    onCorrupt: () => metrics.logCorruptRecords.inc(),
    onSync: (seconds: number) => metrics.logFsyncSeconds.observe(seconds),
  };
}
